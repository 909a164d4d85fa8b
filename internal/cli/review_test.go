package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/audit"
	"github.com/safehub/safehub/internal/config"
	"github.com/safehub/safehub/internal/setup"
)

// Exit codes as documented: 0 ok, 1 findings/refused/not active, 2 usage or I/O.
func TestReviewExitCodes(t *testing.T) {
	dir := t.TempDir()
	safe := filepath.Join(dir, "model.safetensors")
	mustWrite(t, safe, safetensorsFile())
	// A pickle whose GLOBAL is os.system, built as bytes and never loaded.
	evil := filepath.Join(dir, "evil.pkl")
	mustWrite(t, evil, []byte("\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."))
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"version"}, 0},
		{[]string{"scan", safe}, 0},
		{[]string{"scan", evil}, 1},
		{[]string{"scan", filepath.Join(dir, "missing")}, 2},
		{[]string{"scan"}, 2},
		{[]string{"policy", "explain", "gpt2", "pytorch_model.bin"}, 1},
		{[]string{"policy", "explain", "gpt2", "model.safetensors"}, 0},
		{[]string{"policy", "check", filepath.Join(dir, "missing.yaml")}, 2},
		{[]string{"serve", "--listen", "nope"}, 2},
		{[]string{"serve", "--config", filepath.Join(dir, "missing.yaml")}, 2},
		{[]string{"cache", "ls", "--cache-dir", filepath.Join(dir, "nocache")}, 2},
		{[]string{"audit", "tail", "--log", filepath.Join(dir, "nolog")}, 2},
		{[]string{"setup", "--undo", "--root", dir}, 2},
		{[]string{"setup", "--guard-mode", "bogus", "--root", dir}, 2},
		{[]string{"nosuchcommand"}, 2},
	} {
		code, _, stderr := runMain(t, c.args...)
		if code != c.want {
			t.Errorf("safehub %s: exit %d, want %d (stderr %q)", strings.Join(c.args, " "), code, c.want, stderr)
		}
		if c.want == 2 && !strings.HasPrefix(stderr, "safehub:") {
			t.Errorf("safehub %s: stderr %q should start with 'safehub:'", strings.Join(c.args, " "), stderr)
		}
	}
}

// A misspelt subcommand is a usage error (exit 2), as it is for the top
// level. Cobra prints the parent's help and returns nil for a command
// without Run, so `safehub guard instal ...` exits 0 having done nothing: a
// script or apt hook ("safehub guard install ... || true") cannot tell.
func TestReview_MisspeltSubcommandExitsTwo(t *testing.T) {
	for _, args := range [][]string{
		{"guard", "instal", "--python", "/usr/bin/python3"},
		{"audit", "tial"},
		{"policy", "chek", "x.yaml"},
	} {
		code, _, _ := runMain(t, args...)
		if code != ExitError {
			t.Errorf("safehub %s: exit %d, want %d (unknown subcommand)", strings.Join(args, " "), code, ExitError)
		}
	}
}

// `safehub audit tail|summary` with no --log must find the log the service
// that `safehub setup` installs writes; the admin guide runs them so.
func TestReview_AuditDefaultPathIsWhereSetupsServiceWrites(t *testing.T) {
	if audit.DefaultPath != setup.ServiceAuditLog {
		t.Errorf("safehub audit reads %s by default, but setup's config writes the log to %s: "+
			"`safehub audit summary` (docs/admin-guide.md §3) finds no log on a server set up with safehub setup",
			audit.DefaultPath, setup.ServiceAuditLog)
	}
}

// `safehub serve` with only --config takes every value from the file: the
// flags' defaults must not undo it.
func TestReviewServeFlagsDoNotUndoConfigFile(t *testing.T) {
	t.Setenv(config.EnvListen, "")
	t.Setenv(config.EnvUpstream, "")
	p := filepath.Join(t.TempDir(), "c.yaml")
	mustWrite(t, p, []byte("listen: 127.0.0.1:7101\nupstream: https://hub.example\ncache_dir: /srv/c\nadmin_listen: 127.0.0.1:7102\n"+
		"audit_log:\n  path: /var/log/x.jsonl\n  max_files: 5\n"))
	cmd := newServeCmd()
	if err := cmd.ParseFlags([]string{"--config", p}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Resolve(p, cmd.Flags())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7101" || cfg.Upstream != "https://hub.example" || cfg.CacheDir != "/srv/c" ||
		cfg.AdminListen != "127.0.0.1:7102" || cfg.AuditLog.Path != "/var/log/x.jsonl" || cfg.AuditLog.MaxFiles != 5 {
		t.Errorf("serve's flags undid the config file: %+v", cfg)
	}
}

// The config key audit_log.max_files and serve's --audit-log-max-files must
// mean one thing. The admin guide and config's defaults say "rotated files
// kept"; the flag's help and the audit package say "files in all, the live
// one included"; and a value of 1 passes config validation but stops serve.
func TestReview_AuditMaxFilesOneStopsServeAfterPassingPolicyCheck(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	logPath := filepath.Join(dir, "audit.jsonl")
	mustWrite(t, p, []byte("listen: 127.0.0.1:0\ncache_dir: "+filepath.Join(dir, "cache")+"\naudit_log:\n  path: "+logPath+"\n  max_files: 1\n"))
	code, _, _ := runMain(t, "policy", "check", p)
	cfg, err := config.Resolve(p, nil)
	if err != nil { // the config itself is refused: check and serve agree
		if code == 0 {
			t.Errorf("policy check says %s is ok, but serve refuses it: %v", p, err)
		}
		return
	}
	l, openErr := audit.Open(cfg.AuditLog.Path, int64(cfg.AuditLog.MaxSize), cfg.AuditLog.MaxFiles)
	if openErr == nil {
		l.Close()
	}
	if code == 0 && openErr != nil {
		t.Errorf("policy check says %s is ok, but serve would stop at start-up: %v", p, openErr)
	}
}

// Every command's --help has examples.
func TestReviewEveryCommandHasExamples(t *testing.T) {
	root := NewRootCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Example == "" {
			t.Errorf("safehub %s --help has no examples", c.Name())
		}
		for _, s := range c.Commands() {
			if s.Example == "" {
				t.Errorf("safehub %s %s --help has no examples", c.Name(), s.Name())
			}
		}
	}
}

package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const fullConfig = `# every key
listen: 0.0.0.0:8080
upstream: https://hub.example.org
cache_dir: /var/cache/safehub
cache_max: 500G
policy: /etc/safehub/policy.yaml
admin_listen: 127.0.0.1:9090
audit_log:
  path: /var/log/safehub/audit.jsonl
  max_size: 64M
  max_files: 5
`

func TestLoadEveryKey(t *testing.T) {
	c, err := Load(writeFile(t, "c.yaml", fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Listen: "0.0.0.0:8080", Upstream: "https://hub.example.org", CacheDir: "/var/cache/safehub",
		CacheMax: 500 << 30, Policy: "/etc/safehub/policy.yaml", AdminListen: "127.0.0.1:9090",
		AuditLog: AuditLog{Path: "/var/log/safehub/audit.jsonl", MaxSize: 64 << 20, MaxFiles: 5}}
	c.Source, c.lines = "", nil
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("got %+v\nwant %+v", *c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyFileGivesDefaults(t *testing.T) {
	c, err := Parse([]byte("# nothing yet\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Upstream != DefaultUpstream || c.AuditLog.MaxFiles != DefaultAuditMaxFiles {
		t.Fatalf("defaults not kept: %+v", c)
	}
}

func TestPartialFileKeepsOtherDefaults(t *testing.T) {
	c, err := Parse([]byte("audit_log:\n  path: /x/audit.jsonl\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.AuditLog.MaxSize != DefaultAuditMaxSize || c.Listen != DefaultListen {
		t.Fatalf("a nested key reset the defaults: %+v", c)
	}
}

// Every problem of a file comes back at once, each with its line.
func TestErrorsHaveLineNumbers(t *testing.T) {
	src := "listen: 127.0.0.1:8080\nupstrem: https://x\ncache_max: lots\naudit_log:\n  max_file: 3\n  max_size: [1]\n"
	_, err := Parse([]byte(src), "c.yaml")
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %T %v", err, err)
	}
	got := err.Error()
	for _, want := range []string{
		`c.yaml:2: unknown key "upstrem" at the top level (did you mean "upstream"?)`,
		`c.yaml:3: "lots" is not a size such as 500G`,
		`c.yaml:5: unknown key "max_file" in audit_log (did you mean "max_files"?)`,
		`c.yaml:6: expected a size such as 500G, got a list`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(es) != 4 {
		t.Errorf("want 4 errors, got %d:\n%s", len(es), got)
	}
}

func TestSyntaxAndTypeErrors(t *testing.T) {
	for src, want := range map[string]string{
		"listen: [\n":                  "c.yaml:",
		"listen: a\nlisten: b\n":       `key "listen" appears twice (first at line 1)`,
		"audit_log:\n  max_files: x\n": `c.yaml:2: expected a whole number, got "x"`,
		"- a\n- b\n":                   "expected a mapping of config keys",
		"listen: a\n---\nlisten: b\n":  "only one YAML document",
	} {
		_, err := Parse([]byte(src), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want error containing %q, got %v", src, want, err)
		}
	}
}

func TestValidatePointsAtLines(t *testing.T) {
	src := "listen: 8080\nupstream: ftp://x\nadmin_listen: 127.0.0.1:8080\naudit_log:\n  max_size: 10K\n  max_files: -1\n"
	c, err := Parse([]byte(src), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("invalid values passed")
	}
	got := err.Error()
	for _, want := range []string{
		`c.yaml:1: listen: "8080" is not host:port`,
		`c.yaml:2: upstream: "ftp://x": only http and https`,
		`c.yaml:5: audit_log.max_size: 10K is too small`,
		`c.yaml:6: audit_log.max_files: -1 is out of range`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestAdminListenMustDiffer(t *testing.T) {
	c := Defaults()
	c.Listen, c.AdminListen = "0.0.0.0:8080", "127.0.0.1:8080"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "must differ from listen") {
		t.Fatalf("same port accepted: %v", err)
	}
	c.AdminListen = "127.0.0.1:9090"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestUpstreamCredentialsRefusedAndRedacted(t *testing.T) {
	c := Defaults()
	c.Upstream = "https://user:hf_secret@hub.example.org"
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "hf_secret") || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("want a redacted credentials error, got %v", err)
	}
}

// Order: defaults < file < environment < flags.
func TestLayering(t *testing.T) {
	c, err := Parse([]byte("listen: 127.0.0.1:1111\nupstream: https://file.example\ncache_max: 1G\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.applyEnv(func(k string) string {
		return map[string]string{EnvListen: "127.0.0.1:2222", EnvUpstream: ""}[k]
	})
	if c.Listen != "127.0.0.1:2222" || c.Upstream != "https://file.example" {
		t.Fatalf("env layer wrong: %+v", c)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("listen", "127.0.0.1:8080", "")
	fs.String("upstream", "https://huggingface.co", "")
	fs.String("cache-max", "", "")
	fs.String("audit-log", "", "")
	fs.String("unrelated", "", "")
	if err := fs.Parse([]string{"--listen", "127.0.0.1:3333", "--audit-log", "/var/log/a.jsonl", "--unrelated", "x"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyFlags(fs); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:3333" {
		t.Errorf("flag did not win: %s", c.Listen)
	}
	if c.Upstream != "https://file.example" {
		t.Errorf("an unset flag's default overrode the file: %s", c.Upstream)
	}
	if c.CacheMax != 1<<30 || c.AuditLog.Path != "/var/log/a.jsonl" {
		t.Errorf("got %+v", c)
	}
	if c.Line("listen") != 0 {
		t.Errorf("a value from a flag is still blamed on the file's line %d", c.Line("listen"))
	}
}

func TestApplyOverridesRejectsBadValues(t *testing.T) {
	c := Defaults()
	err := c.ApplyOverrides(map[string]string{"cache-max": "huge", "audit-log-max-files": "two"})
	if err == nil || !strings.Contains(err.Error(), "--cache-max") || !strings.Contains(err.Error(), "--audit-log-max-files") {
		t.Fatalf("got %v", err)
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[string]Size{"": 0, "0": 0, "1024": 1024, "1k": 1 << 10, "500G": 500 << 30,
		"20GiB": 20 << 30, "1T": 1 << 40, "2MB": 2 << 20} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "G", "1.5G", "9999999P", "12X"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if s := Size(500 << 30).String(); s != "500G" {
		t.Errorf("String = %s", s)
	}
	if s := Size(1000).String(); s != "1000" {
		t.Errorf("String = %s", s)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte("mode: audit\nrulez: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "c.yaml", "policy: "+pol+"\n")
	err := Check(cfg)
	if err == nil || !strings.Contains(err.Error(), "policy.yaml:2") {
		t.Fatalf("a bad policy file named by the config passed: %v", err)
	}
	if err := os.WriteFile(pol, []byte("mode: audit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Check(cfg); err != nil {
		t.Fatal(err)
	}
	missing := writeFile(t, "m.yaml", "listen: 127.0.0.1:8080\nupstream: "+filepath.Join(dir, "no-such-mirror")+"\n")
	if err := Check(missing); err == nil || !strings.Contains(err.Error(), "m.yaml:2: upstream") {
		t.Fatalf("missing mirror folder passed: %v", err)
	}
	if err := Check(filepath.Join(dir, "absent.yaml")); err == nil {
		t.Fatal("missing config passed")
	}
}

// The shipped examples must stay valid.
func TestExamplesParse(t *testing.T) {
	files, _ := filepath.Glob("../../examples/config/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples/config/*.yaml found")
	}
	for _, f := range files {
		c, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Setenv(EnvUpstream, "https://env.example")
	t.Setenv(EnvListen, "")
	p := writeFile(t, "c.yaml", "listen: 127.0.0.1:1111\nupstream: https://file.example\n")
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("listen", DefaultListen, "")
	if err := fs.Parse([]string{"--listen", "127.0.0.1:2222"}); err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(p, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:2222" || c.Upstream != "https://env.example" || c.Source != p {
		t.Fatalf("got %+v", c)
	}
	bad := writeFile(t, "bad.yaml", "listen: nope\n")
	if _, err := Resolve(bad, nil); err == nil || !strings.Contains(err.Error(), "bad.yaml:1: listen") {
		t.Fatalf("invalid file resolved: %v", err)
	}
}

func TestIsConfigFile(t *testing.T) {
	for src, want := range map[string]bool{
		fullConfig:                 true,
		"listen: 127.0.0.1:8080\n": true,
		"mode: audit\nrules: []\n": false,
		"listen: x\nmode: audit\n": false,
		"":                         false,
		"- a\n":                    false,
	} {
		if got := isConfigData([]byte(src)); got != want {
			t.Errorf("isConfigData(%q) = %v", src, got)
		}
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// serveFlags mirrors the flags `safehub serve` defines, with its defaults:
// only the flags given on the command line may override the file.
func serveFlags() *pflag.FlagSet {
	f := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f.String("listen", DefaultListen, "")
	f.String("upstream", DefaultUpstream, "")
	f.String("cache-dir", DefaultCacheDir(), "")
	f.String("cache-max", "", "")
	f.String("policy", "", "")
	f.String("admin-listen", "", "")
	f.String("audit-log", "", "")
	f.String("audit-log-max-size", "", "")
	f.Int("audit-log-max-files", 0, "")
	return f
}

func writeReviewConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	err := os.WriteFile(p, []byte(`listen: 127.0.0.1:7001
upstream: https://file.example
cache_dir: /srv/cache
cache_max: 2G
policy: /etc/safehub/p.yaml
admin_listen: 127.0.0.1:7002
audit_log:
  path: /var/log/safehub/a.jsonl
  max_size: 5M
  max_files: 4
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// defaults < file < env < flags, with serve's flag defaults never undoing the file.
func TestReviewPrecedence(t *testing.T) {
	path := writeReviewConfig(t)
	t.Setenv(EnvListen, "")
	t.Setenv(EnvUpstream, "")

	fs := serveFlags()
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(path, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7001" || c.Upstream != "https://file.example" || c.CacheDir != "/srv/cache" ||
		c.CacheMax != 2<<30 || c.Policy != "/etc/safehub/p.yaml" || c.AdminListen != "127.0.0.1:7002" ||
		c.AuditLog.Path != "/var/log/safehub/a.jsonl" || c.AuditLog.MaxSize != 5<<20 || c.AuditLog.MaxFiles != 4 {
		t.Errorf("file values not honoured with no flags: %+v", c)
	}

	t.Setenv(EnvListen, "127.0.0.1:7003")
	t.Setenv(EnvUpstream, "https://env.example")
	c, err = Resolve(path, serveFlags())
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7003" || c.Upstream != "https://env.example" || c.CacheDir != "/srv/cache" {
		t.Errorf("env should override the file: %+v", c)
	}

	fs = serveFlags()
	if err := fs.Parse([]string{"--listen", "127.0.0.1:7004", "--audit-log-max-files", "7", "--cache-max", "1G"}); err != nil {
		t.Fatal(err)
	}
	c, err = Resolve(path, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7004" || c.Upstream != "https://env.example" || c.AuditLog.MaxFiles != 7 || c.CacheMax != 1<<30 {
		t.Errorf("flags should override env and file: %+v", c)
	}
}

// A flag given explicitly with the same value as its default still wins
// over the file (Visit sees it as set).
func TestReviewExplicitDefaultFlagOverridesFile(t *testing.T) {
	path := writeReviewConfig(t)
	t.Setenv(EnvListen, "")
	fs := serveFlags()
	fs.Parse([]string{"--listen", DefaultListen})
	c, err := Resolve(path, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen {
		t.Errorf("listen = %s, want the flag's %s", c.Listen, DefaultListen)
	}
}

// Errors name the file and line; a misspelt key is refused.
func TestReviewBadFileErrorsHaveLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("listen: 127.0.0.1:8080\nlistn: x\n"), 0o644)
	_, err := Resolve(p, nil)
	if err == nil || !strings.Contains(err.Error(), ":2") {
		t.Errorf("misspelt key: %v", err)
	}
	os.WriteFile(p, []byte("listen: 127.0.0.1:8080\nadmin_listen: 0.0.0.0:8080\n"), 0o644)
	_, err = Resolve(p, nil)
	if err == nil || !strings.Contains(err.Error(), "admin_listen") {
		t.Errorf("admin on the gateway's port: %v", err)
	}
}

// A missing --config file is an error, not a silent fall back to defaults.
func TestReviewMissingConfigIsError(t *testing.T) {
	if _, err := Resolve(filepath.Join(t.TempDir(), "nope.yaml"), nil); err == nil {
		t.Error("Resolve of a missing file succeeded")
	}
}

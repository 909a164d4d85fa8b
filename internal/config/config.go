// Package config reads safehub's YAML config file: everything `safehub
// serve` takes, in one place an admin (or `safehub setup`) can keep under
// /etc/safehub.
//
// Values are layered, each layer overriding the one before: typed defaults,
// then the file, then the environment (SAFEHUB_LISTEN, SAFEHUB_UPSTREAM),
// then flags given on the command line. Validate runs once at the end so
// that a bad value fails at start-up, whichever layer it came from.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultPath is where `safehub serve` looks for a config file when no
// --config is given; a missing file there is not an error.
const DefaultPath = "/etc/safehub/config.yaml"

// Defaults that match `safehub serve`'s flags.
const (
	DefaultListen        = "127.0.0.1:8080"
	DefaultUpstream      = "https://huggingface.co"
	DefaultAuditMaxSize  = 100 << 20 // 100 MiB per file
	DefaultAuditMaxFiles = 10        // files kept in all, the live one included
)

// Config is everything `safehub serve` takes. The zero value is not useful;
// start from Defaults or Load.
type Config struct {
	Listen      string   `yaml:"listen"`
	Upstream    string   `yaml:"upstream"`  // http(s) URL, or a mirror folder
	CacheDir    string   `yaml:"cache_dir"` // verified blob cache
	CacheMax    Size     `yaml:"cache_max"` // 0: no cap
	Policy      string   `yaml:"policy"`    // policy file; "" is the built-in default
	AdminListen string   `yaml:"admin_listen"`
	AuditLog    AuditLog `yaml:"audit_log"`

	// Source is the file the values came from ("" for defaults only).
	Source string `yaml:"-"`
	// lines maps a dotted key ("audit_log.max_size") to its line in Source,
	// so that Validate can point at the line to fix.
	lines map[string]int
}

// AuditLog configures the JSON-lines audit log. An empty Path turns it off.
type AuditLog struct {
	Path     string `yaml:"path"`
	MaxSize  Size   `yaml:"max_size"`  // rotate when the live file passes this
	MaxFiles int    `yaml:"max_files"` // files kept in all, the live one included
}

// Defaults returns the built-in values, the same as serve's flag defaults.
func Defaults() *Config {
	return &Config{
		Listen:   DefaultListen,
		Upstream: DefaultUpstream,
		CacheDir: DefaultCacheDir(),
		AuditLog: AuditLog{MaxSize: DefaultAuditMaxSize, MaxFiles: DefaultAuditMaxFiles},
	}
}

// DefaultCacheDir is the user's cache folder plus "safehub" (root:
// /root/.cache/safehub), or "" when the user has none. serve computes the
// same default; this package cannot import the cli package to share it.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "safehub")
	}
	return ""
}

// Environment variables that override the file (and are overridden by flags).
const (
	EnvListen   = "SAFEHUB_LISTEN"
	EnvUpstream = "SAFEHUB_UPSTREAM"
)

// ApplyEnv overrides values with SAFEHUB_LISTEN and SAFEHUB_UPSTREAM when
// they are set and not empty.
func (c *Config) ApplyEnv() {
	c.applyEnv(os.Getenv)
}

func (c *Config) applyEnv(getenv func(string) string) {
	if v := getenv(EnvListen); v != "" {
		c.Listen = v
		delete(c.lines, "listen") // the file's line is no longer the one to blame
	}
	if v := getenv(EnvUpstream); v != "" {
		c.Upstream = v
		delete(c.lines, "upstream")
	}
}

// FlagKeys maps serve's flag names to config keys. ApplyOverrides accepts
// either spelling.
var FlagKeys = map[string]string{
	"listen":              "listen",
	"upstream":            "upstream",
	"cache-dir":           "cache_dir",
	"cache-max":           "cache_max",
	"policy":              "policy",
	"admin-listen":        "admin_listen",
	"audit-log":           "audit_log.path",
	"audit-log-max-size":  "audit_log.max_size",
	"audit-log-max-files": "audit_log.max_files",
}

// ApplyOverrides sets values given explicitly on the command line, as
// flag name (or config key) -> value. Only flags the user actually set
// belong here, so that a flag's default does not undo the file.
func (c *Config) ApplyOverrides(values map[string]string) error {
	var errs []error
	for name, v := range values {
		key := name
		if k, ok := FlagKeys[name]; ok {
			key = k
		}
		if err := c.set(key, v); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
			continue
		}
		delete(c.lines, key)
	}
	return errors.Join(errs...)
}

func (c *Config) set(key, v string) error {
	switch key {
	case "listen":
		c.Listen = v
	case "upstream":
		c.Upstream = v
	case "cache_dir":
		c.CacheDir = v
	case "cache_max":
		return c.CacheMax.Set(v)
	case "policy":
		c.Policy = v
	case "admin_listen":
		c.AdminListen = v
	case "audit_log.path":
		c.AuditLog.Path = v
	case "audit_log.max_size":
		return c.AuditLog.MaxSize.Set(v)
	case "audit_log.max_files":
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		c.AuditLog.MaxFiles = n
	default:
		return fmt.Errorf("no config key %q", key)
	}
	return nil
}

// Validate checks every value and returns all problems at once (an Errors
// value, each with the file's line when the value came from the file). It
// does not touch the disk: Check also loads the policy file.
func (c *Config) Validate() error {
	var errs Errors
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{File: c.Source, Line: c.lines[key], Msg: key + ": " + fmt.Sprintf(format, args...)})
	}
	if err := checkAddr(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if c.AdminListen != "" {
		if err := checkAddr(c.AdminListen); err != nil {
			bad("admin_listen", "%v", err)
		} else if sameAddr(c.AdminListen, c.Listen) {
			bad("admin_listen", "must differ from listen (%s): metrics and the status page need their own port", c.Listen)
		}
	}
	if err := checkUpstream(c.Upstream); err != nil {
		bad("upstream", "%v", err)
	}
	if c.CacheDir == "" {
		bad("cache_dir", "is empty and this user has no cache folder to default to; set cache_dir, e.g. /var/cache/safehub")
	}
	if c.CacheMax < 0 {
		bad("cache_max", "must not be negative")
	}
	if c.AuditLog.Path != "" && !filepath.IsAbs(c.AuditLog.Path) && c.Source != "" {
		bad("audit_log.path", "%q is relative; use an absolute path so the log does not depend on the working directory", c.AuditLog.Path)
	}
	if c.AuditLog.MaxSize < 0 || (c.AuditLog.MaxSize > 0 && c.AuditLog.MaxSize < 1<<20) {
		bad("audit_log.max_size", "%s is too small; use at least 1M (or 0 to never rotate)", c.AuditLog.MaxSize)
	}
	// Files in all, the live one included (the audit log's own rule), so at
	// least 2 for a rotation to keep any history; 0 is the default.
	if c.AuditLog.MaxFiles < 0 || c.AuditLog.MaxFiles == 1 || c.AuditLog.MaxFiles > 1000 {
		bad("audit_log.max_files", "%d is out of range; use 2 to 1000 files in all, the live one included (0: the default, 10)", c.AuditLog.MaxFiles)
	}
	if len(errs) == 0 {
		return nil
	}
	errs.sort()
	return errs
}

// checkAddr accepts host:port with a numeric port (":8080" listens on every address).
func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port (for example 127.0.0.1:8080)", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", a, port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q: host %q is not a host name or IP address", a, host)
	}
	return nil
}

func sameAddr(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

// checkUpstream accepts an http(s) URL with a host, or a folder path (the
// folder's existence is checked by serve, and by Check).
func checkUpstream(u string) error {
	switch {
	case u == "":
		return errors.New("is empty; use https://huggingface.co or a mirror folder")
	case strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"):
		p, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("%q is not a valid URL: %v", u, err)
		}
		if p.Host == "" {
			return fmt.Errorf("%q has no host", u)
		}
		if p.User != nil {
			return fmt.Errorf("%q carries credentials; users' own tokens are forwarded, so leave them out of the URL", redact(p))
		}
	case strings.Contains(u, "://"):
		return fmt.Errorf("%q: only http and https upstreams are supported (or a mirror folder)", u)
	}
	return nil
}

func redact(p *url.URL) string {
	q := *p
	q.User = url.User("***")
	return q.String()
}

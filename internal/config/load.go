package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/suggest"
	"github.com/safehub/safehub/internal/yamlerr"
)

// MaxConfigBytes bounds the file: a config is a few hundred bytes, so a
// megabyte is surely the wrong file.
const MaxConfigBytes = 1 << 20

// Error is one problem in a config file, with its line (0 when unknown).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	name := e.File
	if name == "" {
		name = "config"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", name, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", name, e.Msg)
}

// Errors is every problem found, in line order, so an admin fixes a file
// in one round.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

// Load returns the defaults overlaid with the file at path. It does not
// apply the environment or flags, and does not validate (callers layer
// those first, then call Validate). Errors name the file and line.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse is Load for bytes already read; filename is used in messages.
func Parse(data []byte, filename string) (*Config, error) {
	c := Defaults()
	c.Source = filename
	if len(data) > MaxConfigBytes {
		return nil, Errors{{File: filename, Msg: fmt.Sprintf("file is larger than %d bytes; is it really a safehub config?", MaxConfigBytes)}}
	}
	// Empty, or only comments: the defaults.
	msgs, syntax, more := yamlerr.Strict(data, c)
	if syntax != nil {
		return nil, Errors{syntaxError(filename, syntax)}
	}
	var errs Errors
	for _, msg := range msgs {
		errs = append(errs, typeError(filename, msg))
	}
	if more {
		errs = append(errs, &Error{File: filename, Msg: "only one YAML document is allowed (remove the second '---')"})
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	c.lines = keyLines(data)
	return c, nil
}

// Check loads a config file, validates it, and loads the policy file it
// names, reporting every problem: what `safehub policy check` runs on a
// config file. The returned error is an Errors value or a policy.Errors
// value (both list line-numbered problems), or a plain error for I/O.
func Check(path string) error {
	c, err := Load(path)
	if err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	return c.CheckFiles()
}

// CheckFiles checks what Validate cannot without the disk: the policy file
// parses, and a folder upstream exists.
func (c *Config) CheckFiles() error {
	if c.Upstream != "" && !strings.Contains(c.Upstream, "://") {
		if st, err := os.Stat(c.Upstream); err != nil || !st.IsDir() {
			return Errors{{File: c.Source, Line: c.lines["upstream"], Msg: fmt.Sprintf("upstream: %q is neither an http(s) URL nor an existing folder", c.Upstream)}}
		}
	}
	if c.Policy != "" {
		if _, err := policy.Load(c.Policy); err != nil {
			var pe policy.Errors
			if errors.As(err, &pe) {
				return pe
			}
			return Errors{{File: c.Source, Line: c.lines["policy"], Msg: fmt.Sprintf("policy: %v", err)}}
		}
	}
	return nil
}

// Line returns the line of a dotted key in the file ("audit_log.path"), or 0.
func (c *Config) Line(key string) int { return c.lines[key] }

func syntaxError(name string, err error) *Error {
	line, msg := yamlerr.Syntax(err)
	return &Error{File: name, Line: line, Msg: msg}
}

// Keys of each mapping, for unknown-key messages.
var (
	topKeys   = []string{"listen", "upstream", "cache_dir", "cache_max", "policy", "admin_listen", "audit_log"}
	auditKeys = []string{"path", "max_size", "max_files"}
)

// typeError turns one of yaml's "line N: ..." messages into words an admin
// can act on.
func typeError(name, msg string) *Error {
	p, ok := yamlerr.Decode(msg)
	if !ok {
		return &Error{File: name, Msg: msg}
	}
	e := &Error{File: name, Line: p.Line, Msg: p.Text}
	switch {
	case p.UnknownKey != "":
		where, known := "at the top level", topKeys
		if p.InType == "AuditLog" {
			where, known = "in audit_log", auditKeys
		}
		e.Msg = fmt.Sprintf("unknown key %q %s", p.UnknownKey, where)
		if s := suggest.Closest(p.UnknownKey, known); s != "" {
			e.Msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			e.Msg += " (known keys: " + strings.Join(known, ", ") + ")"
		}
	case p.DupKey != "":
		e.Msg = fmt.Sprintf("key %q appears twice (first at line %s)", p.DupKey, p.DupFirstLine)
	case p.GoType != "":
		want := map[string]string{"string": "a string", "int": "a whole number",
			"config.Config":   "a mapping of config keys (listen, upstream, ...)",
			"config.AuditLog": "a mapping (path, max_size, max_files)"}[p.GoType]
		if want == "" {
			want = p.GoType
		}
		got := "a " + p.Tag
		if p.Value != "" {
			got = fmt.Sprintf("%q", p.Value)
		}
		e.Msg = fmt.Sprintf("expected %s, got %s", want, got)
	}
	return e
}

// keyLines maps each key of the file (nested keys dotted) to its line.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return lines
	}
	var walk func(prefix string, n *yaml.Node, depth int)
	walk = func(prefix string, n *yaml.Node, depth int) {
		if n.Kind != yaml.MappingNode || depth > 2 {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := prefix + n.Content[i].Value
			lines[k] = n.Content[i].Line
			walk(k+".", n.Content[i+1], depth+1)
		}
	}
	walk("", doc.Content[0], 0)
	return lines
}

package policy

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/safehub/safehub/internal/suggest"
	"github.com/safehub/safehub/internal/yamlerr"
)

// Limits on a policy file. Policy files are written by admins, but the
// parser must not fall over on a wrong file passed by mistake.
const (
	MaxPolicyBytes  = 1 << 20 // a policy is a few KB; 1 MiB is surely the wrong file
	MaxRules        = 10000
	MaxPatternBytes = 1024
	MaxReasonBytes  = 300
)

// Error is one problem in a policy file, with its line (0 when unknown).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in a policy file, in line order. Parse
// reports all of them at once so an admin fixes a file in one round.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads and parses a policy file. Errors name the file and the line:
// "policy.yaml:7: unknown key \"fils\" in a rule".
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse parses a policy file's bytes; filename is used in messages only.
// On failure the error is an Errors value listing every problem.
func Parse(data []byte, filename string) (*Policy, error) {
	name := filename
	if name == "" {
		name = "policy"
	}
	if len(data) > MaxPolicyBytes {
		return nil, Errors{{File: name, Msg: fmt.Sprintf("file is larger than %d bytes; is it really a policy?", MaxPolicyBytes)}}
	}
	var raw rawPolicy
	errs, fatal := decode(data, name, &raw)
	if fatal {
		return nil, errs
	}
	p, verrs := compile(&raw, name, ruleLines(data))
	errs = append(errs, verrs...)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	p.source = filename
	return p, nil
}

// decode runs the strict YAML decoder. Type errors and unknown keys do not
// stop decoding, so they are returned together with fatal=false and the
// values that did decode are validated too; syntax errors are fatal.
func decode(data []byte, name string, raw *rawPolicy) (errs Errors, fatal bool) {
	// An empty file or only comments decodes nothing: the default policy.
	msgs, syntax, more := yamlerr.Strict(data, raw)
	if syntax != nil {
		return Errors{convertSyntaxError(name, syntax)}, true
	}
	for _, msg := range msgs {
		errs = append(errs, convertTypeError(name, msg))
	}
	if more {
		errs = append(errs, &Error{File: name, Msg: "only one YAML document is allowed (remove the second '---')"})
	}
	return errs, false
}

func convertSyntaxError(name string, err error) *Error {
	line, msg := yamlerr.Syntax(err)
	return &Error{File: name, Line: line, Msg: msg}
}

// convertTypeError rewrites one of yaml's "line N: ..." messages into words
// an admin can act on.
func convertTypeError(name, msg string) *Error {
	p, ok := yamlerr.Decode(msg)
	if !ok {
		return &Error{File: name, Msg: msg}
	}
	e := &Error{File: name, Line: p.Line, Msg: p.Text}
	switch {
	case p.UnknownKey != "":
		e.Msg = unknownKeyMessage(p.UnknownKey, p.InType)
	case p.DupKey != "":
		e.Msg = fmt.Sprintf("key %q appears twice (first at line %s)", p.DupKey, p.DupFirstLine)
	case p.GoType != "":
		got := tagWords[p.Tag]
		if got == "" {
			got = p.Tag
		}
		if p.Value != "" {
			got += fmt.Sprintf(" %q", p.Value)
		}
		want := typeWords[p.GoType]
		if want == "" {
			want = p.GoType
		}
		e.Msg = fmt.Sprintf("expected %s, got %s", want, got)
	}
	return e
}

var tagWords = map[string]string{
	"str": "the string", "int": "the number", "float": "the number", "bool": "the boolean",
	"map": "a mapping", "seq": "a list", "null": "nothing", "binary": "binary data", "timestamp": "the date",
}

var typeWords = map[string]string{
	"string":            "a string",
	"bool":              "true or false",
	"[]policy.rawRule":  "a list of rules",
	"policy.rawRule":    "a rule (a mapping with name, action, repos, files, ...)",
	"policy.rawPolicy":  "a mapping of policy keys (mode, rules, ...)",
	"policy.stringList": "a string or a list of strings",
}

// Keys of each YAML mapping, for unknown-key messages.
var (
	policyKeys = []string{"mode", "weights_only_pickles", "defaults", "scan_profile", "rules"}
	ruleKeys   = []string{"name", "action", "repos", "repo_types", "files", "reason", "weights_only_pickles"}
)

func unknownKeyMessage(key, typ string) string {
	where, known := "at the top level", policyKeys
	if typ == "rawRule" {
		where, known = "in a rule", ruleKeys
	}
	msg := fmt.Sprintf("unknown key %q %s", key, where)
	if s := suggest.Closest(key, known); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + " (known keys: " + strings.Join(known, ", ") + ")"
}

// ruleLines returns the line of each item of the top-level "rules" list, so
// that a rule-wide error (no name, no action) points at its rule.
func ruleLines(data []byte) []int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "rules" && root.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, item := range root.Content[i+1].Content {
				lines = append(lines, item.Line)
			}
			return lines
		}
	}
	return nil
}

func sortErrors(errs Errors) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
}

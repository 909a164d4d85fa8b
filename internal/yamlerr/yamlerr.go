// Package yamlerr takes yaml.v3's error texts apart (line, unknown key,
// repeated key, wrong type), so that the config and policy loaders can
// say each problem in words an admin can act on, with its line.
package yamlerr

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	reSyntax     = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	reLine       = regexp.MustCompile(`^line (\d+): (.*)$`)
	reUnknownKey = regexp.MustCompile(`^field (.+) not found in type (?:[\w]+\.)?(\w+)$`)
	reDupKey     = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	reUnmarshal  = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// Syntax reads a yaml.v3 syntax error: its line (0 when it names none) and
// a message that starts with "YAML syntax: ".
func Syntax(err error) (line int, msg string) {
	text := err.Error()
	if m := reSyntax.FindStringSubmatch(text); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, "YAML syntax: " + m[2]
	}
	return 0, "YAML syntax: " + strings.TrimPrefix(text, "yaml: ")
}

// Problem is one of yaml.v3's "line N: ..." decoding errors, taken apart.
// At most one group of fields is set.
type Problem struct {
	Line int
	Text string // the message after "line N: "

	UnknownKey, InType string // "field K not found in type pkg.T": K, T

	DupKey, DupFirstLine string // "mapping key K already defined at line L"

	Tag, Value, GoType string // "cannot unmarshal !!Tag `Value` into GoType"
}

// Decode takes one decoding error message apart; ok is false when it is
// not a "line N: ..." message.
func Decode(msg string) (p Problem, ok bool) {
	m := reLine.FindStringSubmatch(msg)
	if m == nil {
		return Problem{Text: msg}, false
	}
	p.Line, _ = strconv.Atoi(m[1])
	p.Text = m[2]
	switch {
	case reUnknownKey.MatchString(p.Text):
		k := reUnknownKey.FindStringSubmatch(p.Text)
		p.UnknownKey, p.InType = k[1], k[2]
	case reDupKey.MatchString(p.Text):
		k := reDupKey.FindStringSubmatch(p.Text)
		p.DupKey, p.DupFirstLine = k[1], k[2]
	case reUnmarshal.MatchString(p.Text):
		k := reUnmarshal.FindStringSubmatch(p.Text)
		p.Tag, p.Value, p.GoType = k[1], k[2], k[3]
	}
	return p, true
}

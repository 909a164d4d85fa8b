// Package yamlerr takes yaml.v3's error texts apart (line, unknown key,
// repeated key, wrong type), so that the config and policy loaders can
// say each problem in words an admin can act on, with its line.
package yamlerr

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
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

// Strict decodes the single YAML document in data into v, with unknown keys
// as errors (a misspelt key must not be a silently ignored setting). It
// returns yaml's "line N: ..." messages for type errors and unknown keys
// (decoding goes on past them, so every problem is reported at once), a
// syntax error (fatal: nothing was decoded), and whether another document
// follows. Empty input, or only comments, decodes nothing and is no error.
func Strict(data []byte, v any) (typeMsgs []string, syntax error, moreDocs bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil, nil, false
	}
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		typeMsgs = te.Errors
	case err != nil:
		return nil, err, false
	}
	var extra yaml.Node
	return typeMsgs, nil, !errors.Is(dec.Decode(&extra), io.EOF)
}

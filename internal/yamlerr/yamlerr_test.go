package yamlerr

import (
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		msg  string
		want Problem
	}{
		{"line 4: field fils not found in type policy.rawRule", Problem{Line: 4, Text: "field fils not found in type policy.rawRule", UnknownKey: "fils", InType: "rawRule"}},
		{`line 2: mapping key "mode" already defined at line 1`, Problem{Line: 2, Text: `mapping key "mode" already defined at line 1`, DupKey: "mode", DupFirstLine: "1"}},
		{"line 6: cannot unmarshal !!seq into config.Size", Problem{Line: 6, Text: "cannot unmarshal !!seq into config.Size", Tag: "seq", GoType: "config.Size"}},
		{"line 2: cannot unmarshal !!str `maybe` into bool", Problem{Line: 2, Text: "cannot unmarshal !!str `maybe` into bool", Tag: "str", Value: "maybe", GoType: "bool"}},
	}
	for _, c := range cases {
		got, ok := Decode(c.msg)
		if !ok || got != c.want {
			t.Errorf("Decode(%q) = %+v, %v; want %+v", c.msg, got, ok, c.want)
		}
	}
	if _, ok := Decode("something else"); ok {
		t.Error("a message without a line was taken apart")
	}
}

func TestSyntax(t *testing.T) {
	if line, msg := Syntax(errors.New("yaml: line 3: found a tab character")); line != 3 || msg != "YAML syntax: found a tab character" {
		t.Errorf("Syntax = %d %q", line, msg)
	}
	if line, msg := Syntax(errors.New("yaml: did not find expected key")); line != 0 || msg != "YAML syntax: did not find expected key" {
		t.Errorf("Syntax without a line = %d %q", line, msg)
	}
}

func TestStrict(t *testing.T) {
	type cfg struct {
		A int `yaml:"a"`
	}
	var c cfg
	if msgs, syn, more := Strict([]byte("# only a comment\n"), &c); msgs != nil || syn != nil || more {
		t.Errorf("empty: %v %v %v", msgs, syn, more)
	}
	msgs, syn, more := Strict([]byte("a: 1\nb: 2\n---\na: 3\n"), &c)
	if syn != nil || !more || len(msgs) != 1 || c.A != 1 {
		t.Errorf("unknown key and second document: %q %v %v (a=%d)", msgs, syn, more, c.A)
	}
	if _, syn, _ := Strict([]byte("a: [1\n"), &c); syn == nil {
		t.Error("a syntax error was not reported")
	}
}

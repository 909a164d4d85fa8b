package guard

import (
	"bytes"
	"strings"
	"testing"
)

func TestAppendStripRoundTrip(t *testing.T) {
	block := sitecustomizeBlock("/opt/g", "block", false)
	for _, orig := range []string{
		"",
		"# install the apport exception handler if available\ntry:\n    import apport_python_hook\nexcept ImportError:\n    pass\n",
		"import os", // no final newline: the block notes the newline it adds
		"\n\n",
		"x = 1\r\n",
	} {
		withBlock := appendBlock([]byte(orig), block)
		if !bytes.Contains(withBlock, []byte("_sg._boot(\"block\")")) {
			t.Fatalf("block missing from %q", withBlock)
		}
		got, found := stripBlock(withBlock)
		if !found || string(got) != orig {
			t.Errorf("strip(append(%q)) = %q, %v; want the original back", orig, got, found)
		}
	}
}

func TestInsertBlockGoesFirstUnlessThatBreaksTheFile(t *testing.T) {
	block := sitecustomizeBlock("/g", "block", false)
	for orig, first := range map[string]bool{
		"import apport_python_hook\n": true,
		"":                            true,
		"\"\"\"doc\"\"\"\nfrom __future__ import annotations\n": false,
		"# -*- coding: latin-1 -*-\nx = 1\n":                    false,
		"#!/usr/bin/python\n# vim: set fileencoding=utf-8 :\n":  false,
		"x = 1\n\n# coding: latin-1 (too late to count)\n":      true,
	} {
		got := string(insertBlock([]byte(orig), block))
		if strings.HasPrefix(got, blockBegin) != first {
			t.Errorf("insertBlock(%q): block first = %v, want %v", orig, !first, first)
		}
		if back, _ := stripBlock([]byte(got)); string(back) != orig {
			t.Errorf("insertBlock(%q) did not strip back: %q", orig, back)
		}
	}
}

func TestStripBlockLeavesUnterminatedBlock(t *testing.T) {
	in := []byte("a = 1\n" + blockBegin + "\nimport evil\n")
	got, found := stripBlock(in)
	if found || !bytes.Equal(got, in) {
		t.Fatalf("an unterminated block must be left alone, got %q found=%v", got, found)
	}
}

func TestStripBlockRemovesEveryBlockAndKeepsTheRest(t *testing.T) {
	b1 := sitecustomizeBlock("/a", "warn", false)
	b2 := sitecustomizeBlock("/b", "block", true)
	in := "head\n" + b1 + "middle\n" + b2 + "tail\n"
	got, found := stripBlock([]byte(in))
	if !found || string(got) != "head\nmiddle\ntail\n" {
		t.Fatalf("got %q found=%v", got, found)
	}
}

func TestBootCodeQuotesPaths(t *testing.T) {
	code := bootCode(`/opt/we"ird\dir`, "audit", false)
	if !strings.Contains(code, `"/opt/we\"ird\\dir/safehub_guard"`) {
		t.Fatalf("path not quoted as a Python literal:\n%s", code)
	}
	line := pthLine("/opt/g", "block")
	if !strings.HasPrefix(line, "import sys; exec(") || strings.Count(line, "\n") != 1 {
		t.Fatalf(".pth hook must be one line starting with import: %q", line)
	}
}

// FuzzStripBlock: stripBlock reads files others may have edited; it must not
// panic, must never grow the input, and must give back any marker-free
// original that appendBlock extended.
func FuzzStripBlock(f *testing.F) {
	f.Add([]byte(""), []byte("x"))
	f.Add([]byte("import os"), []byte(blockBegin+"\n"))
	f.Add([]byte(blockBegin+"\n"+blockEnd), []byte(blockBeginJoint+"\n"+blockEnd+"\n"))
	f.Add([]byte("a\r\nb"), []byte("\n\n"+blockEnd))
	block := sitecustomizeBlock("/g", "block", true)
	f.Fuzz(func(t *testing.T, orig, noise []byte) {
		out, _ := stripBlock(noise)
		if len(out) > len(noise) {
			t.Fatalf("stripBlock grew its input")
		}
		if bytes.Contains(orig, []byte("# >>> safehub guard")) || bytes.Contains(orig, []byte("# <<< safehub guard")) {
			return
		}
		for _, with := range [][]byte{appendBlock(orig, block), insertBlock(orig, block)} {
			got, found := stripBlock(with)
			if !found || !bytes.Equal(got, orig) {
				t.Fatalf("round trip lost bytes: %q -> %q", orig, got)
			}
		}
	})
}

//go:build corpus

// Package corpus_test runs safehub's scanner over the corpus written by
// gen.py and checks every file's verdict against manifest.json. It is behind
// the "corpus" build tag because the corpus is generated with Debian's
// Python and torch, which plain `go test ./...` cannot assume.
//
//	/usr/bin/python3 test/corpus/gen.py DIR && SAFEHUB_CORPUS=DIR go test -tags corpus ./test/corpus/
package corpus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/cli"
	"github.com/safehub/safehub/internal/scan"
	"github.com/safehub/safehub/internal/scan/finding"
)

const howToRun = "run: /usr/bin/python3 test/corpus/gen.py DIR && SAFEHUB_CORPUS=DIR go test -tags corpus ./test/corpus/"

// entry is one manifest record (see registry.py).
type entry struct {
	File        string          `json:"file"`
	Expect      json.RawMessage `json:"expect"` // "safe" or ["unsafe","unknown"]
	Class       any             `json:"class"`  // bypass class number or "benign"
	Profile     string          `json:"profile"`
	PickleBytes int64           `json:"pickle_bytes"`
	Note        string          `json:"note"`
	// Callable, when set, must appear in an unsafe finding's callable or
	// chain: proof that the scanner reached the payload behind the trick,
	// not only an anomaly around it.
	Callable string `json:"callable"`
}

// accepted decodes Expect into the set of verdicts the scanner may give.
func (e entry) accepted() ([]finding.Verdict, error) {
	var names []string
	if err := json.Unmarshal(e.Expect, &names); err != nil {
		var one string
		if err2 := json.Unmarshal(e.Expect, &one); err2 != nil {
			return nil, fmt.Errorf("expect %s: neither a string nor a list", e.Expect)
		}
		names = []string{one}
	}
	out := make([]finding.Verdict, 0, len(names))
	for _, n := range names {
		var v finding.Verdict
		if err := v.UnmarshalText([]byte(n)); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func loadCorpus(t *testing.T) (string, []entry) {
	t.Helper()
	dir := os.Getenv("SAFEHUB_CORPUS")
	if dir == "" {
		t.Fatal("SAFEHUB_CORPUS is not set; " + howToRun)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatalf("reading the manifest: %v; %s", err, howToRun)
	}
	var m struct {
		Entries []entry `json:"entries"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	// A truncated or empty corpus must not pass by having nothing to check.
	if len(m.Entries) < 100 {
		t.Fatalf("manifest lists only %d files; regenerate the corpus (%s)", len(m.Entries), howToRun)
	}
	return dir, m.Entries
}

// TestCorpusVerdicts scans every manifest file with its profile and the file
// name as NameHint, one subtest per file so a failure names the file.
func TestCorpusVerdicts(t *testing.T) {
	dir, entries := loadCorpus(t)
	classes := map[string]bool{}
	for _, e := range entries {
		classes[fmt.Sprint(e.Class)] = true
		t.Run(e.File, func(t *testing.T) {
			want, err := e.accepted()
			if err != nil {
				t.Fatalf("manifest entry: %v", err)
			}
			// The scanner's own wall-time limit is 60 s; a file that takes
			// longer than this is a hang, which the test reports as such.
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			opts := scan.Options{Profile: e.Profile, NameHint: filepath.Base(e.File)}
			res, err := scan.ScanFile(ctx, filepath.Join(dir, e.File), opts)
			if err != nil {
				t.Fatalf("ScanFile error (malformed content must be a verdict, not an error): %v", err)
			}
			ok := false
			for _, v := range want {
				ok = ok || res.Verdict == v
			}
			if ok && res.Verdict == finding.Unsafe && e.Callable != "" && !namesCallable(res.Findings, e.Callable) {
				t.Errorf("%s: unsafe, but no unsafe finding names %q: the payload behind the trick was not reached (class %v: %s)\nfindings:\n%s",
					e.File, e.Callable, e.Class, e.Note, describe(res.Findings))
			}
			if ok {
				return
			}
			t.Errorf("%s: verdict %s, want %s (class %v: %s)\nformat %q, findings:\n%s",
				e.File, res.Verdict, e.Expect, e.Class, e.Note, res.Format, describe(res.Findings))
		})
	}
	// Every bypass class of scanner-notes section 10 must be represented.
	for n := 1; n <= 40; n++ {
		if !classes[fmt.Sprint(n)] {
			t.Errorf("the corpus has no file for bypass class %d", n)
		}
	}
}

func namesCallable(fs []finding.Finding, name string) bool {
	for _, f := range fs {
		if f.Verdict == finding.Unsafe && (strings.Contains(f.Callable, name) || strings.Contains(f.Chain, name)) {
			return true
		}
	}
	return false
}

func describe(fs []finding.Finding) string {
	var b strings.Builder
	for i, f := range fs {
		if i == 12 {
			fmt.Fprintf(&b, "  ... %d more\n", len(fs)-i)
			break
		}
		fmt.Fprintf(&b, "  %s %s %s member=%q off=%d chain=%q %s\n", f.Verdict, clip(f.Callable), f.Opcode, f.Member, f.Offset, clip(f.Chain), clip(f.Reason))
	}
	return b.String()
}

// TestCorpusCLI runs `safehub scan --json` in-process on a few files and
// checks the exit-code contract (0 all safe, 1 unsafe or unknown, 2 error)
// and that the JSON names each file with its verdict.
func TestCorpusCLI(t *testing.T) {
	dir, _ := loadCorpus(t)
	p := func(rel string) string { return filepath.Join(dir, rel) }
	cases := []struct {
		name  string
		paths []string
		code  int
		want  map[string]string // path -> verdict in the JSON output
	}{
		{"all safe", []string{p("safetensors/model.safetensors"), p("torch/state_dict.pt")}, 0,
			map[string]string{p("safetensors/model.safetensors"): "safe", p("torch/state_dict.pt"): "safe"}},
		{"one unsafe", []string{p("torch/state_dict.pt"), p("pickle/model.safetensors")}, 1,
			map[string]string{p("pickle/model.safetensors"): "unsafe"}},
		{"unknown counts as findings", []string{p("torch/scripted.pt")}, 1,
			map[string]string{p("torch/scripted.pt"): "unknown"}},
		{"missing file is an error", []string{p("does-not-exist.pt")}, 2, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := cli.Main(append([]string{"scan", "--json"}, tc.paths...), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			if tc.want == nil {
				return
			}
			var rows []struct {
				Path    string `json:"path"`
				Format  string `json:"format"`
				Verdict string `json:"verdict"`
			}
			if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
				t.Fatalf("--json output is not a JSON array: %v\n%s", err, out.String())
			}
			if len(rows) != len(tc.paths) {
				t.Errorf("%d rows for %d paths", len(rows), len(tc.paths))
			}
			got := map[string]string{}
			for _, r := range rows {
				got[r.Path] = r.Verdict
			}
			for path, v := range tc.want {
				if got[path] != v {
					t.Errorf("%s: verdict %q in JSON, want %q", path, got[path], v)
				}
			}
		})
	}
}

// clip keeps attacker-sized strings (a base64 blob taken for a module name)
// from flooding the failure message.
func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

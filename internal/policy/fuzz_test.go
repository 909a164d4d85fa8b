package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/safehub/safehub/internal/scan/finding"
)

// FuzzParse: any bytes give a policy or line-numbered errors, never a panic
// or a hang; a policy that parses answers every question with a reason.
func FuzzParse(f *testing.F) {
	f.Add([]byte(orderPolicy))
	f.Add([]byte("mode: audit\nweights_only_pickles: true\n"))
	f.Add([]byte("rules:\n  - {name: a, action: deny, files: ['**/*.{bin,pt}']}\n"))
	f.Add([]byte("rules:\n  - name: a\n    action: allow\n    repos: &r [x/*]\n  - name: b\n    action: deny\n    repos: *r\n"))
	f.Add([]byte("a: &a [*a, *a, *a]\n"))
	f.Add([]byte("rules: [[[[[[[[]]]]]]]]\n"))
	f.Add([]byte("- x\n---\n- y\n"))
	f.Add([]byte("mode: \"\\x00\"\n"))
	if examples, err := filepath.Glob("../../examples/policy/*.yaml"); err == nil {
		for _, e := range examples {
			if data, err := os.ReadFile(e); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz.yaml")
		if err != nil {
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			for _, e := range es {
				if !strings.HasPrefix(e.Error(), "fuzz.yaml") {
					t.Fatalf("error does not name the file: %q", e.Error())
				}
			}
			return
		}
		facts := &Facts{Format: "pickle", Verdict: finding.Safe, PickleBearing: true}
		for _, path := range []string{"pytorch_model.bin", "a/B.PT", "model.safetensors", "", "x/"} {
			for _, typ := range []RepoType{Model, Dataset, Space} {
				for _, d := range []Decision{
					p.Repo(typ, "org/name"),
					p.File(typ, "org/name", path),
					p.ContentFacts(typ, "Org/Name", path, facts),
				} {
					if d.Reason == "" || d.Rule == "" {
						t.Fatalf("decision without rule or reason: %+v", d)
					}
					if msg := RefusalMessage(path, d, ""); !utf8.ValidString(msg) || strings.ContainsAny(msg, "\r\n") {
						t.Fatalf("unsafe refusal message %q", msg)
					}
				}
			}
		}
	})
}

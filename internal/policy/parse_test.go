package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	p := mustParse(t, `
mode: audit
weights_only_pickles: true
defaults: false
scan_profile: torch-numpy
rules:
  - name: one
    action: allow
    files: "*.bin"          # a single string is a list of one
    weights_only_pickles: true
  - name: two
    action: deny
    repos: [a/*, b/c]
    repo_types: [model, dataset]
    reason: "no"
`)
	if p.Mode() != ModeAudit || !p.WeightsOnlyPickles() || p.Defaults() || p.ScanProfile() != "torch-numpy" {
		t.Errorf("top-level values not applied: mode %q wo %v defaults %v profile %q", p.Mode(), p.WeightsOnlyPickles(), p.Defaults(), p.ScanProfile())
	}
	if got := strings.Join(p.RuleNames(), ","); got != "one,two" || p.RuleCount() != 2 {
		t.Errorf("rules = %q (%d)", got, p.RuleCount())
	}
	if p.Source() != "test.yaml" {
		t.Errorf("Source() = %q", p.Source())
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "---\n"} {
		p, err := Parse([]byte(src), "empty.yaml")
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		if p.Mode() != ModeEnforce || !p.Defaults() || p.RuleCount() != 0 {
			t.Errorf("Parse(%q) is not the default policy", src)
		}
		if d := p.File(Model, "o/m", "x.bin"); d.Allow {
			t.Errorf("Parse(%q): x.bin allowed", src)
		}
	}
}

// TestParseErrors pins the exact "file:line: message" of every error, so an
// admin always learns where and what.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string // every error line, in order
	}{
		{"unknown key in rule", `rules:
  - name: a
    action: deny
    fils: ["*.bin"]
`, []string{`policy.yaml:4: unknown key "fils" in a rule (did you mean "files"?)`}},
		{"unknown top-level key", `mod: audit
`, []string{`policy.yaml:1: unknown key "mod" at the top level (did you mean "mode"?)`}},
		{"unknown key without a near match", `colour: blue
`, []string{`policy.yaml:1: unknown key "colour" at the top level (known keys: mode, weights_only_pickles, defaults, scan_profile, rules)`}},
		{"bad values all reported", `mode: strict
weights_only_pickles: maybe
rules:
  - name: r1
    action: block
    repos: ["org/[abc"]
    repo_types: [models, spaceship]
    files: ["/x.bin", "{a,b"]
`, []string{
			`policy.yaml:1: unknown mode "strict" (want enforce or audit)`,
			`policy.yaml:2: expected true or false, got the string "maybe"`,
			`policy.yaml:5: unknown action "block" (want allow or deny)`,
			`policy.yaml:6: bad repo glob "org/[abc" (unbalanced [ ] or { }, or a trailing \)`,
			`policy.yaml:7: unknown repo type "models" (want model, dataset or space; did you mean "model"?)`,
			`policy.yaml:7: unknown repo type "spaceship" (want model, dataset or space)`,
			`policy.yaml:8: file glob "/x.bin" starts with '/'; paths are relative to the repo root (write "x.bin")`,
			`policy.yaml:8: bad file glob "{a,b" (unbalanced [ ] or { }, or a trailing \)`,
		}},
		{"rule without name and action", `rules:
  - files: ["*.py"]
`, []string{
			`policy.yaml:2: rule 1 has no name (every rule needs one: it appears in logs and refusal messages)`,
			`policy.yaml:2: rule 1 has no action (want action: allow or action: deny)`,
		}},
		{"duplicate and reserved names", `rules:
  - name: a
    action: deny
  - name: A
    action: deny
  - name: default:mine
    action: deny
  - name: "has space"
    action: deny
`, []string{
			`policy.yaml:4: rule name "A" is used twice (first at line 2); names identify rules in logs`,
			`policy.yaml:6: rule name "default:mine": names starting with "default" are reserved for the built-in rules`,
			`policy.yaml:8: rule name "has space" may hold only letters, digits, '.', '_' and '-' (at most 100)`,
		}},
		{"weights-only on deny", `rules:
  - name: a
    action: deny
    weights_only_pickles: true
`, []string{`policy.yaml:4: weights_only_pickles is only meaningful on an allow rule`}},
		{"wrong shapes", `rules:
  name: a
`, []string{`policy.yaml:2: expected a list of rules, got a mapping`}},
		{"list item not a string", `rules:
  - name: a
    action: deny
    files:
      - {x: 1}
`, []string{`policy.yaml:5: expected a string in this list, got a mapping`}},
		{"mapping where a string goes", `mode: {a: b}
`, []string{`policy.yaml:1: expected a string, got a mapping`}},
		{"top level is a list", `- a
- b
`, []string{`policy.yaml:1: expected a mapping of policy keys (mode, rules, ...), got a list`}},
		{"duplicate key", `mode: audit
mode: enforce
`, []string{`policy.yaml:2: key "mode" appears twice (first at line 1)`}},
		{"syntax error", "mode: audit\n\tx: 1\n", []string{`policy.yaml:2: YAML syntax: found a tab character that violates indentation`}},
		{"two documents", "mode: audit\n---\nmode: enforce\n", []string{`policy.yaml: only one YAML document is allowed (remove the second '---')`}},
		{"multi-line reason", `rules:
  - name: a
    action: deny
    reason: "line one\nline two"
`, []string{`policy.yaml:4: reason must be one line of text without control characters (it goes into an HTTP header)`}},
		{"empty lists", `rules:
  - name: a
    action: deny
    files: []
    repo_types: []
`, []string{
			`policy.yaml:4: files is empty; leave it out for a repo-level rule`,
			`policy.yaml:5: repo_types is empty; leave it out to mean every repo type`,
		}},
		{"bad profile", "scan_profile: 'Torch Numpy'\n", []string{`policy.yaml:1: unknown scan_profile "Torch Numpy" (want one of torch-weights-only, torch-numpy, joblib)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse([]byte(c.src), "policy.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded (%d rules); want errors %q", p.RuleCount(), c.want)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	p := mustParse(t, `rules:
  - name: org-typo
    action: deny
    repos: ["evil-org"]
  - name: allow-bin
    action: allow
    files: ["*.bin"]
  - name: everything
    action: deny
  - name: unreachable
    action: allow
    files: ["*.json"]
`)
	ws := strings.Join(p.Warnings(), "\n")
	for _, want := range []string{
		`test.yaml:2: warning: rule org-typo: repo glob "evil-org" matches only the single-name repo`,
		`test.yaml:5: warning: rule allow-bin lifts the pickle name rule`,
		`test.yaml:10: warning: rule unreachable can never match: rule everything (line 8)`,
	} {
		if !strings.Contains(ws, want) {
			t.Errorf("warnings lack %q:\n%s", want, ws)
		}
	}
	if ws := mustParse(t, "rules:\n  - {name: a, action: allow, files: ['*.bin'], weights_only_pickles: true}\n").Warnings(); len(ws) != 0 {
		t.Errorf("unexpected warnings: %q", ws)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("mode: audit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(good)
	if err != nil || p.Mode() != ModeAudit || p.Source() != good {
		t.Fatalf("Load = %v, %v", p, err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", MaxPolicyBytes+10)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), big+": file is larger than") {
		t.Errorf("Load(big) = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v; want not-exist", err)
	}
}

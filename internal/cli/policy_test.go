package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writePolicy(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyCheckOK(t *testing.T) {
	f := writePolicy(t, "mode: audit\nrules:\n  - name: a\n    action: deny\n    files: ['*.py']\n")
	code, out, errs := runMain(t, "policy", "check", f)
	if code != 0 || out != f+": ok (1 rules, mode audit)\n" || errs != "" {
		t.Errorf("check = %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestPolicyCheckErrors(t *testing.T) {
	f := writePolicy(t, "mode: strict\nrules:\n  - name: a\n    action: deny\n    fils: ['*.bin']\n")
	code, out, errs := runMain(t, "policy", "check", f)
	want := f + ":1: unknown mode \"strict\" (want enforce or audit)\n" +
		f + ":5: unknown key \"fils\" in a rule (did you mean \"files\"?)\n"
	if code != ExitError || out != "" || errs != want {
		t.Errorf("check = %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errs, want)
	}
}

func TestPolicyCheckWarnings(t *testing.T) {
	f := writePolicy(t, "rules:\n  - name: a\n    action: deny\n    repos: [evil-org]\n")
	code, out, errs := runMain(t, "policy", "check", f)
	if code != 0 || !strings.Contains(out, "ok (1 rules") || !strings.Contains(errs, f+":2: warning: rule a: repo glob") {
		t.Errorf("check = %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestPolicyCheckMissingFile(t *testing.T) {
	code, _, errs := runMain(t, "policy", "check", filepath.Join(t.TempDir(), "nope.yaml"))
	if code != ExitError || !strings.Contains(errs, "no such file") {
		t.Errorf("check missing = %d, stderr %q", code, errs)
	}
}

func TestPolicyExplain(t *testing.T) {
	f := writePolicy(t, `rules:
  - name: allow-our-bin
    action: allow
    repos: ["my-org/*"]
    files: ["*.bin"]
  - name: block-evil
    action: deny
    repos: ["evil-org/*"]
    reason: "this organisation is blocked"
`)
	cases := []struct {
		args     []string
		code     int
		contains []string
	}{
		{[]string{"gpt2", "pytorch_model.bin"}, ExitFindings, []string{
			"policy:   built-in default (mode enforce)", "repo:     model gpt2", "decision: refused",
			"rule:     default:pickle-names", "reason:   pickle-based weights can run code when loaded",
			"message:  safehub: pytorch_model.bin refused: pickle-based weights can run code when loaded (rule default:pickle-names)"}},
		{[]string{"gpt2", "model.safetensors"}, 0, []string{"decision: allowed by name", "rule:     default:allow"}},
		{[]string{"--policy", f, "my-org/m", "sub/x.BIN"}, 0, []string{"rule:     allow-our-bin"}},
		{[]string{"--policy", f, "--type", "dataset", "evil-org/d", "README.md"}, ExitFindings, []string{
			"repo:     dataset evil-org/d", "rule:     block-evil", "reason:   this organisation is blocked"}},
	}
	for _, c := range cases {
		code, out, errs := runMain(t, append([]string{"policy", "explain"}, c.args...)...)
		if code != c.code {
			t.Errorf("explain %q = exit %d; want %d\n%s%s", c.args, code, c.code, out, errs)
		}
		for _, s := range c.contains {
			if !strings.Contains(out, s) {
				t.Errorf("explain %q output lacks %q:\n%s", c.args, s, out)
			}
		}
	}
}

func TestPolicyExplainAudit(t *testing.T) {
	f := writePolicy(t, "mode: audit\n")
	code, out, _ := runMain(t, "policy", "explain", "--policy", f, "o/m", "x.pt")
	if code != 0 || !strings.Contains(out, "audit mode: enforce mode would refuse it") || !strings.Contains(out, "message:  safehub: x.pt refused") {
		t.Errorf("audit explain = %d:\n%s", code, out)
	}
}

func TestPolicyExplainUsageErrors(t *testing.T) {
	bad := writePolicy(t, "mode: nope\n")
	for _, args := range [][]string{
		{"policy", "explain", "--type", "models", "o/m", "x.bin"},
		{"policy", "explain", "o/m"},
		{"policy", "explain", "--policy", bad, "o/m", "x.bin"},
	} {
		if code, _, _ := runMain(t, args...); code != ExitError {
			t.Errorf("%q = exit %d; want %d", args, code, ExitError)
		}
	}
}

func TestPolicyHelpHasExamples(t *testing.T) {
	for _, sub := range []string{"check", "explain"} {
		code, out, _ := runMain(t, "policy", sub, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "safehub policy "+sub) {
			t.Errorf("policy %s --help = %d:\n%s", sub, code, out)
		}
	}
}

func TestPolicyCheckValidatesConfigFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "config.yaml")
	os.WriteFile(good, []byte("listen: 127.0.0.1:8080\nupstream: https://huggingface.co\n"), 0o644)
	if code, out, errs := runMain(t, "policy", "check", good); code != 0 || !strings.Contains(out, "ok (config)") {
		t.Fatalf("good config: %d %q %q", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: 127.0.0.1:8080\nupstrem: x\n"), 0o644)
	code, _, errs := runMain(t, "policy", "check", bad)
	if code != 2 || !strings.Contains(errs, "bad.yaml:2") || !strings.Contains(errs, `did you mean "upstream"`) {
		t.Fatalf("misspelt config key: %d %q", code, errs)
	}
}

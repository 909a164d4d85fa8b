package policy

import (
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Review tests: TestReview_* demonstrate bugs found in review; the others
// pin behaviour that was checked and found right.

// A repo-level allow ("we trust my-org") is meant to end the repo stage. In
// the name stage it also matches every file, so it silently lifts
// default:pickle-names: pytorch_model.bin is listed, and a download then
// fails on content (weights_only_pickles is off), which aborts
// snapshot_download for every repo of the org that has .bin twins. The
// file-rule variant of this mistake gets a warning; this one gets none.
func TestReview_RepoLevelAllowLiftsPickleNameRule(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: trusted-org
    action: allow
    repos: ["my-org/*"]
`)
	d := p.File(Model, "my-org/m", "pytorch_model.bin")
	if d.Allow {
		warned := false
		for _, w := range p.Warnings() {
			if strings.Contains(w, "trusted-org") {
				warned = true
			}
		}
		t.Errorf("repo-level allow lets pytorch_model.bin through the name stage (rule %s) with no warning (warned=%v); "+
			"content checks will refuse it after it was listed", d.Rule, warned)
	}
}

// The same repo-level allow, written first as admins write allow-lists,
// used to shadow every later file deny for that org (block-remote-code no
// longer blocked my-org's *.py). Repo-level rules now end at the repo
// stage, so the file deny applies.
func TestReview_RepoLevelAllowShadowsLaterFileDenyWithoutWarning(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: trusted-org
    action: allow
    repos: ["my-org/*"]
  - name: block-remote-code
    action: deny
    files: ["*.py"]
`)
	d := p.File(Model, "my-org/m", "modeling_evil.py")
	if d.Allow || d.Rule != "block-remote-code" {
		t.Fatalf("my-org/m modeling_evil.py: %+v, want refused by block-remote-code", d)
	}
	if d := p.File(Model, "my-org/m", "config.json"); !d.Allow {
		t.Errorf("my-org/m config.json refused: %+v", d)
	}
}

// An allow rule with weights_only_pickles: true lets a .bin through only on
// the condition that the scan proves it weights-only, exactly like the
// top-level option; Decision.WeightsOnly (documented for gateways that hide
// such files from listings until scanned) is set only for the top-level one.
func TestReview_RuleWeightsOnlyDoesNotSetDecisionFlag(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: lab
    action: allow
    repos: ["lab/*"]
    files: ["*.bin"]
    weights_only_pickles: true
`)
	d := p.File(Model, "lab/m", "pytorch_model.bin")
	if !d.Allow || !d.WeightsOnly {
		t.Errorf("File(lab/m, pytorch_model.bin) = %+v; want Allow and WeightsOnly, as with top-level weights_only_pickles", d)
	}
}

// Checked and fine: an allow rule that lifts a name rule does not switch
// the content stage off; deny rules are not shadowed by file allows of
// other repos; case and odd names fall to the content stage.
func TestReviewContentStageSurvivesAllows(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: lab
    action: allow
    repos: ["lab/*"]
    files: ["*.bin"]
`)
	pickle := &Facts{Format: "pickle", Verdict: finding.Safe, PickleBearing: true}
	unsafe := &Facts{Format: "pickle", Verdict: finding.Unsafe, PickleBearing: true}
	for _, c := range []struct {
		path  string
		facts *Facts
	}{
		{"pytorch_model.bin", pickle}, {"pytorch_model.bin", unsafe},
		{"PYTORCH_MODEL.BIN", pickle}, {"model.Bin", unsafe},
		{"model.bin.", pickle}, {"model.bin ", pickle}, {"model.b\u0131n", pickle}, // dotless i
		{"sub/x.safetensors", pickle}, {"x.safetensors", nil},
	} {
		if d := p.ContentFacts(Model, "lab/m", c.path, c.facts); d.Allow {
			t.Errorf("ContentFacts(lab/m, %q) allowed: %+v", c.path, d)
		}
	}
	for _, name := range []string{"PYTORCH_MODEL.BIN", "model.Bin", "a/B/x.PT", "x.Pickle", "/x.bin/", "K.bin"} {
		if d := Default().File(Model, "o/m", name); d.Allow {
			t.Errorf("default File(%q) allowed", name)
		}
	}
	audit := mustParse(t, "mode: audit\n")
	d := audit.ContentFacts(Model, "o/m", "x.bin", unsafe)
	if !d.Allow || !d.Audit || d.Rule != RulePickleNames {
		t.Errorf("audit: %+v", d)
	}
	if d := audit.ContentFacts(Model, "o/m", "x.json", &Facts{Verdict: finding.Safe}); d.Audit {
		t.Errorf("audit marks a clean file: %+v", d)
	}
}

func TestReviewRefusalMessageIsHeaderSafe(t *testing.T) {
	name := "a\r\nX-Evil: 1\x00\x7f\u202e\U0001F600" + strings.Repeat("é", 2000) + "\xff.bin"
	msg := RefusalMessage(name, Decision{Rule: "r\n", Reason: "x\ry"}, "alt\n")
	for i := 0; i < len(msg); i++ {
		if msg[i] < 0x20 || msg[i] >= 0x7f {
			t.Fatalf("byte %#x at %d in %q", msg[i], i, msg)
		}
	}
	if len(msg) > 1500 {
		t.Errorf("message is %d bytes", len(msg))
	}
}

// SafeAlternative only ever names one of the listed files; the gateway
// passes only files the name stage allows, so it never suggests a refused
// name. Upper-case names get no suggestion (cosmetic).
func TestReviewSafeAlternative(t *testing.T) {
	files := []string{"model.safetensors", "pytorch_model.bin"}
	if got := SafeAlternative("pytorch_model.bin", files); got != "model.safetensors" {
		t.Errorf("got %q", got)
	}
	if got := SafeAlternative("PYTORCH_MODEL.BIN", files); got != "" {
		t.Logf("upper-case: %q", got)
	}
	if got := SafeAlternative("model.safetensors", files); got != "" {
		t.Errorf("a safetensors file suggests %q", got)
	}
}

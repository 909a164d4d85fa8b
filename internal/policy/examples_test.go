package policy

import (
	"path/filepath"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// TestExamples loads every shipped example (docs/policy.md points admins at
// them) and checks that each does what its comments promise.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/policy/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found under examples/policy (err %v)", err)
	}
	loaded := map[string]*Policy{}
	for _, f := range files {
		p, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if ws := p.Warnings(); len(ws) > 0 {
			t.Errorf("%s has warnings: %q", f, ws)
		}
		loaded[filepath.Base(f)] = p
	}
	weightsOnly := &Facts{Format: "pytorch-zip", Verdict: finding.Safe, PickleBearing: true}
	code := &Facts{Format: "pickle", Verdict: finding.Unsafe, PickleBearing: true, Reason: "its pickle calls os.system"}

	checks := []struct {
		file       string
		typ        RepoType
		repo, path string
		facts      *Facts // nil: File only
		allow      bool
		audit      bool
		rule       string
	}{
		{"default.yaml", Model, "o/m", "pytorch_model.bin", nil, false, false, RulePickleNames},
		{"default.yaml", Model, "o/m", "model.safetensors", nil, true, false, RuleDefaultAllow},
		{"allow-org-bin.yaml", Model, "my-org/m", "pytorch_model.bin", weightsOnly, true, false, "allow-our-org-bin"},
		{"allow-org-bin.yaml", Model, "my-org/m", "pytorch_model.bin", code, false, false, RuleUnsafeContent},
		{"allow-org-bin.yaml", Dataset, "my-org/d", "x.bin", nil, false, false, RulePickleNames},
		{"allow-org-bin.yaml", Model, "other/m", "x.bin", nil, false, false, RulePickleNames},
		{"block-remote-code.yaml", Model, "o/m", "modeling_x.py", nil, false, false, "block-remote-code"},
		{"block-remote-code.yaml", Model, "my-org/m", "modeling_x.py", nil, true, false, "our-reviewed-code"},
		{"audit-rollout.yaml", Model, "o/m", "modeling_x.py", nil, true, true, "block-remote-code"},
		{"audit-rollout.yaml", Model, "o/m", "pytorch_model.bin", nil, true, true, RulePickleNames},
		{"block-repo.yaml", Model, "Evil-Org/x", "config.json", nil, false, false, "block-known-bad"},
		{"block-repo.yaml", Model, "someone/leaked-model", "model.safetensors", nil, false, false, "block-known-bad"},
		{"block-repo.yaml", Space, "o/app", "app.py", nil, false, false, "no-spaces"},
		{"block-repo.yaml", Model, "someone/other", "config.json", nil, true, false, RuleDefaultAllow},
		{"full.yaml", Model, "my-lab/m", "checkpoints/run1/step10.pt", weightsOnly, true, false, "lab-checkpoints"},
		{"full.yaml", Model, "my-lab/m", "step10.pt", nil, false, false, RulePickleNames},
		{"full.yaml", Space, "my-lab/s", "x.bin", nil, false, false, RulePickleNames},
		{"full.yaml", Model, "evil-org/m", "README.md", nil, false, false, "block-evil-org"},
	}
	for _, c := range checks {
		p := loaded[c.file]
		if p == nil {
			t.Errorf("example %s missing or broken", c.file)
			continue
		}
		var d Decision
		if c.facts == nil {
			d = p.File(c.typ, c.repo, c.path)
		} else {
			d = p.ContentFacts(c.typ, c.repo, c.path, c.facts)
		}
		if d.Allow != c.allow || d.Audit != c.audit || d.Rule != c.rule {
			t.Errorf("%s: %s %s %s = %+v; want allow %v audit %v rule %q", c.file, c.typ, c.repo, c.path, d, c.allow, c.audit, c.rule)
		}
	}
	if p := loaded["full.yaml"]; p != nil && p.ScanProfile() != "torch-numpy" {
		t.Errorf("full.yaml scan profile = %q", p.ScanProfile())
	}
}

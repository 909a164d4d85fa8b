package policy

import (
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

var (
	factsSafetensors = &Facts{Format: "safetensors", Verdict: finding.Safe}
	factsBadHeader   = &Facts{Format: "safetensors", Verdict: finding.Unknown, Reason: "it could not be proven safe: header length is larger than the file"}
	factsWeightsOnly = &Facts{Format: "pytorch-zip", Verdict: finding.Safe, PickleBearing: true}
	factsUnknownPkl  = &Facts{Format: "pickle", Verdict: finding.Unknown, PickleBearing: true, Reason: "it could not be proven safe: global sklearn.tree.DecisionTree"}
	factsUnsafePkl   = &Facts{Format: "pickle", Verdict: finding.Unsafe, PickleBearing: true, Reason: "its pickle calls os.system"}
	factsUnsafeKeras = &Facts{Format: "keras", Verdict: finding.Unsafe, Reason: "it is unsafe: Lambda layer bytecode"}
	factsRawBin      = &Facts{Format: "data", Verdict: finding.Safe}
	factsPlainPickle = &Facts{Format: "pickle", Verdict: finding.Safe, PickleBearing: true}
)

func TestContent(t *testing.T) {
	def := Default()
	wo := mustParse(t, "weights_only_pickles: true\n")
	org := mustParse(t, `
rules:
  - name: allow-our-bin
    action: allow
    repos: ["my-org/*"]
    files: ["*.bin"]
  - name: allow-our-pt
    action: allow
    repos: ["my-org/*"]
    files: ["*.pt"]
    weights_only_pickles: true
`)
	audit := mustParse(t, "mode: audit\n")
	cases := []struct {
		name       string
		p          *Policy
		repo, path string
		facts      *Facts
		allow      bool
		rule       string
		reasonHas  string
	}{
		{"safetensors passes", def, "o/m", "model.safetensors", factsSafetensors, true, RuleDefaultAllow, ""},
		{"pickle named safetensors", def, "o/m", "model.safetensors", &Facts{Format: "pickle", Verdict: finding.Safe, PickleBearing: true}, false, RulePickleContent, "it is a pickle, not safetensors"},
		{"scanner reason wins", def, "o/m", "model.safetensors", &Facts{Format: "pickle", Verdict: finding.Safe, PickleBearing: true, Reason: "it is a pickle, not safetensors"}, false, RulePickleContent, "not safetensors"},
		{"torch zip named tokenizer.model", def, "o/m", "tokenizer.model", factsWeightsOnly, false, RulePickleContent, "not a SentencePiece model"},
		{"disguise refused even with weights-only on", wo, "o/m", "model.safetensors", factsWeightsOnly, false, RulePickleContent, "not safetensors"},
		{"unparseable safetensors header", def, "o/m", "model.safetensors", factsBadHeader, false, RuleUnknownContent, "header length"},
		{"unsafe pickle", def, "o/m", "weights.npy", factsUnsafePkl, false, RuleUnsafeContent, "os.system"},
		{"unsafe keras", def, "o/m", "model.keras", factsUnsafeKeras, false, RuleUnsafeContent, "Lambda"},
		{"unknown pickle under neutral name", def, "o/m", "state", factsUnknownPkl, false, RuleUnknownContent, "sklearn"},
		{"weights-only pickle refused by default", def, "o/m", "rng_state", factsPlainPickle, false, RulePickleContent, "weights_only_pickles is off"},
		{"name stage refusal comes first", def, "o/m", "pytorch_model.bin", factsWeightsOnly, false, RulePickleNames, ReasonPickleNames},
		{"not scanned", def, "o/m", "config.json", nil, false, RuleNotScanned, "could not be checked"},

		{"weights-only option accepts proven bin", wo, "o/m", "pytorch_model.bin", factsWeightsOnly, true, RuleWeightsOnlyPickles, "weights-only"},
		{"weights-only option: raw .bin passes", wo, "o/m", "ggml.bin", factsRawBin, true, RulePickleNames, ""},
		{"weights-only option: code still refused", wo, "o/m", "pytorch_model.bin", factsUnsafePkl, false, RuleUnsafeContent, "os.system"},
		{"weights-only option: unknown still refused", wo, "o/m", "pytorch_model.bin", factsUnknownPkl, false, RuleUnknownContent, "sklearn"},

		{"allowed bin holding code is refused", org, "my-org/m", "pytorch_model.bin", factsUnsafePkl, false, RuleUnsafeContent, "os.system"},
		{"allowed bin weights-only refused without option", org, "my-org/m", "pytorch_model.bin", factsWeightsOnly, false, RulePickleContent, "weights_only_pickles is off"},
		{"allowed bin that is not a pickle passes", org, "my-org/m", "tokens.bin", factsRawBin, true, "allow-our-bin", ""},
		{"rule-level weights-only accepts", org, "my-org/m", "ckpt.pt", factsWeightsOnly, true, "allow-our-pt", "weights-only"},
		{"rule-level weights-only still refuses code", org, "my-org/m", "ckpt.pt", factsUnsafePkl, false, RuleUnsafeContent, ""},
		{"rule-level weights-only is per repo", org, "other/m", "ckpt.pt", factsWeightsOnly, false, RulePickleNames, ""},

		{"audit: refusal recorded, not enforced", audit, "o/m", "model.safetensors", factsUnsafePkl, true, RuleUnsafeContent, "os.system"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.p.ContentFacts(Model, c.repo, c.path, c.facts)
			if d.Allow != c.allow || d.Rule != c.rule || !strings.Contains(d.Reason, c.reasonHas) {
				t.Errorf("ContentFacts(%q, %q) = %+v; want allow %v rule %q reason containing %q",
					c.repo, c.path, d, c.allow, c.rule, c.reasonHas)
			}
			if d.Reason == "" {
				t.Errorf("no reason: %+v", d)
			}
			if d.WeightsOnly {
				t.Errorf("Content must settle the weights-only condition: %+v", d)
			}
		})
	}
	if d := audit.ContentFacts(Model, "o/m", "x.safetensors", factsUnsafePkl); !d.Audit {
		t.Errorf("audit mode content refusal without Audit flag: %+v", d)
	}
}

package policy

import (
	"testing"
)

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

type fileCase struct {
	name  string
	typ   RepoType
	repo  string
	path  string
	allow bool
	rule  string
}

func checkFiles(t *testing.T, p *Policy, cases []fileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ := c.typ
			if typ == "" {
				typ = Model
			}
			d := p.File(typ, c.repo, c.path)
			if d.Allow != c.allow || d.Rule != c.rule {
				t.Errorf("File(%s, %q, %q) = allow %v rule %q (%s); want allow %v rule %q",
					typ, c.repo, c.path, d.Allow, d.Rule, d.Reason, c.allow, c.rule)
			}
			if d.Reason == "" {
				t.Errorf("decision without a reason: %+v", d)
			}
		})
	}
}

func TestDefaultNames(t *testing.T) {
	checkFiles(t, Default(), []fileCase{
		{"bin at root", Model, "org/m", "pytorch_model.bin", false, RulePickleNames},
		{"upper-case extension", Model, "org/m", "PYTORCH_MODEL.BIN", false, RulePickleNames},
		{"mixed case nested", Model, "org/m", "sub/dir/x.BiN", false, RulePickleNames},
		{"pt", Model, "org/m", "a.pt", false, RulePickleNames},
		{"pth", Model, "org/m", "a.pth", false, RulePickleNames},
		{"pkl in dataset", Dataset, "org/d", "data/x.pkl", false, RulePickleNames},
		{"pickle in space", Space, "org/s", "x.pickle", false, RulePickleNames},
		{"ckpt", Model, "org/m", "v1-5.ckpt", false, RulePickleNames},
		{"joblib", Model, "org/m", "model.joblib", false, RulePickleNames},
		{"dill", Model, "org/m", "f.dill", false, RulePickleNames},
		{"leading slash", Model, "org/m", "/x.bin", false, RulePickleNames},
		{"safetensors", Model, "org/m", "model.safetensors", true, RuleDefaultAllow},
		{"bin index json", Model, "org/m", "pytorch_model.bin.index.json", true, RuleDefaultAllow},
		{"config", Model, "org/m", "config.json", true, RuleDefaultAllow},
		{"folder named x.bin", Model, "org/m", "x.bin/readme.md", true, RuleDefaultAllow},
		{"no extension", Model, "gpt2", "README", true, RuleDefaultAllow},
		{"binx is not bin", Model, "org/m", "x.binx", true, RuleDefaultAllow},
	})
}

const orderPolicy = `
rules:
  - name: block-evil
    action: deny
    repos: ["evil-org/*"]
    reason: "this organisation is blocked"
  - name: allow-our-bin
    action: allow
    repos: ["my-org/*"]
    repo_types: [model]
    files: ["*.bin"]
  - name: no-remote-code
    action: deny
    files: ["*.py"]
    reason: "remote code is disabled on this server"
  - name: our-scripts
    action: allow
    repos: ["my-org/*"]
    files: ["*.py"]
  - name: weights-folder
    action: deny
    repos: ["lab/*"]
    files: ["weights/**"]
`

func TestEvaluationOrder(t *testing.T) {
	p := mustParse(t, orderPolicy)
	checkFiles(t, p, []fileCase{
		{"repo-level deny refuses safetensors", Model, "evil-org/m", "model.safetensors", false, "block-evil"},
		{"repo-level deny case-insensitive repo", Model, "Evil-Org/M", "config.json", false, "block-evil"},
		{"repo-level deny in every type", Dataset, "evil-org/d", "x.csv", false, "block-evil"},
		{"allow lifts pickle name for our org", Model, "my-org/m", "pytorch_model.bin", true, "allow-our-bin"},
		{"allow lifts nested too", Model, "my-org/m", "sub/X.BIN", true, "allow-our-bin"},
		{"allow is per repo type", Dataset, "my-org/d", "x.bin", false, RulePickleNames},
		{"allow does not lift other names", Model, "my-org/m", "x.pt", false, RulePickleNames},
		{"other orgs keep the default", Model, "other/m", "x.bin", false, RulePickleNames},
		{"first match wins over later allow", Model, "my-org/m", "modeling.py", false, "no-remote-code"},
		{"deny py nested", Space, "a/b", "src/app.py", false, "no-remote-code"},
		{"path glob with folder", Model, "lab/x", "weights/a/b.safetensors", false, "weights-folder"},
		{"path glob does not match base elsewhere", Model, "lab/x", "other/weights", true, RuleDefaultAllow},
		{"nothing matches", Model, "lab/x", "config.json", true, RuleDefaultAllow},
	})
	if d := p.Repo(Model, "evil-org/anything"); d.Allow || d.Rule != "block-evil" || d.Reason != "this organisation is blocked" {
		t.Errorf("Repo(evil-org) = %+v", d)
	}
	if d := p.Repo(Model, "my-org/m"); !d.Allow || d.Rule != RuleDefaultAllow {
		t.Errorf("Repo(my-org) = %+v: file rules must not decide a repo", d)
	}
}

func TestRepoLevelDenyBeatsEarlierFileAllow(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: allow-bin
    action: allow
    files: ["*.bin"]
  - name: block-secret
    action: deny
    repos: ["corp/secret"]
`)
	checkFiles(t, p, []fileCase{
		{"denied repo stays denied", Model, "corp/secret", "x.bin", false, "block-secret"},
		{"elsewhere the allow applies", Model, "corp/open", "x.bin", true, "allow-bin"},
	})
}

func TestRepoGlobsPerType(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: no-spaces
    action: deny
    repo_types: [space]
  - name: allow-public-dataset
    action: allow
    repos: ["lab/public-*"]
    repo_types: [dataset]
  - name: no-lab-datasets
    action: deny
    repos: ["lab/*"]
    repo_types: [dataset]
  - name: single-name
    action: deny
    repos: ["gpt2"]
`)
	cases := []struct {
		typ   RepoType
		repo  string
		allow bool
		rule  string
	}{
		{Space, "any/space", false, "no-spaces"},
		{Model, "any/model", true, RuleDefaultAllow},
		{Dataset, "lab/public-data", true, "allow-public-dataset"},
		{Dataset, "lab/private", false, "no-lab-datasets"},
		{Model, "lab/private", true, RuleDefaultAllow},
		{Model, "gpt2", false, "single-name"},
		{Model, "GPT2", false, "single-name"},
		{Model, "openai-community/gpt2", true, RuleDefaultAllow},
		{Dataset, "lab/sub/deeper", true, RuleDefaultAllow}, // * does not cross /
	}
	for _, c := range cases {
		d := p.Repo(c.typ, c.repo)
		if d.Allow != c.allow || d.Rule != c.rule {
			t.Errorf("Repo(%s, %q) = %+v; want allow %v rule %q", c.typ, c.repo, d, c.allow, c.rule)
		}
	}
}

func TestDefaultsOff(t *testing.T) {
	p := mustParse(t, "defaults: false\n")
	checkFiles(t, p, []fileCase{
		{"bin passes the name stage", Model, "o/m", "pytorch_model.bin", true, RuleDefaultAllow},
	})
}

func TestAuditMode(t *testing.T) {
	p := mustParse(t, `
mode: audit
rules:
  - name: block-evil
    action: deny
    repos: ["evil/*"]
`)
	if p.Mode() != ModeAudit {
		t.Fatalf("Mode() = %q", p.Mode())
	}
	d := p.File(Model, "o/m", "pytorch_model.bin")
	if !d.Allow || !d.Audit || d.Rule != RulePickleNames || !d.Refused() {
		t.Errorf("audit File = %+v; want allowed, audit, rule %s", d, RulePickleNames)
	}
	d = p.Repo(Model, "evil/x")
	if !d.Allow || !d.Audit || d.Rule != "block-evil" {
		t.Errorf("audit Repo = %+v", d)
	}
	d = p.File(Model, "o/m", "model.safetensors")
	if !d.Allow || d.Audit || d.Refused() {
		t.Errorf("audit File of an allowed file = %+v; want no audit flag", d)
	}
}

func TestWeightsOnlyNameStage(t *testing.T) {
	p := mustParse(t, "weights_only_pickles: true\n")
	d := p.File(Model, "o/m", "pytorch_model.bin")
	if !d.Allow || !d.WeightsOnly || d.Rule != RulePickleNames {
		t.Errorf("File with weights_only_pickles = %+v; want allowed on condition (WeightsOnly)", d)
	}
	if d := Default().File(Model, "o/m", "pytorch_model.bin"); d.Allow || d.WeightsOnly {
		t.Errorf("default File = %+v; want refused", d)
	}
}

func TestDecisionReasons(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: plain-deny
    action: deny
    files: ["*.exe"]
  - name: plain-allow
    action: allow
    files: ["*.pt"]
`)
	if d := p.File(Model, "o/m", "a.exe"); d.Reason != "refused by rule plain-deny" {
		t.Errorf("reason = %q", d.Reason)
	}
	if d := p.File(Model, "o/m", "a.pt"); d.Reason != "allowed by rule plain-allow" {
		t.Errorf("reason = %q", d.Reason)
	}
	if d := Default().File(Model, "o/m", "a.pt"); d.Reason != ReasonPickleNames {
		t.Errorf("reason = %q", d.Reason)
	}
}

func TestGlobs(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: ckpt-tree
    action: deny
    repos: ["**"]
    files: ["checkpoints/**/*.pt"]
  - name: top-level-only
    action: deny
    repos: ["*"]
    files: ["*.onnx"]
  - name: alternatives
    action: deny
    files: ["*.{npy,npz}", "data-[0-9].arrow"]
  - name: any-depth-folder
    action: deny
    files: ["**/secrets/**"]
`)
	checkFiles(t, p, []fileCase{
		{"** spans zero folders", Model, "a/b", "checkpoints/x.pt", false, "ckpt-tree"},
		{"** spans many folders", Model, "a/b", "checkpoints/a/b/C.PT", false, "ckpt-tree"},
		{"path glob anchored at root", Model, "a/b", "x/checkpoints/y.pt", false, RulePickleNames},
		{"* repo glob: single-name repo", Model, "gpt2", "m.onnx", false, "top-level-only"},
		{"* repo glob: not org/name", Model, "org/m", "m.onnx", true, RuleDefaultAllow},
		{"brace alternatives", Dataset, "o/d", "sub/X.NPZ", false, "alternatives"},
		{"character class", Dataset, "o/d", "data-7.arrow", false, "alternatives"},
		{"character class miss", Dataset, "o/d", "data-x.arrow", true, RuleDefaultAllow},
		{"folder at any depth", Model, "o/m", "a/secrets/b/c.txt", false, "any-depth-folder"},
	})
}

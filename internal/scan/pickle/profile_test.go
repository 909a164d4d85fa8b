package pickle

import (
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

func TestListsEmbeddedMatchShared(t *testing.T) {
	tb, err := loadTables()
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.torchAllowed) < 100 || len(tb.denyPaths) < 100 || len(tb.denyComponents) < 20 ||
		len(tb.neverAllow) < 20 || len(tb.sinks) < 10 || len(tb.importMapping) < 40 || len(tb.nameMapping) < 40 {
		t.Fatalf("lists.json looks incomplete: %d allowed, %d deny paths", len(tb.torchAllowed), len(tb.denyPaths))
	}
}

// No allowlist entry of any profile may match the deny rules or never_allow.
func TestNoAllowlistEntryIsDenied(t *testing.T) {
	for _, name := range ProfileNames() {
		p := mustProfile(t, name)
		for _, n := range p.AllowedNames() {
			if p.denied(n) {
				t.Errorf("profile %s allows %s, which the deny-list matches", name, n)
			}
			if p.t.neverAllow[n] {
				t.Errorf("profile %s allows never_allow name %s", name, n)
			}
			mod, attr := n[:strings.LastIndexByte(n, '.')], n[strings.LastIndexByte(n, '.')+1:]
			if d := p.classify(mod, attr); d.verdict != finding.Safe {
				t.Errorf("profile %s: allowlisted %s classifies as %v (%s)", name, n, d.verdict, d.reason)
			}
		}
	}
}

func TestProfileRefusesNeverAllow(t *testing.T) {
	p := mustProfile(t, "torch-weights-only")
	bad := &Profile{Name: "bad", allowed: map[string]bool{"torch.Tensor": true, "dill.loads": true, "builtins.type": true, "os.getcwd": true}, t: p.t}
	err := bad.validate()
	if err == nil || !strings.Contains(err.Error(), "dill.loads") || !strings.Contains(err.Error(), "builtins.type") ||
		!strings.Contains(err.Error(), "os.getcwd") {
		t.Fatalf("validate: %v", err)
	}
	if _, err := LoadProfile("no-such-profile"); err == nil {
		t.Fatal("unknown profile accepted")
	}
}

func TestClassify(t *testing.T) {
	p := mustProfile(t, "torch-weights-only")
	cases := []struct {
		mod, name string
		want      finding.Verdict
	}{
		{"torch._utils", "_rebuild_tensor_v2", finding.Safe},
		{"collections", "OrderedDict", finding.Safe},
		{"__builtin__", "set", finding.Safe},            // mapped to builtins.set
		{"copy_reg", "_reconstructor", finding.Unknown}, // mapped copyreg._reconstructor, not allowlisted
		{"torch", "Tensor.__reduce_ex__", finding.Unsafe},
		{"torch._utils", "_rebuild_tensor_v2.x", finding.Unknown}, // never allow by prefix
		{"os", "getcwd", finding.Unsafe},
		{"urllib2", "urlopen", finding.Unsafe},
		{"httplib", "HTTPConnection", finding.Unsafe},
		{"cPickle", "loads", finding.Unsafe},
		{"numpy", "ndarray", finding.Unknown},
		{"torch.distributed.tensor", "DTensor", finding.Unknown},
	}
	for _, c := range cases {
		if d := p.classify(c.mod, c.name); d.verdict != c.want {
			t.Errorf("classify(%s, %s) = %v (%s), want %v", c.mod, c.name, d.verdict, d.reason, c.want)
		}
	}
}

func TestSniff(t *testing.T) {
	cases := []struct {
		in          string
		strict, lse bool
	}{
		{"\x80\x02}q\x00.", true, true},
		{"\x80\x05\x95", true, true},
		{"\x80\x06", false, false},
		{"(dp0\nS'a'\np1\nI1\ns.", false, true},
		{"cos\nsystem\n(S'id'\ntR.", false, true},
		{"}q\x00(X\x01\x00\x00\x00aK\x01u.", false, true},
		{"# README\nsome text", false, false},
		{"Hello world, this is text", false, false},
		{"import torch\nimport os\n", false, false},
		{"PK\x03\x04", false, false},
		{"", false, false},
		{".", false, false},
	}
	for _, c := range cases {
		if got := Sniff([]byte(c.in), false); got != c.strict {
			t.Errorf("Sniff(%q, strict) = %v", c.in, got)
		}
		if got := Sniff([]byte(c.in), true); got != c.lse {
			t.Errorf("Sniff(%q, loose) = %v", c.in, got)
		}
	}
}

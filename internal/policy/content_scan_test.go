package policy

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan"
)

// scanBytes runs the real scanner on b as a file named name.
func scanBytes(t *testing.T, p *Policy, name string, b []byte) *scan.Result {
	t.Helper()
	r, err := scan.Scan(context.Background(), bytes.NewReader(b), int64(len(b)), scan.Options{Profile: p.ScanProfile(), NameHint: name})
	if err != nil {
		t.Fatalf("scan %s: %v", name, err)
	}
	return r
}

func safetensorsBytes() []byte {
	header := []byte(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`)
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.Write(header)
	b.Write([]byte{0, 0, 128, 63})
	return b.Bytes()
}

// Built as bytes and never unpickled: protocol 2, os.system("true").
var (
	pickleOSSystem = []byte("\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")
	pickleIntDict  = []byte("\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.")
)

// TestContentWithScanner joins the policy to the real scanner's results.
func TestContentWithScanner(t *testing.T) {
	def := Default()
	wo := mustParse(t, "weights_only_pickles: true\n")
	cases := []struct {
		name      string
		p         *Policy
		path      string
		data      []byte
		allow     bool
		rule      string
		reasonHas string
	}{
		{"real safetensors", def, "model.safetensors", safetensorsBytes(), true, RuleDefaultAllow, ""},
		{"code pickle named safetensors", def, "model.safetensors", pickleOSSystem, false, RuleUnsafeContent, "it is a pickle, not safetensors"},
		{"code pickle under a neutral name", wo, "data/blob", pickleOSSystem, false, RuleUnsafeContent, "os.system"},
		{"plain-data pickle refused by default", def, "state", pickleIntDict, false, RulePickleContent, "weights_only_pickles is off"},
		{"plain-data pickle .pkl accepted with the option", wo, "state.pkl", pickleIntDict, true, RuleWeightsOnlyPickles, "weights-only"},
		{"plain-data pickle disguised as json", wo, "config.json", pickleIntDict, false, RulePickleContent, "not JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := scanBytes(t, c.p, c.path, c.data)
			d := c.p.Content(Model, "o/m", c.path, res)
			if d.Allow != c.allow || d.Rule != c.rule || !strings.Contains(d.Reason, c.reasonHas) {
				t.Errorf("Content(%s) = %+v (scan: %s %s pickle=%v %q); want allow %v rule %q reason containing %q",
					c.path, d, res.Format, res.Verdict, res.PickleBearing, res.Reason(), c.allow, c.rule, c.reasonHas)
			}
		})
	}
	if d := def.Content(Model, "o/m", "config.json", nil); d.Allow || d.Rule != RuleNotScanned {
		t.Errorf("Content(nil) = %+v; want refused as not scanned", d)
	}
}

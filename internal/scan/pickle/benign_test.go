package pickle

import (
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Files produced by real torch/numpy/joblib/pickle (testdata/gen_benign.py).
func TestBenignRealFiles(t *testing.T) {
	cases := []struct {
		file    string
		profile string
		ctx     Context
		want    finding.Verdict
	}{
		{"torch_state_dict.data.pkl", "torch-weights-only", TorchZip, finding.Safe},
		{"torch_module_state_dict.data.pkl", "torch-weights-only", TorchZip, finding.Safe},
		{"rng_state.data.pkl", "torch-numpy", TorchZip, finding.Safe},
		{"rng_state.data.pkl", "torch-weights-only", TorchZip, finding.Unknown},
		{"joblib_numeric.pkl", "joblib", Joblib, finding.Safe},
		{"joblib_object.pkl", "joblib", Joblib, finding.Safe},
		{"plain_p0.pkl", "torch-weights-only", Plain, finding.Safe},
		{"plain_p1.pkl", "torch-weights-only", Plain, finding.Safe},
		{"plain_p2.pkl", "torch-weights-only", Plain, finding.Safe},
		{"plain_p3.pkl", "torch-weights-only", Plain, finding.Safe},
		{"plain_p4.pkl", "torch-weights-only", Plain, finding.Safe},
		{"plain_p5.pkl", "torch-weights-only", Plain, finding.Safe},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.profile, func(t *testing.T) {
			data := readTestdata(t, c.file)
			res := scanBytes(t, data, Options{Profile: mustProfile(t, c.profile), Context: c.ctx})
			if res.Verdict != c.want {
				t.Fatalf("verdict %v, want %v; findings:%s", res.Verdict, c.want, describe(res))
			}
			if c.want == finding.Safe && (!res.Complete || res.End != int64(len(data))) {
				t.Fatalf("complete=%v end=%d of %d", res.Complete, res.End, len(data))
			}
		})
	}
}

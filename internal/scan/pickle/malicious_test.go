package pickle

import (
	"fmt"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Pickles written by real Python (testdata/gen_malicious.py, never loaded).
func TestMaliciousRealFiles(t *testing.T) {
	for p := 0; p <= 5; p++ {
		name := fmt.Sprintf("evil_p%d.pkl", p)
		t.Run(name, func(t *testing.T) {
			res := scanBytes(t, readTestdata(t, name), Options{})
			// os.system pickles as posix.system on Linux.
			if res.Verdict != finding.Unsafe || !hasFinding(res, finding.Unsafe, "posix.system") {
				t.Fatalf("verdict %v%s", res.Verdict, describe(res))
			}
		})
	}
	for _, name := range []string{"evil_nested_p2.pkl", "evil_nested_p4.pkl"} {
		t.Run(name, func(t *testing.T) {
			res := scanBytes(t, readTestdata(t, name), Options{})
			// Protocol 2 writes subprocess.getoutput under its Python-2 name.
			if res.Verdict != finding.Unsafe || !(hasFinding(res, finding.Unsafe, "pickle.loads → commands.getoutput") ||
				hasFinding(res, finding.Unsafe, "pickle.loads → subprocess.getoutput")) {
				t.Fatalf("verdict %v%s", res.Verdict, describe(res))
			}
		})
	}
	t.Run("evil_torch.data.pkl", func(t *testing.T) {
		res := scanBytes(t, readTestdata(t, "evil_torch.data.pkl"), Options{Context: TorchZip})
		if res.Verdict != finding.Unsafe || !hasFinding(res, finding.Unsafe, "posix.system") {
			t.Fatalf("verdict %v%s", res.Verdict, describe(res))
		}
	})
}

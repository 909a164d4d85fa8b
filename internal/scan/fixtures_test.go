package scan

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Benign files written by the real libraries (testdata/gen.py) must be
// identified and come out safe; the pickle-bearing ones say so.
func TestFixtures(t *testing.T) {
	cases := []struct {
		file, format string
		verdict      finding.Verdict
		pickle       bool
	}{
		{"torch_zip.pt", "pytorch-zip", finding.Safe, true},
		{"torch_legacy.pt", "pytorch-legacy", finding.Safe, true},
		{"torch_legacy.tar", "pytorch-tar", finding.Safe, true},
		{"numeric.npy", "numpy", finding.Safe, false},
		{"object.npy", "numpy", finding.Unknown, true}, // numpy globals are outside torch-weights-only
		{"arrays.npz", "npz", finding.Safe, false},
		{"arrays_compressed.npz", "npz", finding.Safe, false},
		{"plain.joblib", "joblib", finding.Safe, true},
		{"compressed.joblib.zlib", "joblib", finding.Safe, true},
		{"compressed.joblib.gzip", "joblib", finding.Safe, true},
		{"compressed.joblib.bz2", "joblib", finding.Safe, true},
		{"compressed.joblib.xz", "joblib", finding.Safe, true},
		{"compressed.joblib.lzma", "joblib", finding.Safe, true},
		{"compressed.joblib.lz4", "joblib", finding.Safe, true},
		{"keras_plain.h5", "keras", finding.Safe, false},
		{"keras_lambda.h5", "keras", finding.Unsafe, false},
		{"torchscript.pt", "torchscript", finding.Unknown, true},
		{"keras_latest.h5", "keras", finding.Unsafe, false}, // superblock v3, v2 object headers
		{"long_pax.tar", "tar", finding.Safe, true},
		{"long_gnu.tar", "tar", finding.Safe, true},
		{"rng_state.pth", "pytorch-zip", finding.Unknown, true}, // numpy globals: torch-numpy profile needed
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			r, err := ScanFile(context.Background(), filepath.Join("testdata", c.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			expect(t, r, c.format, c.verdict)
			if r.PickleBearing != c.pickle {
				t.Errorf("PickleBearing = %v, want %v", r.PickleBearing, c.pickle)
			}
			if c.pickle && r.Reason() == "" {
				t.Error("pickle-bearing file has no Reason")
			}
		})
	}
}

// The numpy-tolerant profile accepts an object array of plain values.
func TestObjectNpyUnderNumpyProfile(t *testing.T) {
	r, err := ScanFile(context.Background(), "testdata/object.npy", Options{Profile: "torch-numpy"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict == finding.Unsafe || !r.PickleBearing {
		t.Fatalf("verdict %s pickle %v", r.Verdict, r.PickleBearing)
	}
}

// HF Trainer's rng_state.pth is safe under the numpy-tolerant profile.
func TestRNGStateUnderNumpyProfile(t *testing.T) {
	r, err := ScanFile(context.Background(), "testdata/rng_state.pth", Options{Profile: "torch-numpy"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r, "pytorch-zip", finding.Safe)
}

func TestUnknownProfileIsAnError(t *testing.T) {
	if err := ValidateProfile("no-such-profile"); err == nil {
		t.Fatal("ValidateProfile accepted a misspelt profile")
	}
	if _, err := ScanFile(context.Background(), "testdata/numeric.npy", Options{Profile: "nope"}); err == nil {
		t.Fatal("ScanFile accepted a misspelt profile")
	}
}

func TestReasonWording(t *testing.T) {
	r := scanBytes(t, "model.safetensors", evilP2)
	expect(t, r, "pickle", finding.Unsafe)
	if got, want := r.Reason(), "it is a pickle, not safetensors"; got != want {
		t.Errorf("Reason() = %q, want %q", got, want)
	}
	if got := r.ReasonFor("weights.gguf"); got != "it is a pickle, not GGUF" {
		t.Errorf("ReasonFor = %q", got)
	}
	r = scanBytes(t, "pytorch_model.bin", evilP2)
	if got := r.Reason(); got != "its pickle calls posix.system" && got != "its pickle calls os.system" {
		t.Errorf("Reason() = %q, want the callable named", got)
	}
	r = scanBytes(t, "pytorch_model.bin", readFixture(t, "torch_zip.pt"))
	if got, want := r.Reason(), "it holds pickled code (pytorch-zip)"; got != want {
		t.Errorf("Reason() = %q, want %q", got, want)
	}
	r = scanBytes(t, "config.json", []byte(`{"a": 1}`))
	expect(t, r, "json", finding.Safe)
	if r.Reason() != "" {
		t.Errorf("safe JSON has Reason %q", r.Reason())
	}
}

// Long member names come from pax records or GNU long-name members.
func TestTarLongNames(t *testing.T) {
	want := "d/" + strings.Repeat("n", 150) + "/weights.pkl"
	for _, f := range []string{"long_pax.tar", "long_gnu.tar"} {
		b := readFixture(t, f)
		var names []string
		if err := walkTar(bytes.NewReader(b), int64(len(b)), 10, func(m tarMember) bool {
			names = append(names, m.Name)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 || names[0] != want {
			t.Errorf("%s: names %q", f, names)
		}
	}
}

package pickle

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/scan/finding"
)

// FuzzScanStream checks that no input panics, hangs or yields a verdict out
// of range, in every loader context and both nested/non-nested settings.
func FuzzScanStream(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.pkl"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		f.Add(b, uint8(1))
		f.Add(b, uint8(3))
	}
	st := pk{}.storagePID("FloatStorage", "0", 4)
	for _, seed := range [][]byte{
		evil(),
		pk{}.proto(4).str("posixpath").str("os.system").stackGlobal().str("id").tuple1().reduce().stop(),
		pk{}.proto(4).global("pickle", "loads").binbytes8(evil()).tuple1().reduce().stop(),
		pk{}.proto(2).global("dill", "loads").global("_codecs", "encode").binunicode(latin1Str(evil())).str("latin1").op(opTUPLE2).reduce().tuple1().reduce().stop(),
		pk{}.proto(4).frame(3).str("abcdef").stop(),
		pk{}.proto(2).raw(rebuild(st, 0, 10, 1)).stop(),
		pk{}.proto(4).raw(joblibWrapperOf("u1", 4, true)).raw([]byte{1, 0xff, 1, 2, 3, 4}).stop(),
		pk{}.mark().pstr("id").inst("os", "system").op(opPOP).none().stop(),
		[]byte("(dp0\nS'a'\np1\nI1\ns."),
		pk{}.proto(2).op(opEXT1, 1).stop(),
	} {
		for c := uint8(0); c < 4; c++ {
			f.Add(seed, c)
		}
	}
	prof := mustProfile(f, "torch-numpy")
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		lim := DefaultLimits()
		lim.MaxOpcodes = 200_000 // keep each input fast; limits are tested elsewhere
		opts := Options{Profile: prof, Limits: lim, Context: Context(sel % 4)}
		if sel&4 != 0 {
			opts.Nested = func(_ context.Context, b []byte, chain string, depth int) []finding.Finding {
				return []finding.Finding{{Verdict: finding.Unknown, Reason: "nested", Chain: chain}}
			}
		}
		start := time.Now()
		res := ScanStreams(context.Background(), bytes.NewReader(data), 0, int64(len(data)), opts)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("scan of %d bytes took %v", len(data), d)
		}
		if res.Verdict < finding.Safe || res.Verdict > finding.Unsafe {
			t.Fatalf("verdict out of range: %d", res.Verdict)
		}
		if res.End < 0 || res.End > int64(len(data)) {
			t.Fatalf("End %d outside [0, %d]", res.End, len(data))
		}
		worst := finding.Safe
		for _, fd := range res.Findings {
			if fd.Verdict < finding.Safe || fd.Verdict > finding.Unsafe {
				t.Fatalf("finding verdict out of range: %+v", fd)
			}
			worst = finding.Worst(worst, fd.Verdict)
		}
		if worst > res.Verdict {
			t.Fatalf("a finding (%v) is worse than the verdict (%v)", worst, res.Verdict)
		}
		if res.Verdict == finding.Safe && !res.Complete && len(data) > 0 {
			t.Fatalf("safe verdict for an incomplete parse")
		}
		// Sniff must agree with itself and never panic.
		Sniff(data, false)
		Sniff(data, true)
	})
}

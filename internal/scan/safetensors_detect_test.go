package scan

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// A declared header length that runs past the file is a malformed
// safetensors file, judged as one (unknown with the reason), whatever the
// file's name; so is anything named .safetensors. Opaque data and text stay
// "data"/"text" and safe.
func TestSafetensorsMalformedLength(t *testing.T) {
	pastEOF := binary.LittleEndian.AppendUint64(nil, 1<<20)
	pastEOF = append(pastEOF, `{"a":1}`...)
	overLimit := binary.LittleEndian.AppendUint64(nil, 200_000_000)
	overLimit = append(overLimit, `{"a":1}`...)
	cases := []struct {
		name string
		b    []byte
		why  string
	}{
		{"c37.safetensors", pastEOF, "safetensors header length 1048576 exceeds the file"},
		{"weights.bin", pastEOF, "safetensors header length 1048576 exceeds the file"},
		{"weights.bin", overLimit, "100,000,000-byte limit"},
		{"model.safetensors", []byte{1, 2, 3}, "fewer than the 8-byte header length"},
		{"model.safetensors", []byte("version https://git-lfs.github.com/spec/v1\n"), "exceeds"},
		{"model.safetensors", append(binary.LittleEndian.AppendUint64(nil, 4), "[1,2]"...), "start with '{'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := scanBytes(t, c.name, c.b)
			expect(t, r, "safetensors", finding.Unknown)
			if !hasReason(r, c.why) {
				t.Errorf("no finding mentions %q: %+v", c.why, r.Findings)
			}
		})
	}

	// Byte 8 is '{' but the length's high bytes are not zero: data.
	noisy := []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, '{', '"', 0, 0xff}
	expect(t, scanBytes(t, "weights.bin", noisy), "data", finding.Safe)
	// Eight printable bytes then '{"' is text, never a length.
	expect(t, scanBytes(t, "app.js", []byte(`var x = {"a": 1};`+"\n")), "text", finding.Safe)
	// Random binary blobs under a neutral name stay opaque data.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		b := make([]byte, 64+i)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		b[0] = 0xfe // no magic of any format starts so
		r := scanBytes(t, "blob.bin", b)
		if r.Format != "data" || r.Verdict != finding.Safe {
			t.Fatalf("random blob %d: format %q verdict %s", i, r.Format, r.Verdict)
		}
	}
}

package scan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// lz4Frame builds an LZ4 frame around ready-made blocks. flg's version bits
// are set here; bd 0x40 is the 64 KiB block maximum. Checksums are zeros,
// which the decoder skips.
func lz4Frame(flg, bd byte, size int64, blocks ...[]byte) []byte {
	b := []byte{0x04, 0x22, 0x4d, 0x18, 0x40 | flg, bd}
	if size >= 0 {
		b[4] |= 0x08
		b = binary.LittleEndian.AppendUint64(b, uint64(size))
	}
	b = append(b, 0) // header checksum
	for _, blk := range blocks {
		b = append(b, blk...)
		if flg&0x10 != 0 {
			b = append(b, 0, 0, 0, 0)
		}
	}
	b = append(b, 0, 0, 0, 0) // EndMark
	if flg&0x04 != 0 {
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

// lz4Stored is a block stored uncompressed.
func lz4Stored(data []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(data))|0x80000000), data...)
}

// lz4Compressed is a block from raw LZ4 sequence bytes.
func lz4Compressed(seq []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(seq))), seq...)
}

func lz4Decode(frame []byte) ([]byte, error) {
	z, err := newLZ4FrameReader(bytes.NewReader(frame))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}

func TestLZ4Decode(t *testing.T) {
	// "ab" then a match of 10 at offset 2 (an overlapping run), then "!".
	runs := []byte{0x26, 'a', 'b', 0x02, 0x00, 0x10, '!'}
	// Block 2 of a linked frame: no literals, a match of 4 reaching 3 bytes
	// back into block 1, then the mandatory literal tail.
	cross := []byte{0x00, 0x03, 0x00, 0x10, '.'}
	long := bytes.Repeat([]byte("x"), 300)
	cases := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"stored", lz4Frame(0x20, 0x40, -1, lz4Stored([]byte("hello"))), "hello"},
		{"overlapping match", lz4Frame(0x20, 0x40, -1, lz4Compressed(runs)), "ab" + strings.Repeat("ab", 5) + "!"},
		{"linked blocks", lz4Frame(0x00, 0x40, 10, lz4Stored([]byte("abcde")), lz4Compressed(cross)), "abcde" + "cdec."},
		{"checksum flags and content size", lz4Frame(0x34, 0x70, 5, lz4Stored([]byte("he")), lz4Stored([]byte("llo"))), "hello"},
		{"long literal length", lz4Frame(0x20, 0x40, -1, lz4Compressed(append([]byte{0xf0, 255, 30}, long...))), string(long)},
		{"concatenated and skippable frames", append(append(lz4Frame(0x20, 0x40, -1, lz4Stored([]byte("one"))),
			0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'z', 'z', 'z'), lz4Frame(0x20, 0x40, -1, lz4Stored([]byte("two")))...), "onetwo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := lz4Decode(c.frame)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if string(got) != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestLZ4Corrupt(t *testing.T) {
	ok := lz4Frame(0x20, 0x40, -1, lz4Stored([]byte("hello")))
	cases := []struct {
		name  string
		frame []byte
		why   string
	}{
		{"offset before the data", lz4Frame(0x20, 0x40, -1, lz4Compressed([]byte{0x10, 'a', 0x05, 0x00, 0x10, 'b'})), "reaches before"},
		{"zero offset", lz4Frame(0x20, 0x40, -1, lz4Compressed([]byte{0x10, 'a', 0x00, 0x00, 0x10, 'b'})), "offset 0"},
		{"independent blocks cannot reach back", lz4Frame(0x20, 0x40, -1, lz4Stored([]byte("abcde")), lz4Compressed([]byte{0x00, 0x03, 0x00, 0x10, '.'})), "reaches before"},
		{"block over the maximum", lz4Frame(0x20, 0x40, -1, lz4Stored(make([]byte, 64<<10+1))), "block maximum"},
		{"decodes past the maximum", lz4Frame(0x20, 0x40, -1, lz4Compressed(append([]byte{0x1f, 'a', 1, 0}, append(bytes.Repeat([]byte{255}, 300), 0, 0x10, 'b')...))), "maximum size"},
		{"content size mismatch", lz4Frame(0x20, 0x40, 9, lz4Stored([]byte("hello"))), "declares 9"},
		{"dictionary", lz4Frame(0x21, 0x40, -1), "dictionary"},
		{"version", append([]byte{0x04, 0x22, 0x4d, 0x18, 0x80, 0x40, 0}, 0, 0, 0, 0), "version"},
		{"block code", append([]byte{0x04, 0x22, 0x4d, 0x18, 0x60, 0x30, 0}, 0, 0, 0, 0), "block maximum code"},
		{"trailing garbage", append(append([]byte{}, ok...), "junk"...), "bad frame magic"},
		{"truncated", ok[:len(ok)-6], "unexpected EOF"},
		{"sequence cut", lz4Frame(0x20, 0x40, -1, lz4Compressed([]byte{0x10, 'a', 0x01})), "truncated match offset"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := lz4Decode(c.frame)
			if err == nil || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("error %v, want one mentioning %q", err, c.why)
			}
		})
	}
}

// Frames written by the reference lz4 tool (testdata/gen.py) decode to
// their source, and the joblib inside is scanned.
func TestLZ4Fixtures(t *testing.T) {
	got, err := lz4Decode(readFixture(t, "compressed.joblib.lz4"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, readFixture(t, "plain.joblib")) {
		t.Fatalf("compressed.joblib.lz4 does not decode to plain.joblib (%d bytes)", len(got))
	}
	// 64 KiB linked blocks with block checksums and a content size.
	linked := readFixture(t, "linked.joblib.lz4")
	got, err = lz4Decode(linked)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 240267 || !bytes.HasPrefix(got, []byte("\x80\x04\x95")) {
		t.Fatalf("linked.joblib.lz4 decoded to %d bytes starting %q", len(got), got[:min(len(got), 8)])
	}
	expect(t, scanBytes(t, "m.joblib", linked), "joblib", finding.Safe)
}

func TestLZ4Joblib(t *testing.T) {
	r := scanBytes(t, "m.joblib", lz4Frame(0x20, 0x40, -1, lz4Stored(evilP2)))
	expect(t, r, "joblib", finding.Unsafe)
	if !hasReason(r, "system") {
		t.Errorf("payload not named: %+v", r.Findings)
	}
	// A corrupt frame is unknown with the decoder's reason, never safe.
	r = scanBytes(t, "m.joblib", lz4Frame(0x20, 0x40, -1, lz4Compressed([]byte{0x10, 'a', 0x05, 0x00, 0x10, 'b'})))
	expect(t, r, "lz4", finding.Unknown)
	if !hasReason(r, "reaches before") {
		t.Errorf("reason missing: %+v", r.Findings)
	}
}

// A tiny frame of long matches is a bomb: the ratio cap stops it.
func TestLZ4Bomb(t *testing.T) {
	seq := []byte{0x1f, 'a', 1, 0}
	seq = append(seq, bytes.Repeat([]byte{255}, 255)...)
	seq = append(seq, 0, 0x10, 'b')
	blk := lz4Compressed(seq) // ~65 KiB from ~270 bytes
	blocks := make([][]byte, 2000)
	for i := range blocks {
		blocks[i] = blk
	}
	r := scanBytes(t, "m.joblib", lz4Frame(0x20, 0x40, -1, blocks...), Options{MaxRatio: 10, MaxInflate: 4 << 20})
	if r.Verdict != finding.Unknown || !hasReason(r, "limit") {
		t.Fatalf("verdict %s; findings %+v", r.Verdict, r.Findings)
	}
}

func FuzzLZ4(f *testing.F) {
	f.Add(lz4Frame(0x20, 0x40, -1, lz4Stored([]byte("hello"))))
	f.Add(lz4Frame(0x00, 0x40, 10, lz4Stored([]byte("abcde")), lz4Compressed([]byte{0x00, 0x03, 0x00, 0x10, '.'})))
	f.Add(lz4Frame(0x34, 0x70, -1, lz4Compressed([]byte{0x26, 'a', 'b', 0x02, 0x00, 0x10, '!'})))
	for _, name := range []string{"compressed.joblib.lz4", "linked.joblib.lz4"} {
		f.Add(readFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		z, err := newLZ4FrameReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		// Output is unbounded by design (the inflater caps it); cap here.
		n, err := io.Copy(io.Discard, io.LimitReader(z, 64<<20))
		if err != nil && !errors.Is(err, errLZ4Corrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error kind after %d bytes: %v", n, err)
		}
	})
}

package scan

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Byte builders for the tests: every malicious input is built here as
// bytes and never unpickled.

// Protocol-0 pickles that call os.system / a harmless builtin.
const (
	evilP0   = "cos\nsystem\n(S'echo pwned'\ntR."
	benignP0 = "(dp0\nS'a'\np1\nI1\ns."
)

// evilP2 is pickle.dumps of a __reduce__ object calling os.system, protocol 2.
var evilP2 = []byte("\x80\x02cposix\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.")

// zipMember describes one member of a zip built by buildZip.
type zipMember struct {
	Name      string
	LocalName string // "" = Name
	Data      []byte
	Sparse    int64 // > 0: a stored member of this many bytes that are never written (sparse files)
	Deflate   bool
	Flags     uint16
	BadCRC    bool
}

// zipSink is where buildZip writes: skip leaves a hole (sparse on disk).
type zipSink interface {
	io.Writer
	skip(n int64) error
}

type memSink struct{ bytes.Buffer }

func (m *memSink) skip(n int64) error { _, err := m.Write(make([]byte, n)); return err }

type fileSink struct {
	f   *os.File
	off int64
}

func (s *fileSink) Write(p []byte) (int, error) {
	n, err := s.f.WriteAt(p, s.off)
	s.off += int64(n)
	return n, err
}
func (s *fileSink) skip(n int64) error { s.off += n; return nil }

// buildZip writes a zip (ZIP64 where sizes or offsets need it).
func buildZip(w zipSink, members []zipMember) error {
	type cdRec struct {
		m          zipMember
		crc        uint32
		csize, off int64
		usize      int64
		method     uint16
	}
	var recs []cdRec
	var off int64
	write := func(b []byte) error { _, err := w.Write(b); off += int64(len(b)); return err }
	for _, m := range members {
		data, method := m.Data, uint16(0)
		usize := int64(len(m.Data))
		if m.Deflate {
			var b bytes.Buffer
			fw, _ := flate.NewWriter(&b, flate.BestCompression)
			fw.Write(m.Data)
			fw.Close()
			data, method = b.Bytes(), 8
		}
		csize := int64(len(data))
		if m.Sparse > 0 {
			usize, csize = m.Sparse, m.Sparse
		}
		crc := crc32.ChecksumIEEE(m.Data)
		if m.BadCRC {
			crc ^= 0xdeadbeef
		}
		ln := m.LocalName
		if ln == "" {
			ln = m.Name
		}
		big := usize >= 0xffffffff || csize >= 0xffffffff
		var extra []byte
		us, cs := uint32(usize), uint32(csize)
		if big {
			extra = binary.LittleEndian.AppendUint16(nil, 1)
			extra = binary.LittleEndian.AppendUint16(extra, 16)
			extra = binary.LittleEndian.AppendUint64(extra, uint64(usize))
			extra = binary.LittleEndian.AppendUint64(extra, uint64(csize))
			us, cs = 0xffffffff, 0xffffffff
		}
		recs = append(recs, cdRec{m, crc, csize, off, usize, method})
		h := []byte("PK\x03\x04")
		h = binary.LittleEndian.AppendUint16(h, 45)
		h = binary.LittleEndian.AppendUint16(h, m.Flags)
		h = binary.LittleEndian.AppendUint16(h, method)
		h = binary.LittleEndian.AppendUint32(h, 0)
		h = binary.LittleEndian.AppendUint32(h, crc)
		h = binary.LittleEndian.AppendUint32(h, cs)
		h = binary.LittleEndian.AppendUint32(h, us)
		h = binary.LittleEndian.AppendUint16(h, uint16(len(ln)))
		h = binary.LittleEndian.AppendUint16(h, uint16(len(extra)))
		h = append(append(h, ln...), extra...)
		if err := write(h); err != nil {
			return err
		}
		if m.Sparse > 0 {
			if err := w.skip(m.Sparse); err != nil {
				return err
			}
			off += m.Sparse
		} else if err := write(data); err != nil {
			return err
		}
	}
	cdStart := off
	for _, r := range recs {
		var extra []byte
		us, cs, lo := uint32(r.usize), uint32(r.csize), uint32(r.off)
		if r.usize >= 0xffffffff || r.csize >= 0xffffffff || r.off >= 0xffffffff {
			extra = binary.LittleEndian.AppendUint16(nil, 1)
			extra = binary.LittleEndian.AppendUint16(extra, 24)
			extra = binary.LittleEndian.AppendUint64(extra, uint64(r.usize))
			extra = binary.LittleEndian.AppendUint64(extra, uint64(r.csize))
			extra = binary.LittleEndian.AppendUint64(extra, uint64(r.off))
			us, cs, lo = 0xffffffff, 0xffffffff, 0xffffffff
		}
		h := []byte("PK\x01\x02")
		h = binary.LittleEndian.AppendUint16(h, 45)
		h = binary.LittleEndian.AppendUint16(h, 45)
		h = binary.LittleEndian.AppendUint16(h, r.m.Flags)
		h = binary.LittleEndian.AppendUint16(h, r.method)
		h = binary.LittleEndian.AppendUint32(h, 0)
		h = binary.LittleEndian.AppendUint32(h, r.crc)
		h = binary.LittleEndian.AppendUint32(h, cs)
		h = binary.LittleEndian.AppendUint32(h, us)
		h = binary.LittleEndian.AppendUint16(h, uint16(len(r.m.Name)))
		h = binary.LittleEndian.AppendUint16(h, uint16(len(extra)))
		h = append(h, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // comment length, disk, attributes
		h = binary.LittleEndian.AppendUint32(h, lo)
		h = append(append(h, r.m.Name...), extra...)
		if err := write(h); err != nil {
			return err
		}
	}
	cdSize := off - cdStart
	n := len(recs)
	if cdStart >= 0xffffffff {
		z64 := off
		e := []byte("PK\x06\x06")
		e = binary.LittleEndian.AppendUint64(e, 44)
		e = append(e, 45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		e = binary.LittleEndian.AppendUint64(e, uint64(n))
		e = binary.LittleEndian.AppendUint64(e, uint64(n))
		e = binary.LittleEndian.AppendUint64(e, uint64(cdSize))
		e = binary.LittleEndian.AppendUint64(e, uint64(cdStart))
		e = append(e, "PK\x06\x07\x00\x00\x00\x00"...)
		e = binary.LittleEndian.AppendUint64(e, uint64(z64))
		e = binary.LittleEndian.AppendUint32(e, 1)
		if err := write(e); err != nil {
			return err
		}
		cdStart = 0xffffffff
	}
	e := []byte("PK\x05\x06\x00\x00\x00\x00")
	e = binary.LittleEndian.AppendUint16(e, uint16(n))
	e = binary.LittleEndian.AppendUint16(e, uint16(n))
	e = binary.LittleEndian.AppendUint32(e, uint32(cdSize))
	e = binary.LittleEndian.AppendUint32(e, uint32(cdStart))
	e = append(e, 0, 0)
	return write(e)
}

func zipBytes(t testing.TB, members ...zipMember) []byte {
	t.Helper()
	var m memSink
	if err := buildZip(&m, members); err != nil {
		t.Fatal(err)
	}
	return m.Bytes()
}

// tarBytes builds a ustar archive; typ 0 = regular file.
type tarEntry struct {
	Name, Link string
	Typ        byte
	Data       []byte
}

func tarBytes(entries ...tarEntry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		h := make([]byte, 512)
		copy(h, e.Name)
		copy(h[100:], "0000644\x00")
		copy(h[108:], "0000000\x00")
		copy(h[116:], "0000000\x00")
		copy(h[124:], []byte(padOctal(int64(len(e.Data)), 11)+"\x00"))
		copy(h[136:], "00000000000\x00")
		typ := e.Typ
		if typ == 0 {
			typ = '0'
		}
		h[156] = typ
		copy(h[157:], e.Link)
		copy(h[257:], "ustar\x0000")
		copy(h[148:], "        ")
		sum := 0
		for _, c := range h {
			sum += int(c)
		}
		copy(h[148:], padOctal(int64(sum), 6)+"\x00 ")
		b.Write(h)
		b.Write(e.Data)
		if r := len(e.Data) % 512; r != 0 {
			b.Write(make([]byte, 512-r))
		}
	}
	b.Write(make([]byte, 1024))
	return b.Bytes()
}

func padOctal(v int64, width int) string {
	s := strings.TrimLeft(strings.Repeat("0", width)+formatOctal(v), "")
	return s[len(s)-width:]
}

func formatOctal(v int64) string {
	if v == 0 {
		return "0"
	}
	var out []byte
	for v > 0 {
		out = append([]byte{byte('0' + v%8)}, out...)
		v /= 8
	}
	return string(out)
}

// safetensorsBytes builds a file from a header object and a data length.
func safetensorsBytes(header string, dataLen int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, dataLen)...)
}

// ggufBytes builds a v3 GGUF with string KVs only.
func ggufBytes(kvs ...[2]string) []byte {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(kvs)))
	for _, kv := range kvs {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(kv[0])))
		b = append(b, kv[0]...)
		b = binary.LittleEndian.AppendUint32(b, 8)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(kv[1])))
		b = append(b, kv[1]...)
	}
	return b
}

// npyBytes builds a version 1.0 .npy with the given header dict and body.
func npyBytes(dict string, body []byte) []byte {
	h := dict
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(h)))
	return append(append(b, h...), body...)
}

// scanBytes scans b as a file named name.
func scanBytes(t testing.TB, name string, b []byte, opts ...Options) *Result {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.NameHint = name
	r, err := Scan(context.Background(), bytes.NewReader(b), int64(len(b)), o)
	if err != nil {
		t.Fatalf("Scan(%s): %v", name, err)
	}
	return r
}

// expect checks format and verdict, printing the findings on failure.
func expect(t testing.TB, r *Result, format string, v finding.Verdict) {
	t.Helper()
	if (format != "" && r.Format != format) || r.Verdict != v {
		js, _ := json.MarshalIndent(r.Findings, "", " ")
		t.Fatalf("got format %q verdict %s, want %q %s; findings: %s", r.Format, r.Verdict, format, v, js)
	}
}

// hasReason reports whether some finding's reason contains s.
func hasReason(r *Result, s string) bool {
	for _, f := range r.Findings {
		if strings.Contains(f.Reason, s) {
			return true
		}
	}
	return false
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture %s: %v (regenerate with testdata/gen.py)", name, err)
	}
	return b
}

// fixtureMembers returns a stored zip fixture's members in order.
func fixtureMembers(t testing.TB, b []byte) []zipMember {
	t.Helper()
	dir, err := readZipDir(bytes.NewReader(b), int64(len(b)), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []zipMember
	for i := range dir.Entries {
		e := &dir.Entries[i]
		off, _, _, err := dir.memberData(e, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, zipMember{Name: e.Name, Data: append([]byte(nil), b[off:off+int64(e.CompSize)]...)})
	}
	return out
}

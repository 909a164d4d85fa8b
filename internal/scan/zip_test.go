package scan

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// torchMembers returns the fixture's members with data.pkl replaced by
// pkl when pkl is non-nil.
func torchMembers(t *testing.T, pkl []byte) []zipMember {
	ms := fixtureMembers(t, readFixture(t, "torch_zip.pt"))
	if pkl != nil {
		for i := range ms {
			if strings.HasSuffix(ms[i].Name, "/data.pkl") {
				ms[i].Data = pkl
			}
		}
	}
	return ms
}

func TestTorchZipRebuiltIsSafe(t *testing.T) {
	// The builder itself must not introduce anomalies.
	r := scanBytes(t, "pytorch_model.bin", zipBytes(t, torchMembers(t, nil)...))
	expect(t, r, "pytorch-zip", finding.Safe)
}

func TestTorchZipMalicious(t *testing.T) {
	prefix := strings.Split(torchMembers(t, nil)[0].Name, "/")[0]
	cases := map[string]struct {
		members []zipMember
		verdict finding.Verdict
		why     string
	}{
		"evil data.pkl": {torchMembers(t, evilP2), finding.Unsafe, ""},
		"second pickle under another name": {
			append(torchMembers(t, nil), zipMember{Name: prefix + "/extra/notes.txt", Data: []byte(evilP0)}), finding.Unsafe, "does not run"},
		"upper-case DATA.PKL duplicate": {
			append(torchMembers(t, nil), zipMember{Name: prefix + "/DATA.PKL", Data: evilP2}), finding.Unsafe, "case-insensitive"},
		"member outside the prefix": {
			append(torchMembers(t, nil), zipMember{Name: "other/data.pkl", Data: evilP2}), finding.Unsafe, "outside the archive prefix"},
		"nested zip member": {
			append(torchMembers(t, nil), zipMember{Name: prefix + "/blob", Data: zipBytes(t, zipMember{Name: "x/data.pkl", Data: evilP2})}), finding.Unsafe, ""},
		"encrypted flag":     {flagged(torchMembers(t, evilP2), 0x1), finding.Unsafe, "flag bits"},
		"flag bits benign":   {flagged(torchMembers(t, nil), 0x40), finding.Unknown, "flag bits"},
		"local name differs": {renamedLocal(torchMembers(t, evilP2), "x/innocent.txt"), finding.Unsafe, "local header name"},
		"bad CRC":            {badCRC(torchMembers(t, nil)), finding.Unknown, "CRC"},
		"deflated data.pkl":  {deflated(torchMembers(t, evilP2)), finding.Unsafe, ""},
		"storage too small":  {shrunkStorage(t, torchMembers(t, nil)), finding.Unsafe, "out-of-bounds"},
		"storage missing":    {dropStorage(torchMembers(t, nil)), finding.Unknown, "has no data/"},
		"torchscript": {
			append(torchMembers(t, nil), zipMember{Name: prefix + "/constants.pkl", Data: []byte("\x80\x02).")}), finding.Unknown, "TorchScript"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := scanBytes(t, "pytorch_model.bin", zipBytes(t, c.members...))
			if r.Verdict != c.verdict || !r.PickleBearing {
				expect(t, r, "", c.verdict)
				t.Fatalf("PickleBearing false")
			}
			if c.why != "" && !hasReason(r, c.why) {
				t.Errorf("no finding mentions %q: %+v", c.why, r.Findings)
			}
		})
	}
}

func flagged(ms []zipMember, f uint16) []zipMember {
	for i := range ms {
		ms[i].Flags = f
	}
	return ms
}

func renamedLocal(ms []zipMember, local string) []zipMember {
	for i := range ms {
		if strings.HasSuffix(ms[i].Name, "data.pkl") {
			ms[i].LocalName = local
		}
	}
	return ms
}

func badCRC(ms []zipMember) []zipMember {
	for i := range ms {
		if strings.HasSuffix(ms[i].Name, "data.pkl") {
			ms[i].BadCRC = true
		}
	}
	return ms
}

func deflated(ms []zipMember) []zipMember {
	for i := range ms {
		ms[i].Deflate = true
	}
	return ms
}

func shrunkStorage(t *testing.T, ms []zipMember) []zipMember {
	for i := range ms {
		if strings.HasSuffix(ms[i].Name, "/data/0") {
			ms[i].Data = ms[i].Data[:4]
			return ms
		}
	}
	t.Fatal("fixture has no data/0")
	return nil
}

func dropStorage(ms []zipMember) []zipMember {
	var out []zipMember
	for _, m := range ms {
		if !strings.HasSuffix(m.Name, "/data/0") {
			out = append(out, m)
		}
	}
	return out
}

func TestZipWrappers(t *testing.T) {
	npyEvil := npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evilP2)
	cases := map[string]struct {
		b       []byte
		format  string
		verdict finding.Verdict
	}{
		"npz with object array":     {zipBytes(t, zipMember{Name: "a.npy", Data: npyEvil}), "npz", finding.Unsafe},
		"zip with pickle named txt": {zipBytes(t, zipMember{Name: "readme.txt", Data: evilP2, Deflate: true}), "zip", finding.Unsafe},
		"zip with safetensors":      {zipBytes(t, zipMember{Name: "m.safetensors", Data: safetensorsBytes(stGood, 18)}), "zip", finding.Safe},
		"traversal name":            {zipBytes(t, zipMember{Name: "../evil.txt", Data: []byte("hi")}), "zip", finding.Unknown},
		"keras lambda": {zipBytes(t,
			zipMember{Name: "metadata.json", Data: []byte(`{"keras_version":"3.0"}`)},
			zipMember{Name: "config.json", Data: []byte(`{"module":"keras","class_name":"Sequential","config":{"layers":[{"module":"keras.layers","class_name":"Lambda","config":{"function":{"class_name":"__lambda__","config":{"code":"4wEAAAAAAAAAAAAAAAEAAAAC"}}}}]}}`)}),
			"keras", finding.Unsafe},
		"keras foreign module": {zipBytes(t,
			zipMember{Name: "metadata.json", Data: []byte(`{}`)},
			zipMember{Name: "config.json", Data: []byte(`{"module":"subprocess","class_name":"Popen","config":{}}`)}),
			"keras", finding.Unsafe},
		"keras plain": {zipBytes(t,
			zipMember{Name: "metadata.json", Data: []byte(`{}`)},
			zipMember{Name: "config.json", Data: []byte(`{"module":"keras","class_name":"Sequential","config":{"layers":[{"module":"keras.layers","class_name":"Dense","config":{"units":2}}]}}`)}),
			"keras", finding.Safe},
		"empty zip":    {[]byte("PK\x05\x06" + strings.Repeat("\x00", 18)), "zip", finding.Safe},
		"no directory": {append([]byte("PK\x03\x04"), make([]byte, 100)...), "zip", finding.Unknown},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			expect(t, scanBytes(t, "file.bin", c.b), c.format, c.verdict)
		})
	}
}

func TestZipBombAndDepthLimits(t *testing.T) {
	zeros := make([]byte, 4<<20)
	bomb := zipBytes(t, zipMember{Name: "a.pkl", Data: zeros, Deflate: true})
	r := scanBytes(t, "x.zip", bomb, Options{MaxInflate: 1 << 20})
	expect(t, r, "zip", finding.Unknown)
	if !hasReason(r, "compression ratio") {
		t.Errorf("bomb not named: %+v", r.Findings)
	}
	// A member whose header lies about its size is still capped while inflating.
	evilBig := zipBytes(t, zipMember{Name: "a.pkl", Data: append(append([]byte{}, evilP2[:len(evilP2)-1]...), zeros...), Deflate: true})
	r = scanBytes(t, "x.zip", evilBig, Options{MaxInflate: 1 << 20})
	if r.Verdict == finding.Safe {
		t.Fatalf("capped member came out safe: %+v", r.Findings)
	}

	inner := evilP2
	for range 6 {
		inner = zipBytes(t, zipMember{Name: "n.bin", Data: inner})
	}
	r = scanBytes(t, "x.zip", inner)
	if r.Verdict == finding.Safe || !hasReason(r, "depth") {
		t.Fatalf("nesting beyond the depth cap: %s %+v", r.Verdict, r.Findings)
	}
}

// Polyglot: pickle at the head, zip at the tail. torch reads the pickle;
// Python's zipfile (numpy, keras) reads the zip. Both are scanned.
func TestPolyglot(t *testing.T) {
	tail := zipBytes(t, zipMember{Name: "a.npy", Data: npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evilP2)})
	b := append([]byte("\x80\x02K\x01."), tail...)
	r := scanBytes(t, "model.bin", b)
	if r.Verdict != finding.Unsafe || !hasReason(r, "polyglot") {
		t.Fatalf("polyglot: %s %+v", r.Verdict, r.Findings)
	}
}

// A 5 GB-class torch zip (sparse on disk) is judged from its directory and
// data.pkl: less than 1% of its bytes are read.
func TestSparseHugeTorchZip(t *testing.T) {
	ms := torchMembers(t, nil)
	for i := range ms {
		if strings.HasSuffix(ms[i].Name, "/data/0") {
			ms[i].Sparse = 5 << 30
		}
	}
	p := filepath.Join(t.TempDir(), "huge.pt")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	sink := &fileSink{f: f}
	if err := buildZip(sink, ms); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Size() < 5<<30 {
		t.Fatalf("file is %d bytes", st.Size())
	}
	f, err = os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cc := &countingCalls{r: f}
	r, err := Scan(context.Background(), cc, st.Size(), Options{NameHint: "huge.pt"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r, "pytorch-zip", finding.Safe)
	if r.BytesRead*100 >= st.Size() || r.BytesRead > 1<<20 {
		t.Fatalf("read %d of %d bytes", r.BytesRead, st.Size())
	}
	// Head (with data.pkl) and tail (directory and small records): two round trips.
	if cc.calls > 2 {
		t.Errorf("%d ReadAt calls", cc.calls)
	}
	t.Logf("read %d bytes of %d in %d calls", r.BytesRead, st.Size(), cc.calls)
}

// Every ReadAt of a Range-backed reader is a round trip: a torch zip
// costs a handful.
type countingCalls struct {
	r     io.ReaderAt
	calls int
}

func (c *countingCalls) ReadAt(p []byte, off int64) (int, error) {
	c.calls++
	return c.r.ReadAt(p, off)
}

func TestTorchZipFewReads(t *testing.T) {
	b := zipBytes(t, torchMembers(t, nil)...)
	cc := &countingCalls{r: bytes.NewReader(b)}
	r, err := Scan(context.Background(), cc, int64(len(b)), Options{NameHint: "x.pt"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r, "pytorch-zip", finding.Safe)
	if cc.calls > 3 {
		t.Errorf("%d ReadAt calls for a small torch zip", cc.calls)
	}
}

// Two end records that each reach the end of the file: readers that take
// the first and readers that take the last may see different archives.
func TestZipSeveralEndRecords(t *testing.T) {
	z := zipBytes(t, zipMember{Name: "a.txt", Data: []byte("hello")})
	eocd := append([]byte(nil), z[len(z)-eocdLen:]...)
	b := append([]byte(nil), z[:len(z)-2]...)
	b = append(b, eocdLen, 0) // comment length 22: the comment is a second end record
	b = append(b, eocd...)
	r := scanBytes(t, "x.zip", b)
	if r.Verdict != finding.Unknown || !hasReason(r, "several end-of-central-directory") {
		t.Fatalf("%s %+v", r.Verdict, r.Findings)
	}
	// A nested zip stored near the end is not a second end record.
	inner := zipBytes(t, zipMember{Name: "b.txt", Data: []byte("x")})
	expect(t, scanBytes(t, "x.zip", zipBytes(t, zipMember{Name: "in.zip", Data: inner})), "zip", finding.Safe)
}

package scan

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zl(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// legacyStreams builds a legacy torch multi-pickle file: magic, protocol,
// sys_info, the main object, the storage keys, then raw records.
func legacyStreams(main []byte) []byte {
	b := append([]byte(nil), legacyTorchMagic...)
	b = append(b, "\x80\x02M\xe9\x03."...)        // 1001
	b = append(b, "\x80\x02}q\x00."...)           // sys_info {}
	b = append(b, main...)                        // main object
	b = append(b, "\x80\x02]q\x00."...)           // storage keys []
	return append(b, 0xff, 0xfe, 0x00, 0x01, 'c') // raw bytes: never parsed
}

func TestLegacyTorch(t *testing.T) {
	expect(t, scanBytes(t, "m.pt", legacyStreams([]byte("\x80\x02}q\x00."))), "pytorch-legacy", finding.Safe)
	r := scanBytes(t, "m.pt", legacyStreams(evilP2))
	expect(t, r, "pytorch-legacy", finding.Unsafe)
	if r.Findings[0].Stream != 3 {
		t.Errorf("payload reported in stream %d, want 3", r.Findings[0].Stream)
	}
	// A magic computed by code in pickle #1 makes it a plain pickle: every
	// stream is still scanned.
	disguised := append(append([]byte("\x80\x02K\x01."), "\x80\x02}q\x00."...), evilP2...)
	expect(t, scanBytes(t, "m.pt", disguised), "pickle", finding.Unsafe)
}

func TestLegacyTar(t *testing.T) {
	good := readFixture(t, "torch_legacy.tar")
	expect(t, scanBytes(t, "m.tar", good), "pytorch-tar", finding.Safe)

	// A storage record followed by a payload hidden behind its raw bytes.
	storages := []byte("\x80\x02K\x01.")
	storages = append(storages, "\x80\x02(X\x01\x00\x00\x000X\x03\x00\x00\x00cpuctorch\nFloatStorage\nq\x00tq\x01."...)
	storages = binary.LittleEndian.AppendUint64(storages, 2)
	storages = append(storages, "cos\nsyst"...) // 8 raw bytes that look like a GLOBAL
	storages = append(storages, evilP2...)      // where storage_views goes
	evil := tarBytes(
		tarEntry{Name: "sys_info", Data: []byte("\x80\x02}q\x00.")},
		tarEntry{Name: "pickle", Data: []byte("\x80\x02}q\x00.")},
		tarEntry{Name: "storages", Data: storages},
		tarEntry{Name: "tensors", Data: []byte("\x80\x02K\x00.")},
	)
	r := scanBytes(t, "m.tar", evil)
	expect(t, r, "pytorch-tar", finding.Unsafe)

	trav := tarBytes(
		tarEntry{Name: "pickle", Data: []byte("\x80\x02}q\x00.")},
		tarEntry{Name: "storages", Data: []byte("\x80\x02K\x00.")},
		tarEntry{Name: "../../tmp/x", Data: []byte("hi")},
	)
	r = scanBytes(t, "m.tar", trav)
	expect(t, r, "pytorch-tar", finding.Unsafe)
	if !hasReason(r, "traversal") {
		t.Errorf("traversal not named: %+v", r.Findings)
	}
	link := tarBytes(
		tarEntry{Name: "pickle", Data: []byte("\x80\x02}q\x00.")},
		tarEntry{Name: "tensors", Data: []byte("\x80\x02K\x00.")},
		tarEntry{Name: "storages", Typ: '2', Link: "/etc/passwd"},
	)
	expect(t, scanBytes(t, "m.tar", link), "pytorch-tar", finding.Unsafe)
}

func TestTarAndCompressedWrappers(t *testing.T) {
	plainTar := tarBytes(tarEntry{Name: "a/config.json", Data: []byte(`{"a":1}`)})
	expect(t, scanBytes(t, "x.tar", plainTar), "tar", finding.Safe)
	evilTar := tarBytes(tarEntry{Name: "a/readme.txt", Data: evilP2})
	expect(t, scanBytes(t, "x.tar", evilTar), "tar", finding.Unsafe)
	expect(t, scanBytes(t, "x.tgz", gz(evilTar)), "gzip+tar", finding.Unsafe)
	expect(t, scanBytes(t, "x.gz", gz(plainTar)), "gzip+tar", finding.Safe)
	expect(t, scanBytes(t, "x.joblib", zl(evilP2)), "joblib", finding.Unsafe)
	expect(t, scanBytes(t, "x.joblib", gz([]byte(evilP0))), "joblib", finding.Unsafe)
	corrupt := gz(evilTar)
	corrupt = corrupt[:len(corrupt)/2]
	if r := scanBytes(t, "x.gz", corrupt); r.Verdict == finding.Safe {
		t.Fatalf("truncated gzip came out safe")
	}
	nemo := tarBytes(
		tarEntry{Name: "model_config.yaml", Data: []byte("model:\n  _target_: os.system\n  encoder:\n    _target_: nemo.collections.asr.modules.ConvASREncoder\n")},
		tarEntry{Name: "../escape", Data: []byte("x")},
	)
	r := scanBytes(t, "m.nemo", nemo)
	expect(t, r, "nemo", finding.Unsafe)
	if !hasReason(r, "os.system") {
		t.Errorf("hydra target not reported: %+v", r.Findings)
	}
	// Text starting with 'x' is not a zlib stream.
	expect(t, scanBytes(t, "notes.md", []byte("x^2 is a square\n")), "text", finding.Safe)
}

func TestMalformedTar(t *testing.T) {
	b := tarBytes(tarEntry{Name: "a", Data: bytes.Repeat([]byte("a"), 600)})
	// Claim a size far past the end of the file.
	copy(b[124:136], "77777777777\x00")
	sum := 0
	copy(b[148:156], "        ")
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:], padOctal(int64(sum), 6)+"\x00 ")
	r := scanBytes(t, "x.tar", b)
	expect(t, r, "tar", finding.Unknown)
}

// Bytes handed to a loader inside a pickle are scanned through the
// nested callback: a torch zip in BINBYTES reports its payload with a chain.
func TestNestedTorchZipInPickle(t *testing.T) {
	inner := zipBytes(t, torchMembers(t, evilP2)...)
	p := []byte("\x80\x02ctorch.storage\n_load_from_bytes\nq\x00B")
	p = binary.LittleEndian.AppendUint32(p, uint32(len(inner)))
	p = append(append(p, inner...), "\x85R."...)
	r := scanBytes(t, "x.bin", p)
	expect(t, r, "pickle", finding.Unsafe)
	chained := false
	for _, f := range r.Findings {
		chained = chained || (f.Verdict == finding.Unsafe && f.Chain != "" && f.Callable != "torch.storage._load_from_bytes")
	}
	if !chained {
		t.Errorf("nested payload not reported with a chain: %+v", r.Findings)
	}
}

func TestOldJoblibZF(t *testing.T) {
	z := zl(evilP2)
	hdr := []byte("ZF0x" + formatHex(len(evilP2)))
	for len(hdr) < joblibZFHeader {
		hdr = append(hdr, ' ')
	}
	expect(t, scanBytes(t, "m.pkl", append(hdr, z...)), "joblib", finding.Unsafe)
}

func formatHex(n int) string {
	const digits = "0123456789abcdef"
	if n == 0 {
		return "0"
	}
	var out []byte
	for ; n > 0; n /= 16 {
		out = append([]byte{digits[n%16]}, out...)
	}
	return string(out)
}

// A word list inside an archive is not a pickle because its first lines
// parse as GLOBAL can.you; a broken stream that called something is.
func TestTextMembersAreNotPickles(t *testing.T) {
	words := zipBytes(t, zipMember{Name: "vocab.txt", Data: []byte("can\nyou\nsee\nit\n")})
	expect(t, scanBytes(t, "x.zip", words), "zip", finding.Safe)
	called := zipBytes(t, zipMember{Name: "vocab.txt", Data: []byte("cpip\nmain\n(S'install'\ntR and then text")})
	if r := scanBytes(t, "x.zip", called); r.Verdict == finding.Safe || !r.PickleBearing {
		t.Fatalf("payload-first text member: %s %+v", r.Verdict, r.Findings)
	}
}

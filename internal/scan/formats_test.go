package scan

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/scan/finding"
)

const stGood = `{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F4","shape":[4],"data_offsets":[16,18]}}`

func TestSafetensorsValid(t *testing.T) {
	for name, b := range map[string][]byte{
		"plain":      safetensorsBytes(stGood, 18),
		"padded":     safetensorsBytes(stGood+"    ", 18),
		"empty":      safetensorsBytes(`{}`, 0),
		"zero-rank":  safetensorsBytes(`{"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, 8),
		"empty-dim":  safetensorsBytes(`{"e":{"dtype":"F16","shape":[0,4],"data_offsets":[0,0]},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1),
		"null-meta":  safetensorsBytes(`{"__metadata__":null}`, 0),
		"escapes":    safetensorsBytes(`{"__metadata__":{"k\n\"\u00e9\ud83d\ude00":"v"},"t\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1),
		"f6-packing": safetensorsBytes(`{"x":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[0,3]}}`, 3),
	} {
		t.Run(name, func(t *testing.T) {
			r := scanBytes(t, "model.safetensors", b)
			expect(t, r, "safetensors", finding.Safe)
			if r.PickleBearing {
				t.Error("safetensors marked pickle-bearing")
			}
		})
	}
}

func TestSafetensorsInvalid(t *testing.T) {
	cases := map[string]struct {
		hdr  string
		data int
		why  string
	}{
		"leading space":     {" " + stGood, 18, "start with '{'"},
		"duplicate key":     {`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1, "duplicate"},
		"escaped duplicate": {`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\u0061":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}}`, 1, "duplicate"},
		"lone surrogate":    {`{"\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1, "surrogate"},
		"leading zero":      {`{"a":{"dtype":"U8","shape":[01],"data_offsets":[0,1]}}`, 1, "integer"},
		"trailing comma":    {`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},}`, 1, "string"},
		"duplicate meta":    {`{"__metadata__":{},"__metadata__":{}}`, 0, "duplicate"},
		"duplicate field":   {`{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1, "duplicate"},
		"tab padding":       {stGood + "\t", 18, "padding"},
		"gap":               {`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2, "contiguous"},
		"overlap":           {`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2, "contiguous"},
		"trailing bytes":    {`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 5, "file holds"},
		"wrong size":        {`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4, "need"},
		"unknown dtype":     {`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, 16, "unknown dtype"},
		"negative dim":      {`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, 0, "integer"},
		"float dim":         {`{"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}`, 1, "integer"},
		"huge dim":          {`{"a":{"dtype":"U8","shape":[281474976710656,0],"data_offsets":[0,0]}}`, 0, "integer"},
		"extra field":       {`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1, "unknown field"},
		"meta non-string":   {`{"__metadata__":{"a":1}}`, 0, "string"},
		"empty name":        {`{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1, "empty tensor name"},
		"odd bits":          {`{"x":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, 2, "whole number"},
		"overflowing shape": {`{"x":{"dtype":"F64","shape":[281474976710655,281474976710655],"data_offsets":[0,0]}}`, 0, "overflow"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := scanBytes(t, "model.safetensors", safetensorsBytes(c.hdr, c.data))
			expect(t, r, "safetensors", finding.Unknown)
			if !hasReason(r, c.why) {
				t.Errorf("no finding mentions %q: %+v", c.why, r.Findings)
			}
		})
	}
}

// Validation reads the header only: a large data section is never read.
func TestSafetensorsReadsHeaderOnly(t *testing.T) {
	hdr := `{"a":{"dtype":"U8","shape":[1000000],"data_offsets":[0,1000000]}}`
	r := scanBytes(t, "model.safetensors", safetensorsBytes(hdr, 1000000))
	expect(t, r, "safetensors", finding.Safe)
	if r.BytesRead > prefixReadBytes {
		t.Errorf("read %d bytes of a 1 MB file", r.BytesRead)
	}
}

func TestGGUF(t *testing.T) {
	benign := `{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>' + message['content'] }}{% elif message['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}{% set ns = namespace(x=1) %}{{ message | tojson }}{% endfor %}`
	r := scanBytes(t, "m.gguf", ggufBytes([2]string{"general.name", "x"}, [2]string{"tokenizer.chat_template", benign}))
	expect(t, r, "gguf", finding.Safe)
	evil := []string{
		`{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}`,
		`{{ ''|attr('\x5f\x5fclass\x5f\x5f') }}`,
		`{% set a = '_' ~ '_' ~ 'class' ~ '_' ~ '_' %}{{ ()|attr(a) }}`,
		`{{ lipsum|attr(request.args.x) }}`,
		`{{ '%c%c'|format(95,95) }}`,
	}
	for i, tmpl := range evil {
		// Named variants are checked as well as the default template.
		r := scanBytes(t, "m.gguf", ggufBytes([2]string{"tokenizer.chat_template", benign}, [2]string{"tokenizer.chat_template.tool_use", tmpl}))
		expect(t, r, "gguf", finding.Unsafe)
		if !hasReason(r, "tokenizer.chat_template.tool_use") {
			t.Errorf("case %d: finding does not name the key: %+v", i, r.Findings)
		}
	}
	huge := scanBytes(t, "m.gguf", ggufBytes([2]string{"tokenizer.chat_template", strings.Repeat("x", maxChatTemplate+1)}))
	expect(t, huge, "gguf", finding.Unknown)
}

func TestGGUFMalformed(t *testing.T) {
	good := ggufBytes([2]string{"general.name", "abc"})
	v1 := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(v1[4:], 1)
	bigCount := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(bigCount[16:], 1<<40)
	longStr := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(longStr[24:], 1<<50)
	// An array whose count exceeds what the file holds.
	arr := []byte("GGUF")
	arr = binary.LittleEndian.AppendUint32(arr, 3)
	arr = binary.LittleEndian.AppendUint64(arr, 0)
	arr = binary.LittleEndian.AppendUint64(arr, 1)
	arr = binary.LittleEndian.AppendUint64(arr, 1)
	arr = append(arr, 'k')
	arr = binary.LittleEndian.AppendUint32(arr, 9)
	arr = binary.LittleEndian.AppendUint32(arr, 8)
	arr = binary.LittleEndian.AppendUint64(arr, 1<<60)
	for name, b := range map[string][]byte{"v1": v1, "kv count": bigCount, "string length": longStr, "array count": arr, "truncated": good[:len(good)-1]} {
		t.Run(name, func(t *testing.T) {
			expect(t, scanBytes(t, "m.gguf", b), "gguf", finding.Unknown)
		})
	}
	expect(t, scanBytes(t, "m.gguf", good), "gguf", finding.Safe)
}

func TestNpy(t *testing.T) {
	numeric := npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", make([]byte, 24))
	expect(t, scanBytes(t, "a.npy", numeric), "numpy", finding.Safe)
	structured := npyBytes("{'descr': [('a', '<i4'), ('b', [('c', '<f8', (2,))])], 'fortran_order': False, 'shape': (1,), }", make([]byte, 20))
	expect(t, scanBytes(t, "a.npy", structured), "numpy", finding.Safe)
	obj := npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evilP2)
	r := scanBytes(t, "a.npy", obj)
	expect(t, r, "numpy", finding.Unsafe)
	if !r.PickleBearing {
		t.Error("object array not marked pickle-bearing")
	}
	nestedObj := npyBytes("{'descr': [('x', '<i4'), ('y', 'O')], 'fortran_order': False, 'shape': (1,), }", evilP2)
	expect(t, scanBytes(t, "a.npy", nestedObj), "numpy", finding.Unsafe)
	for _, bad := range []string{
		"{'descr': '<f4', 'shape': (2,), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2,",
		"__import__('os')",
	} {
		expect(t, scanBytes(t, "a.npy", npyBytes(bad, nil)), "numpy", finding.Unknown)
	}
}

func TestPickles(t *testing.T) {
	// Protocol 0 without magic: found where a loader would open it, and by
	// a complete parse anywhere else.
	expect(t, scanBytes(t, "pytorch_model.bin", []byte(evilP0)), "pickle", finding.Unsafe)
	expect(t, scanBytes(t, "notes.txt", []byte(evilP0)), "pickle", finding.Unsafe)
	// Payload first, garbage after, under a loader's name: still found.
	expect(t, scanBytes(t, "model.pkl", []byte("cos\nsystem\n(S'id'\ntR\xff\xff")), "pickle", finding.Unsafe)
	// Text that only starts like a pickle opcode stays text.
	expect(t, scanBytes(t, "README.md", []byte("cat and dog\nIt is a README.\n")), "text", finding.Safe)
	expect(t, scanBytes(t, "tokenizer.json", []byte(`{"version": "1.0"}`)), "json", finding.Safe)
	// A payload in a later appended stream.
	appended := append([]byte("\x80\x02K\x01."), evilP2...)
	expect(t, scanBytes(t, "x.bin", appended), "pickle", finding.Unsafe)
	expect(t, scanBytes(t, "x.bin", []byte(benignP0)), "pickle", finding.Safe)
}

func TestOtherFormats(t *testing.T) {
	cases := []struct {
		name   string
		b      []byte
		format string
		v      finding.Verdict
	}{
		{"a.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "image", finding.Safe},
		{"a.parquet", []byte("PAR1\x15\x04\x15"), "parquet", finding.Safe},
		{"a.7z", []byte("7z\xbc\xaf\x27\x1c\x00\x04"), "7z", finding.Unknown},
		{"a.joblib", []byte("\x04\x22\x4d\x18\x64\x40\xa7"), "lz4", finding.Unknown},
		{"empty", nil, "empty", finding.Safe},
		{"blob", []byte{0, 1, 2, 3, 250, 251}, "data", finding.Safe},
	}
	for _, c := range cases {
		expect(t, scanBytes(t, c.name, c.b), c.format, c.v)
	}
}

// A minimal ONNX ModelProto: ir_version, then graph{initializer{external_data{location}}}.
func onnxBytes(location string) []byte {
	pb := func(field int, b []byte) []byte {
		out := []byte{byte(field<<3 | 2), byte(len(b))}
		return append(out, b...)
	}
	entry := append(pb(1, []byte("location")), pb(2, []byte(location))...)
	tensor := append(pb(8, []byte("w")), pb(13, entry)...)
	graph := pb(5, tensor)
	model := []byte{0x08, 0x08} // ir_version 8
	model = append(model, pb(2, []byte("test"))...)
	return append(model, pb(7, graph)...)
}

func TestONNX(t *testing.T) {
	expect(t, scanBytes(t, "m.onnx", onnxBytes("weights.bin")), "onnx", finding.Safe)
	expect(t, scanBytes(t, "m.onnx", onnxBytes("../../etc/passwd")), "onnx", finding.Unsafe)
	expect(t, scanBytes(t, "m.onnx", onnxBytes("/etc/shadow")), "onnx", finding.Unsafe)
	withDomain := func(domain string) []byte {
		opset := append([]byte{0x0a, byte(len(domain))}, domain...)
		opset = append(opset, 0x10, 0x01) // version 1
		return append(onnxBytes("w.bin"), append([]byte{0x42, byte(len(opset))}, opset...)...)
	}
	expect(t, scanBytes(t, "m.onnx", withDomain("ai.onnx.ml")), "onnx", finding.Safe)
	expect(t, scanBytes(t, "m.onnx", withDomain("my.custom.ops")), "onnx", finding.Unknown)
	bad := onnxBytes("x")
	expect(t, scanBytes(t, "m.onnx", bad[:len(bad)-3]), "onnx", finding.Unknown)
}

func TestWallTimeLimit(t *testing.T) {
	r := scanBytes(t, "x.pt", readFixture(t, "torch_zip.pt"), Options{WallTime: time.Nanosecond})
	if r.Verdict == finding.Safe || !hasReason(r, "wall-time") {
		t.Fatalf("expired wall time: %s %+v", r.Verdict, r.Findings)
	}
}

type failingReader struct{ err error }

func (f failingReader) ReadAt([]byte, int64) (int, error) { return 0, f.err }

// I/O errors from r are errors; short content is a verdict.
func TestReadErrorsAreErrors(t *testing.T) {
	boom := errors.New("connection reset")
	if _, err := Scan(context.Background(), failingReader{boom}, 1000, Options{}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the reader's error", err)
	}
	if _, err := Scan(context.Background(), bytes.NewReader(nil), -1, Options{}); err == nil {
		t.Fatal("negative size accepted")
	}
	// A reader shorter than the size it claims: a verdict, not an error.
	b := readFixture(t, "torch_zip.pt")
	r, err := Scan(context.Background(), bytes.NewReader(b[:len(b)/2]), int64(len(b)), Options{})
	if err != nil || r.Verdict == finding.Safe {
		t.Fatalf("truncated file: %v %+v", err, r)
	}
}

// A Range-backed reader pays a round trip per ReadAt: a safetensors file
// with a small header costs one.
func TestSafetensorsOneRead(t *testing.T) {
	hdr := `{"a":{"dtype":"U8","shape":[200000],"data_offsets":[0,200000]}}`
	b := safetensorsBytes(hdr, 200000)
	cc := &countingCalls{r: bytes.NewReader(b)}
	r, err := Scan(context.Background(), cc, int64(len(b)), Options{NameHint: "m.safetensors"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r, "safetensors", finding.Safe)
	if cc.calls != 1 {
		t.Errorf("%d ReadAt calls", cc.calls)
	}
}

// Arrays of every kind are skipped with their counts checked.
func TestGGUFArrays(t *testing.T) {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint64(b, 3)
	key := func(k string, typ uint32) {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.LittleEndian.AppendUint32(b, typ)
	}
	key("tokenizer.ggml.tokens", 9)
	b = binary.LittleEndian.AppendUint32(b, 8)
	b = binary.LittleEndian.AppendUint64(b, 2)
	for _, s := range []string{"<s>", "hello"} {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	key("tokenizer.ggml.scores", 9)
	b = binary.LittleEndian.AppendUint32(b, 6)
	b = binary.LittleEndian.AppendUint64(b, 2)
	b = append(b, make([]byte, 8)...)
	key("tokenizer.chat_template", 8)
	tmpl := "{{ x.__class__ }}"
	b = binary.LittleEndian.AppendUint64(b, uint64(len(tmpl)))
	b = append(b, tmpl...)
	// The template comes after the arrays: reaching it proves they were skipped right.
	expect(t, scanBytes(t, "m.gguf", b), "gguf", finding.Unsafe)
	// Big-endian files (byte-swapped version) are read too.
	be := []byte("GGUF")
	be = binary.BigEndian.AppendUint32(be, 3)
	be = binary.BigEndian.AppendUint64(be, 0)
	be = binary.BigEndian.AppendUint64(be, 1)
	be = binary.BigEndian.AppendUint64(be, 23)
	be = append(be, "tokenizer.chat_template"...)
	be = binary.BigEndian.AppendUint32(be, 8)
	be = binary.BigEndian.AppendUint64(be, uint64(len(tmpl)))
	be = append(be, tmpl...)
	expect(t, scanBytes(t, "m.gguf", be), "gguf", finding.Unsafe)
}

func TestSavedModel(t *testing.T) {
	node := func(op string) []byte {
		n := append([]byte{0x0a, 1, 'n', 0x12, byte(len(op))}, op...)
		return append([]byte{0x0a, byte(len(n))}, n...) // GraphDef.node (inside MetaGraphDef, simplified)
	}
	sm := func(ops ...string) []byte {
		var g []byte
		for _, op := range ops {
			g = append(g, node(op)...)
		}
		return append([]byte{0x08, 0x01, 0x12, byte(len(g))}, g...)
	}
	expect(t, scanBytes(t, "saved_model.pb", sm("MatMul", "SaveV2", "RestoreV2")), "savedmodel", finding.Safe)
	r := scanBytes(t, "saved_model.pb", sm("MatMul", "ReadFile"))
	expect(t, r, "savedmodel", finding.Unsafe)
	if !hasReason(r, "ReadFile") {
		t.Errorf("op not named: %+v", r.Findings)
	}
}

package scan

import (
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Review tests: inputs a real loader turns into a call of a non-allowlisted
// callable. Each payload is built as bytes and never loaded.

// TestReview_NpyObjectDescrSpellings: np.dtype accepts object dtypes
// spelled other than "O..." (type names, subarray prefixes, comma
// structured strings); np.load(allow_pickle=True) then pickle.loads the
// body (verified with numpy 1.24 on a benign list pickle).
func TestReview_NpyObjectDescrSpellings(t *testing.T) {
	for _, descr := range []string{"object", "object_", "(2,)O", "i4,O", "2O", "b1, O"} {
		t.Run(descr, func(t *testing.T) {
			b := npyBytes("{'descr': '"+descr+"', 'fortran_order': False, 'shape': (1,), }", evilP2)
			r := scanBytes(t, "arr.npy", b)
			if r.Verdict != finding.Unsafe {
				t.Errorf("descr %q (np.dtype(...).hasobject is True): verdict %s, want unsafe", descr, r.Verdict)
			}
		})
	}
}

// TestReview_TarHeaderIsAPickle: a 512-byte tar header whose name field is
// a protocol-0 pickle. pickle.load / joblib.load / pandas.read_pickle read
// the file from byte 0 and stop at STOP; the scanner dispatches to tar by
// checksum and never looks at the pickle interpretation.
func TestReview_TarHeaderIsAPickle(t *testing.T) {
	b := tarBytes(tarEntry{Name: evilP0})
	for _, name := range []string{"model.pkl", "model.joblib", "pytorch_model.bin"} {
		r := scanBytes(t, name, b)
		if r.Verdict != finding.Unsafe {
			t.Errorf("%s: tar/pickle polyglot verdict %s (format %s), want unsafe", name, r.Verdict, r.Format)
		}
	}
}

// Control: the ordinary object spelling is caught.
func TestReviewNpyObjectDescrPlainO(t *testing.T) {
	b := npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evilP2)
	expect(t, scanBytes(t, "arr.npy", b), "numpy", finding.Unsafe)
}

// TestReview_PickleHeadedLegacyTar: the first tar header's name field is a
// benign protocol-2 pickle, so the file starts with \x80\x02 and the
// scanner treats it as a plain pickle (PROTO dispatch comes before the tar
// checksum test). torch.load tries tarfile first and takes the legacy tar
// path, unpickling the "storages", "tensors" and "pickle" members
// (verified with torch 1.13 on a benign archive: it returned the "pickle"
// member's dict). Here "storages" holds os.system.
func TestReview_PickleHeadedLegacyTar(t *testing.T) {
	b := tarBytes(
		tarEntry{Name: "\x80\x02K\x01."}, // PROTO 2, BININT1 1, STOP
		tarEntry{Name: "storages", Data: evilP2},
		tarEntry{Name: "tensors", Data: []byte("\x80\x02K\x00.")},
		tarEntry{Name: "pickle", Data: []byte("\x80\x02}q\x00.")},
	)
	r := scanBytes(t, "pytorch_model.bin", b)
	if r.Verdict != finding.Unsafe {
		t.Errorf("pickle-headed legacy tar: verdict %s (format %s), want unsafe", r.Verdict, r.Format)
	}
}

// TestReview_GGUFTemplateDunderWithoutUnderscoreLiterals: Jinja builds
// "__globals__" from '_'*2, from ['_','_']|join, or from a variable
// holding '_', none of which the checker's patterns match. Verified with
// jinja2 3.1.6 that each expression renders to the dunder name and that
// lipsum[...] reaches a dict holding the os module (nothing was called).
func TestReview_GGUFTemplateDunderWithoutUnderscoreLiterals(t *testing.T) {
	for _, tmpl := range []string{
		"{% set u = '_'*2 %}{{ lipsum[u ~ 'globals' ~ u]['os'].popen('id').read() }}",
		"{% set u = ['_','_']|join %}{{ lipsum[u ~ 'globals' ~ u]['os'].popen('id').read() }}",
		"{% set x = '_' %}{{ lipsum[x ~ x ~ 'globals' ~ x ~ x]['os'].popen('id').read() }}",
	} {
		r := scanBytes(t, "model.gguf", ggufBytes([2]string{"tokenizer.chat_template", tmpl}))
		if r.Verdict != finding.Unsafe {
			t.Errorf("template %q: verdict %s, want unsafe", tmpl, r.Verdict)
		}
	}
}

// joblibHiddenPayload is a joblib-shaped pickle whose "raw array bytes"
// (n = len(payload) bytes of dtype u1) are opcodes: joblib.load skips them
// as array data, plain pickle.load and torch.load execute them. Checked
// with a benign payload (builtins.len): pickle.loads returned 4, joblib.load
// returned the bytes as an array.
func joblibHiddenPayload(payload string) []byte {
	b := []byte("\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(" +
		"\x8c\x05shapeK\x00\x85" +
		"\x8c\x05dtypecnumpy\ndtype\n\x8c\x02u1\x89\x88\x87R(K\x03\x8c\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb" +
		"\x8c\x05order\x8c\x01C\x8c\x08subclasscnumpy\nndarray\n\x8c\x0aallow_mmap\x89ub" + payload + ".")
	b[len("\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(\x8c\x05shapeK")] = byte(len(payload))
	return b
}

// TestReview_JoblibHeadHidesPayloadFromPlainLoaders: the scanner picks the
// joblib context (and profile) from the head's content alone
// (pickles.go isJoblibHead), then skips the declared array bytes; a .pkl
// read by pickle.load or a .bin read by torch.load runs them as opcodes.
func TestReview_JoblibHeadHidesPayloadFromPlainLoaders(t *testing.T) {
	b := joblibHiddenPayload("0cos\nsystem\n(S'echo pwned'\ntR")
	for _, name := range []string{"model.pkl", "pytorch_model.bin"} {
		r := scanBytes(t, name, b)
		if r.Verdict != finding.Unsafe {
			t.Errorf("%s: verdict %s (format %s), want unsafe: pickle.load executes the bytes joblib skips", name, r.Verdict, r.Format)
		}
	}
}

// TestReview_TextPickleScannerRejectsButCPythonAccepts: CPython's INT,
// LONG, PUT and GET accept surrounding whitespace (strtol /
// PyLong_FromString); the machine fails on "I 5", stops before the payload,
// and because no call was seen the loose-pickle trial gives up and the
// file is called text (pickles.go tryLoosePickle). Verified with a benign
// builtins.len payload: pickle.loads returned 3 for each prefix.
func TestReview_TextPickleScannerRejectsButCPythonAccepts(t *testing.T) {
	for _, prefix := range []string{"I 5\n0", "I5 \n0", "L 5\n0", "S'a'\np 1\n0", "S'a'\np1\n0g 1\n0"} {
		b := []byte(prefix + evilP0)
		for _, name := range []string{"model.pkl", "pytorch_model.bin"} {
			r := scanBytes(t, name, b)
			if r.Verdict != finding.Unsafe {
				t.Errorf("%s %q: verdict %s (format %s), want unsafe", name, prefix, r.Verdict, r.Format)
			}
		}
	}
}

// TestReview_TorchZipSkipsObjectNpyUnderData: a zip that is both a torch
// archive (archive/data.pkl) and an .npz. The torch view skips every
// archive/data/* member unread (torchzip.go, "tensor bytes"), but
// np.load(allow_pickle=True) on the .npz pickle.loads the object array
// archive/data/w.npy as soon as that key is read.
func TestReview_TorchZipSkipsObjectNpyUnderData(t *testing.T) {
	npy := npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evilP2)
	b := zipBytes(t,
		zipMember{Name: "archive/data.pkl", Data: []byte("\x80\x02}q\x00.")},
		zipMember{Name: "archive/version", Data: []byte("3\n")},
		zipMember{Name: "archive/data/w.npy", Data: npy},
	)
	r := scanBytes(t, "weights.npz", b)
	if r.Verdict != finding.Unsafe {
		t.Errorf("torch/npz polyglot: verdict %s (format %s), want unsafe", r.Verdict, r.Format)
	}
}

// Control for the underscore rule: snake_case to words is ordinary.
func TestReviewGGUFTemplateReplaceUnderscoreIsSafe(t *testing.T) {
	tmpl := "{% for m in messages %}{{ m['role'] | replace('_', ' ') }}: {{ m['content'] }}{% endfor %}"
	expect(t, scanBytes(t, "model.gguf", ggufBytes([2]string{"tokenizer.chat_template", tmpl})), "gguf", finding.Safe)
}

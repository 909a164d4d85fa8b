package pickle

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/safehub/safehub/internal/scan/finding"
)

type bypassCase struct {
	name    string
	data    pk
	profile string  // "" = torch-weights-only
	ctx     Context // Plain unless set
	want    finding.Verdict
	mention string // a finding's callable, reason or chain must contain this
}

func runBypassCases(t *testing.T, cases []bypassCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prof := c.profile
			if prof == "" {
				prof = "torch-weights-only"
			}
			res := scanBytes(t, c.data, Options{Profile: mustProfile(t, prof), Context: c.ctx})
			if res.Verdict != c.want {
				t.Fatalf("verdict %v, want %v; findings:%s", res.Verdict, c.want, describe(res))
			}
			if c.mention != "" && !hasFinding(res, c.want, c.mention) {
				t.Fatalf("no %v finding mentioning %q; findings:%s", c.want, c.mention, describe(res))
			}
		})
	}
}

// latin1Str is how protocol <= 2 pickles store bytes: each byte becomes one
// code point of a str passed to _codecs.encode(s, "latin1").
func latin1Str(b []byte) string {
	var out []byte
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return string(out)
}

func TestBypassClasses(t *testing.T) {
	safeOD := pk{}.proto(2).global("collections", "OrderedDict").emptyTuple().reduce().stop()
	cases := []bypassCase{
		// 1: not allowlisted means at least unknown, denied means unsafe.
		{"01 pip.main denied", pk{}.proto(2).call1("pip", "main", "install").stop(), "", Plain, finding.Unsafe, "pip.main"},
		{"01 pydoc.pipepager denied", pk{}.proto(2).call1("pydoc", "pipepager", "x").stop(), "", Plain, finding.Unsafe, "pydoc.pipepager"},
		{"01 unlisted callable unknown", pk{}.proto(2).call1("mylib.tools", "helper", "x").stop(), "", Plain, finding.Unknown, "mylib.tools.helper"},
		{"01 negative allowlisted call", safeOD, "", Plain, finding.Safe, ""},
		// 2: prefix match on the dotted path.
		{"02 submodule of denied module", pk{}.proto(2).call1("asyncio.unix_events", "_UnixSubprocessTransport", "x").stop(), "", Plain, finding.Unsafe, "asyncio.unix_events"},
		{"02 negative string prefix is not a module prefix", pk{}.proto(2).call1("asyncioextra", "run", "x").stop(), "", Plain, finding.Unknown, "asyncioextra.run"},
		// 3: dotted names walk attributes.
		{"03 posixpath + os.system", pk{}.proto(4).str("posixpath").str("os.system").stackGlobal().str("id").tuple1().reduce().stop(), "", Plain, finding.Unsafe, "posixpath.os.system"},
		{"03 dunder walk", pk{}.proto(4).str("torch").str("Tensor.__class__").stackGlobal().stop(), "", Plain, finding.Unsafe, "torch.Tensor.__class__"},
		{"03 negative plain allowed name", pk{}.proto(4).str("torch").str("Tensor").stackGlobal().stop(), "", Plain, finding.Safe, ""},
		// 4: PROTO 4 mid-stream.
		{"04 PROTO 4 mid-stream dotted GLOBAL", pk{}.proto(2).proto(4).global("posixpath", "os.system").str("id").tuple1().reduce().stop(), "", Plain, finding.Unsafe, "posixpath.os.system"},
		{"04 negative PROTO change alone", pk{}.proto(2).proto(4).global("collections", "OrderedDict").emptyTuple().reduce().stop(), "", Plain, finding.Safe, ""},
		// 5: Python-2 names.
		{"05 commands.getoutput", pk{}.global("commands", "getoutput").mark().pstr("id").tuple().reduce().stop(), "", Plain, finding.Unsafe, "subprocess.getoutput"},
		{"05 __builtin__.eval", pk{}.global("__builtin__", "eval").mark().pstr("1").tuple().reduce().stop(), "", Plain, finding.Unsafe, "eval"},
		{"05 mapped name under protocol 4", pk{}.proto(4).global("__builtin__", "getattr").stop(), "", Plain, finding.Unsafe, "getattr"},
		{"05 negative __builtin__.set maps to allowed builtins.set", pk{}.proto(2).global("__builtin__", "set").mark().tuple().reduce().stop(), "", Plain, finding.Safe, ""},
		// 6: re-exported aliases.
		{"06 nt.system", pk{}.proto(2).call1("nt", "system", "x").stop(), "", Plain, finding.Unsafe, "nt.system"},
		{"06 shutil.os", pk{}.proto(4).str("numpy").str("os.system").stackGlobal().stop(), "torch-numpy", Plain, finding.Unsafe, "numpy.os.system"},
		{"06 negative numpy dtype class", pk{}.proto(4).str("numpy.dtypes").str("Float32DType").stackGlobal().stop(), "torch-numpy", Plain, finding.Safe, ""},
		// 7: memo decoys and the MEMOIZE index rule.
		{"07 operands from memo, decoys pushed last", pk{}.proto(4).
			str("os").memoize().op(opPOP).str("system").memoize().op(opPOP).
			str("collections").str("OrderedDict").op(opPOP, opPOP).
			binget(0).binget(1).stackGlobal().str("id").tuple1().reduce().stop(), "", Plain, finding.Unsafe, "os.system"},
		{"07 MEMOIZE index is the entry count, not max+1", pk{}.proto(4).
			str("collections").binput(5).op(opPOP).
			str("os").memoize().op(opPOP).str("system").memoize().op(opPOP).
			binget(1).binget(2).stackGlobal().stop(), "", Plain, finding.Unsafe, "os.system"},
		{"07 negative memo-fed allowed global", pk{}.proto(4).
			str("collections").memoize().op(opPOP).str("OrderedDict").memoize().op(opPOP).
			binget(0).binget(1).stackGlobal().emptyTuple().reduce().stop(), "", Plain, finding.Safe, ""},
		// 8: malformed input is unknown and keeps earlier findings.
		{"08 payload then missing memo key", pk{}.proto(2).call1("os", "system", "id").binget(99).stop(), "", Plain, finding.Unsafe, "os.system"},
		{"08 missing memo key alone", pk{}.proto(2).binget(7).stop(), "", Plain, finding.Unknown, "memo value not found"},
		{"08 STACK_GLOBAL type confusion", pk{}.proto(4).int1(1).int1(2).stackGlobal().stop(), "", Plain, finding.Unknown, "STACK_GLOBAL requires str"},
		// 9: every string opcode feeds STACK_GLOBAL.
		{"09 protocol-0 STRING operands", pk{}.proto(4).pstr("os").pstr("system").stackGlobal().stop(), "", Plain, finding.Unsafe, "os.system"},
		{"09 UNICODE operands", pk{}.proto(4).uni("subprocess").uni("Popen").stackGlobal().stop(), "", Plain, finding.Unsafe, "subprocess.Popen"},
		{"09 SHORT_BINSTRING operands", pk{}.proto(4).bstr("os").bstr("system").stackGlobal().stop(), "", Plain, finding.Unsafe, "os.system"},
		{"09 escaped STRING operands", pk{}.proto(4).pstr(`\x6fs`).pstr(`sys\x74em`).stackGlobal().stop(), "", Plain, finding.Unsafe, "os.system"},
		{"09 negative STRING operands of allowed name", pk{}.proto(4).pstr("collections").pstr("OrderedDict").stackGlobal().stop(), "", Plain, finding.Safe, ""},
		// 10: INST/OBJ are calls even when the result is discarded.
		{"10 INST then POP", pk{}.mark().pstr("id").inst("os", "system").op(opPOP).none().stop(), "", Plain, finding.Unsafe, "os.system"},
		{"10 OBJ then POP", pk{}.mark().global("os", "system").pstr("id").op(opOBJ).op(opPOP).none().stop(), "", Plain, finding.Unsafe, "os.system"},
		{"10 negative INST of allowed class", pk{}.mark().inst("collections", "OrderedDict").stop(), "", Plain, finding.Safe, ""},
		// 11: BUILD and mutators on foreign objects are calls.
		{"11 BUILD on a global sets module attributes", pk{}.proto(2).global("torch", "Tensor").emptyDict().str("x").int1(1).op(opSETITEM).op(opBUILD).stop(), "", Plain, finding.Unsafe, "BUILD sets attributes"},
		{"11 BUILD on unlisted class", pk{}.proto(2).global("mylib", "Thing").emptyTuple().op(opNEWOBJ).emptyDict().op(opBUILD).stop(), "", Plain, finding.Unknown, "mylib.Thing.__setstate__"},
		{"11 APPEND on unlisted object", pk{}.proto(2).global("mylib", "Bag").emptyTuple().op(opNEWOBJ).int1(1).op(opAPPEND).stop(), "", Plain, finding.Unknown, "mylib.Bag.append"},
		{"11 negative SETITEMS on OrderedDict", pk{}.proto(2).global("collections", "OrderedDict").emptyTuple().reduce().mark().str("a").int1(1).op(opSETITEMS).stop(), "", Plain, finding.Safe, ""},
		// 12: extension codes.
		{"12 EXT1", pk{}.proto(2).op(opEXT1, 1).stop(), "", Plain, finding.Unknown, "extension code 1"},
		{"12 EXT2", pk{}.proto(2).op(opEXT2, 1, 2).stop(), "", Plain, finding.Unknown, "extension code 513"},
		{"12 EXT4", pk{}.proto(2).op(opEXT4, 1, 0, 0, 0).stop(), "", Plain, finding.Unknown, "extension code 1"},
		// 13: payload first, garbage after.
		{"13 payload then garbage", pk{}.proto(2).call1("os", "system", "id").op(0xff, 0xfe, 0xfd), "", Plain, finding.Unsafe, "os.system"},
		{"13 negative benign then garbage is still not safe", pk{}.proto(2).none().op(0xff), "", Plain, finding.Unknown, "invalid opcode"},
		// 14: every stream is scanned.
		{"14 appended protocol-2 stream", safeOD.raw(evil()), "", Plain, finding.Unsafe, "os.system"},
		{"14 appended protocol-0 stream", safeOD.global("os", "system").mark().pstr("id").tuple().reduce().stop(), "", Plain, finding.Unsafe, "os.system"},
		{"14 negative two benign streams", safeOD.raw(safeOD), "", Plain, finding.Safe, ""},
		// 15: stream 1 of a legacy file gets the full policy.
		{"15 payload instead of legacy magic", evil().raw(pk{}.proto(2).op(opLONG1, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).stop()), "", TorchLegacy, finding.Unsafe, "os.system"},
		{"15 negative legacy magic stream", pk{}.proto(2).op(opLONG1, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).stop(), "", TorchLegacy, finding.Safe, ""},
		// 16: frame rules.
		{"16 argument straddles frame end", pk{}.proto(4).frame(3).str("abcdef").stop(), "", Plain, finding.Unsafe, "frame boundary"},
		{"16 FRAME inside an open frame", pk{}.proto(4).frame(20).none().frame(2).op(opPOP).stop(), "", Plain, finding.Unsafe, "frame boundary"},
		{"16 FRAME longer than input", pk{}.proto(4).frame(1 << 40).none().stop(), "", Plain, finding.Unsafe, "frame boundary"},
		{"16 negative consecutive frames", pk{}.proto(4).frame(3).str("a").frame(2).op(opPOP).none().stop(), "", Plain, finding.Safe, ""},
		// 17: nested pickles in bytes handed to loaders.
		{"17 BINBYTES8 to pickle.loads", pk{}.proto(4).global("pickle", "loads").binbytes8(evil()).tuple1().reduce().stop(), "", Plain, finding.Unsafe, "pickle.loads → os.system"},
		{"17 BYTEARRAY8 to dill.loads", pk{}.proto(5).global("dill", "loads").bytearray8(evil()).tuple1().reduce().stop(), "", Plain, finding.Unsafe, "dill.loads → os.system"},
		{"17 pickle bytes through an unlisted callable", pk{}.proto(4).global("mylib", "restore").binbytes(evil()).tuple1().reduce().stop(), "", Plain, finding.Unsafe, "mylib.restore → os.system"},
		{"17 protocol-0 payload to a sink", pk{}.proto(4).global("pickle", "loads").binbytes([]byte("cos\nsystem\n(S'id'\ntR.")).tuple1().reduce().stop(), "", Plain, finding.Unsafe, "pickle.loads → os.system"},
		{"17 negative plain bytes to bytearray", pk{}.proto(4).global("builtins", "bytearray").binbytes8([]byte("hello world")).tuple1().reduce().stop(), "", Plain, finding.Safe, ""},
		// 18: latin-1 str through _codecs.encode.
		{"18 _codecs.encode fold to dill.loads", pk{}.proto(2).global("dill", "loads").
			global("_codecs", "encode").binunicode(latin1Str(evil())).str("latin1").op(opTUPLE2).reduce().
			tuple1().reduce().stop(), "", Plain, finding.Unsafe, "dill.loads → os.system"},
		{"18 negative _codecs.encode of plain bytes", pk{}.proto(2).global("_codecs", "encode").binunicode(latin1Str([]byte{0, 1, 0xfe, 0xff})).str("latin1").op(opTUPLE2).reduce().stop(), "", Plain, finding.Safe, ""},
		// 19: loaders and trampolines are never allowed; deny beats allow.
		{"19 dill.loads denied", pk{}.proto(2).global("dill", "loads").stop(), "", Plain, finding.Unsafe, "dill.loads"},
		{"19 _pickle.Unpickler denied", pk{}.proto(2).global("_pickle", "Unpickler").stop(), "", Plain, finding.Unsafe, "_pickle.Unpickler"},
		{"19 builtins.type never allowed", pk{}.proto(2).global("builtins", "type").stop(), "", Plain, finding.Unknown, "builtins.type"},
		// 20: no downgrade for capitalised or odd module names.
		{"20 IPython system", pk{}.proto(2).call1("IPython.utils.process", "system", "id").stop(), "", Plain, finding.Unsafe, "IPython.utils.process.system"},
		{"20 capitalised unknown module stays unknown", pk{}.proto(2).call1("Foo.Bar", "Baz", "x").stop(), "", Plain, finding.Unknown, "Foo.Bar.Baz"},
		// 21: pure-Python unpickler entry points.
		{"21 pickle._Unpickler", pk{}.proto(2).global("pickle", "_Unpickler").stop(), "", Plain, finding.Unsafe, "pickle._Unpickler"},
		{"21 pickle._loads scans its bytes", pk{}.proto(4).global("pickle", "_loads").binbytes(evil()).tuple1().reduce().stop(), "", Plain, finding.Unsafe, "pickle._loads → os.system"},
		// 38: import-only references.
		{"38 os.path imported only", pk{}.proto(2).global("os.path", "join").op(opPOP).none().stop(), "", Plain, finding.Unsafe, "os.path.join"},
		{"38 negative allowed import only", pk{}.proto(2).global("torch", "Size").op(opPOP).none().stop(), "", Plain, finding.Safe, ""},
		// other opcodes with loader-specific meaning.
		{"PERSID in a plain pickle", pk{}.text(opPERSID, "0").stop(), "", Plain, finding.Unknown, "persistent id outside a torch context"},
		{"NEXT_BUFFER", pk{}.proto(5).op(opNEXT_BUFFER).stop(), "", Plain, finding.Unknown, "NEXT_BUFFER"},
	}
	runBypassCases(t, cases)
}

func TestNestedDepthCap(t *testing.T) {
	p := evil()
	for i := 0; i < 6; i++ {
		p = pk{}.proto(4).global("pickle", "loads").binbytes(p).tuple1().reduce().stop()
	}
	res := scanBytes(t, p, Options{})
	if res.Verdict != finding.Unsafe || !hasFinding(res, finding.Unknown, "nested payload deeper than 4") {
		t.Fatalf("verdict %v; findings:%s", res.Verdict, describe(res))
	}
	// The chain names every sink up to the cap.
	if !hasFinding(res, finding.Unsafe, strings.Repeat("pickle.loads → ", 1)+"pickle.loads") {
		t.Fatalf("no chained finding:%s", describe(res))
	}
}

func TestNestedZipGoesToNestedFunc(t *testing.T) {
	zipBytes := []byte("PK\x03\x04 fake zip body")
	data := pk{}.proto(4).global("torch", "load").binbytes(zipBytes).tuple1().reduce().stop()
	var gotChain string
	var gotLen int
	opts := Options{Nested: func(_ context.Context, b []byte, chain string, depth int) []finding.Finding {
		gotChain, gotLen = chain, len(b)
		return []finding.Finding{{Verdict: finding.Unsafe, Callable: "subprocess.run", Chain: chain + " → subprocess.run", Reason: "inner"}}
	}}
	res := scanBytes(t, data, opts)
	if gotChain != "torch.load" || gotLen != len(zipBytes) {
		t.Fatalf("Nested called with chain %q len %d", gotChain, gotLen)
	}
	if !hasFinding(res, finding.Unsafe, "torch.load → subprocess.run") {
		t.Fatalf("nested findings not merged:%s", describe(res))
	}
	// Without a NestedFunc the payload cannot be judged: unknown, never safe.
	res = scanBytes(t, pk{}.proto(4).global("builtins", "bytearray").binbytes(zipBytes).tuple1().reduce().stop(), Options{})
	if res.Verdict != finding.Unknown {
		t.Fatalf("zip bytes without NestedFunc: %v%s", res.Verdict, describe(res))
	}
}

// Array bytes that happen to start like a pickle, passed to an ordinary
// allowed call, are data; the same bytes handed to a loader are unknown.
func TestPickleLookingData(t *testing.T) {
	junk := []byte{0x80, 0x03, 0xff, 0x00, 0x12}
	res := scanBytes(t, pk{}.proto(4).global("builtins", "bytearray").binbytes(junk).tuple1().reduce().stop(), Options{})
	if res.Verdict != finding.Safe {
		t.Fatalf("data bytes: %v%s", res.Verdict, describe(res))
	}
	res = scanBytes(t, pk{}.proto(4).global("pickle", "loads").binbytes(junk).tuple1().reduce().stop(), Options{})
	if res.Verdict != finding.Unsafe || !hasFinding(res, finding.Unknown, "invalid opcode") {
		t.Fatalf("junk to a sink: %v%s", res.Verdict, describe(res))
	}
}

package pickle

import (
	"bytes"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// joblibWrapperOf emits a NumpyArrayWrapper for a 1-D array of n items of
// dtype code, BUILD included; the raw array bytes must follow.
func joblibWrapperOf(code string, n byte, align bool) pk {
	p := pk{}.str("joblib.numpy_pickle").str("NumpyArrayWrapper").stackGlobal().emptyTuple().op(opNEWOBJ).
		emptyDict().mark().
		str("subclass").str("numpy").str("ndarray").stackGlobal().
		str("shape").int1(n).tuple1().
		str("order").str("C").
		str("dtype").str("numpy").str("dtype").stackGlobal().str(code).op(opNEWFALSE, opNEWTRUE, opTUPLE3).reduce().
		mark().int1(3).str("|").none().none().none().binint(-1).binint(-1).int1(0).tuple().op(opBUILD).
		str("allow_mmap").op(opNEWTRUE)
	if align {
		p = p.str("numpy_array_alignment_bytes").int1(16)
	}
	return p.op(opSETITEMS).op(opBUILD)
}

func TestJoblibArrays(t *testing.T) {
	hidden := []byte("cos\nsystem\n(S'id'\ntR.") // opcodes inside array data are data, never code
	pad := []byte{3, 0xff, 0xff, 0xff}
	cases := []bypassCase{
		{"raw data skipped exactly (looks like a payload)", pk{}.proto(4).raw(joblibWrapperOf("u1", byte(len(hidden)), true)).raw(pad).raw(hidden).stop(), "joblib", Joblib, finding.Safe, ""},
		{"31 payload after the raw data", pk{}.proto(4).raw(joblibWrapperOf("f8", 2, false)).raw(bytes.Repeat([]byte{0xff}, 16)).op(opPOP).call1("os", "system", "id").stop(), "joblib", Joblib, finding.Unsafe, "os.system"},
		{"itemsize unknown", pk{}.proto(4).raw(joblibWrapperOf("x9", 2, false)).raw(make([]byte, 18)).stop(), "joblib", Joblib, finding.Unknown, "unrecognised dtype code"},
		{"array data truncated", pk{}.proto(4).raw(joblibWrapperOf("f8", 200, false)).raw(make([]byte, 10)), "joblib", Joblib, finding.Unknown, "joblib array declares"},
		{"object array holds a nested payload", pk{}.proto(4).raw(joblibWrapperOf("O8", 1, false)).raw(evil()).stop(), "joblib", Joblib, finding.Unsafe, "os.system"},
		{"negative object array of plain values", pk{}.proto(4).raw(joblibWrapperOf("O8", 1, false)).raw(pk{}.proto(2).mark().int1(1).op(opLIST).stop()).stop(), "joblib", Joblib, finding.Safe, ""},
		{"without joblib context raw data is garbage", pk{}.proto(4).raw(joblibWrapperOf("u1", 2, false)).raw([]byte{0xff, 0xfe}).stop(), "joblib", Plain, finding.Unknown, "invalid opcode"},
	}
	runBypassCases(t, cases)
}

func TestJoblibRealFileEvilAppended(t *testing.T) {
	data := append(readTestdata(t, "joblib_numeric.pkl"), evil()...)
	res := scanBytes(t, data, Options{Profile: mustProfile(t, "joblib"), Context: Joblib})
	if res.Verdict != finding.Unsafe || !hasFinding(res, finding.Unsafe, "os.system") {
		t.Fatalf("verdict %v%s", res.Verdict, describe(res))
	}
}

// numpy ignores the state's elsize for fixed-size kinds, so must the scanner.
func TestJoblibStateElsizeIgnoredForFixedKinds(t *testing.T) {
	w := pk{}.str("joblib.numpy_pickle").str("NumpyArrayWrapper").stackGlobal().emptyTuple().op(opNEWOBJ).
		emptyDict().mark().
		str("shape").int1(2).tuple1().
		str("dtype").str("numpy").str("dtype").stackGlobal().str("f8").op(opNEWFALSE, opNEWTRUE, opTUPLE3).reduce().
		mark().int1(3).str("<").none().none().none().binint(100).binint(1).int1(0).tuple().op(opBUILD).
		op(opSETITEMS).op(opBUILD)
	// 16 bytes of array data (2 x f8), then a payload a 200-byte skip would hide.
	data := pk{}.proto(4).raw(w).raw(make([]byte, 16)).op(opPOP).call1("os", "system", "x").stop()
	res := scanBytes(t, data, Options{Profile: mustProfile(t, "joblib"), Context: Joblib})
	if res.Verdict != finding.Unsafe || !hasFinding(res, finding.Unsafe, "os.system") {
		t.Fatalf("verdict %v%s", res.Verdict, describe(res))
	}
}

package pickle

import (
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Review tests: byte-built inputs (never unpickled) where the machine and
// CPython's C unpickler read the same bytes differently.

// TestReview_TextNumbersWithSurroundingWhitespace: CPython's INT uses
// strtol (leading whitespace skipped) and falls back to
// PyLong_FromString, which also accepts trailing whitespace; LONG, PUT and
// GET use PyLong_FromString directly. The machine's strconv parses refuse
// these, so the stream "breaks" before the payload CPython goes on to run.
// Verified on CPython 3.11 with a benign builtins.len payload (returned 3).
// At this level the result is unknown, not safe; internal/scan turns such
// a stream into "text" (see TestReview_TextPickleScannerRejectsButCPythonAccepts).
func TestReview_TextNumbersWithSurroundingWhitespace(t *testing.T) {
	payload := pk{}.global("os", "system").mark().pstr("id").tuple().reduce().stop()
	for _, prefix := range []string{"I 5\n0", "I5 \n0", "L 5\n0", "S'a'\np 1\n0", "S'a'\np1\n0g 1\n0"} {
		data := append(pk(prefix), payload...)
		res := scanBytes(t, data, Options{})
		if res.Verdict != finding.Unsafe || !hasFinding(res, finding.Unsafe, "os.system") {
			t.Errorf("prefix %q: verdict %v, want unsafe naming os.system;%s", prefix, res.Verdict, describe(res))
		}
	}
}

// Handled correctly (regression guards for ideas that did not get through).
func TestReviewHandledIdeas(t *testing.T) {
	cases := []bypassCase{
		{"rebuild_from_type_v2 calling a denied func",
			pk{}.proto(2).global("torch._tensor", "_rebuild_from_type_v2").mark().global("os", "system").global("torch", "Tensor").
				mark().str("id").tuple().emptyDict().tuple().reduce().stop(), "", Plain, finding.Unsafe, "os.system"},
		{"BUILD setting attributes on the allowed class torch.Tensor",
			pk{}.proto(2).global("torch", "Tensor").none().emptyDict().str("__reduce_ex__").none().op('s').op(opTUPLE2).op('b').stop(),
			"", Plain, finding.Unsafe, "torch.Tensor"},
		{"SETITEM on an allowed non-container (torch.device)",
			pk{}.proto(2).global("torch", "device").str("cpu").tuple1().reduce().str("k").str("v").op('s').stop(),
			"", Plain, finding.Unsafe, "torch.device"},
		{"STRING with escapes feeding STACK_GLOBAL",
			pk{}.proto(4).pstr(`o\x73`).pstr(`sy\163tem`).stackGlobal().str("id").tuple1().reduce().stop(),
			"", Plain, finding.Unsafe, "os.system"},
		{"protocol-0 INT in hex and octal (strtol base 0)",
			pk("I0x10\nI010\n00").global("os", "system").mark().pstr("id").tuple().reduce().stop(),
			"", Plain, finding.Unsafe, "os.system"},
	}
	runBypassCases(t, cases)
}

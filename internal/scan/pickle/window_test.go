package pickle

import (
	"bytes"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

func TestLongLinesAcrossWindow(t *testing.T) {
	long := strings.Repeat("a", 3*windowSize+17)
	cases := []struct {
		name    string
		data    []byte
		want    finding.Verdict
		mention string
	}{
		{"long UNICODE line", pk{}.uni(long).stop(), finding.Safe, ""},
		{"long STRING line", pk{}.pstr(long).stop(), finding.Safe, ""},
		{"long STRING without closing quote", pk{}.text('S', "'"+long).stop(), finding.Unknown, "must be quoted"},
		{"long GLOBAL module name", pk{}.global(long, "x").stop(), finding.Unknown, "name longer than"},
		{"long line without newline", pk{}.text('V', long)[:len(long)], finding.Unknown, "truncated"},
		{"big BINBYTES skipped then payload", pk{}.proto(4).binbytes8(bytes.Repeat([]byte{'c'}, 2*windowSize)).op(opPOP).call1("os", "system", "x").stop(), finding.Unsafe, "os.system"},
		{"long STACK_GLOBAL operand", pk{}.proto(4).binunicode(strings.Repeat("m", 300)).str("x").stackGlobal().stop(), finding.Unknown, "STACK_GLOBAL operand longer"},
		{"empty input", nil, finding.Unknown, "empty input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := scanBytes(t, c.data, Options{})
			if res.Verdict != c.want || (c.mention != "" && !hasFinding(res, c.want, c.mention)) {
				t.Fatalf("verdict %v, want %v mentioning %q;%s", res.Verdict, c.want, c.mention, describe(res))
			}
		})
	}
}

func TestDenseListAcrossManyWindows(t *testing.T) {
	data := denseList(300_000)
	res := scanBytes(t, data, Options{})
	if res.Verdict != finding.Safe || !res.Complete || res.End != int64(len(data)) || res.Protocol != 4 {
		t.Fatalf("verdict %v complete %v end %d/%d proto %d%s", res.Verdict, res.Complete, res.End, len(data), res.Protocol, describe(res))
	}
	// A payload after many windows of data is still found.
	data = append(data[:len(data)-1:len(data)-1], pk{}.op(opPOP).call1("os", "system", "x").stop()...)
	res = scanBytes(t, data, Options{})
	if res.Verdict != finding.Unsafe {
		t.Fatalf("verdict %v%s", res.Verdict, describe(res))
	}
}

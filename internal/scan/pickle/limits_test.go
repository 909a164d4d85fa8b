package pickle

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Row 35: resource exhaustion fails closed and stays bounded.
func TestResourceLimits(t *testing.T) {
	small := DefaultLimits()
	small.MaxOpcodes = 1000
	small.MaxStackItems = 100
	small.MaxMemo = 50

	var deepMarks pk = pk{}.proto(2)
	for i := 0; i < 500; i++ {
		deepMarks = deepMarks.mark()
	}
	var deepLists pk = pk{}.proto(2)
	for i := 0; i < 500; i++ {
		deepLists = deepLists.emptyList()
	}
	var manyOps pk = pk{}.proto(2).none()
	for i := 0; i < 2000; i++ {
		manyOps = manyOps.op(opDUP, opPOP)
	}
	var manyMemo pk = pk{}.proto(4).none()
	for i := 0; i < 100; i++ {
		manyMemo = manyMemo.memoize()
	}
	huge := binary.LittleEndian.AppendUint64(pk{}.proto(4).op(opBINBYTES8), 1<<62)
	hugeLong := binary.LittleEndian.AppendUint32(pk{}.proto(2).op(opLONG4), 1<<31-1)

	cases := []struct {
		name    string
		data    []byte
		mention string
	}{
		{"deep MARK nesting", deepMarks.stop(), "limit hit: more than 100 stack items"},
		{"deep list nesting", deepLists.stop(), "limit hit: more than 100 stack items"},
		{"opcode count", manyOps.stop(), "limit hit: more than 1000 opcodes"},
		{"memo entries", manyMemo.stop(), "limit hit: more than 50 memo entries"},
		{"huge BINBYTES8 length", huge, "declares"},
		{"huge LONG4 length", hugeLong, "declares"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := scanBytes(t, c.data, Options{Limits: small})
			if res.Verdict != finding.Unknown || !hasFinding(res, finding.Unknown, c.mention) {
				t.Fatalf("verdict %v; findings:%s", res.Verdict, describe(res))
			}
		})
	}
}

// GET/DUP fan-out of one big list costs time linear in the opcodes, not in
// the (shared) list size.
func TestFanOutIsLinear(t *testing.T) {
	p := pk{}.proto(2).emptyList().binput(0).mark()
	for i := 0; i < 1000; i++ {
		p = p.int1(1)
	}
	p = p.op(opAPPENDS).emptyList().mark()
	for i := 0; i < 200000; i++ {
		p = p.binget(0)
		if i%1000 == 999 {
			p = p.op(opAPPENDS).mark()
		}
	}
	p = p.op(opAPPENDS).op(opTUPLE2).stop()
	start := time.Now()
	res := scanBytes(t, p, Options{})
	if res.Verdict != finding.Safe || !res.Complete {
		t.Fatalf("verdict %v%s", res.Verdict, describe(res))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("fan-out took %v", d)
	}
}

// Cancelling the context stops a long scan with unknown.
func TestContextCancel(t *testing.T) {
	p := pk{}.proto(2).none()
	for i := 0; i < 300000; i++ {
		p = p.op(opDUP, opPOP)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := p.stop()
	res := ScanStreams(ctx, bytes.NewReader(data), 0, int64(len(data)), Options{})
	if res.Verdict != finding.Unknown || !hasFinding(res, finding.Unknown, "cancelled") {
		t.Fatalf("verdict %v%s", res.Verdict, describe(res))
	}
}

// Findings beyond MaxFindings are counted, not kept, and the verdict holds.
func TestFindingCap(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxFindings = 5
	p := pk{}.proto(2)
	for i := 0; i < 50; i++ {
		p = p.global("mylib", "f"+string(rune('a'+i%26))+string(rune('a'+i/26))).op(opPOP)
	}
	p = p.call1("os", "system", "x").stop()
	res := scanBytes(t, p, Options{Limits: lim})
	if res.Verdict != finding.Unsafe || len(res.Findings) > 7 {
		t.Fatalf("verdict %v, %d findings", res.Verdict, len(res.Findings))
	}
}

// The scanner never reads past end, even when the reader has more bytes.
func TestNeverReadsPastEnd(t *testing.T) {
	data := append(pk{}.proto(2).none().stop(), evil()...)
	end := int64(4)
	res := ScanStreams(context.Background(), bytes.NewReader(data), 0, end, Options{})
	if res.Verdict != finding.Safe || res.End != end {
		t.Fatalf("verdict %v end %d%s", res.Verdict, res.End, describe(res))
	}
	// A stream cut by end is truncated, not completed from the bytes beyond.
	res = ScanStream(context.Background(), bytes.NewReader(data), 4, 10, Options{})
	if res.Complete || res.Verdict == finding.Safe {
		t.Fatalf("cut stream: complete=%v verdict=%v", res.Complete, res.Verdict)
	}
}

// Many distinct nested payloads: the first maxNestedScans are scanned, the
// rest make the stream unknown instead of costing unbounded work.
func TestNestedScanLimit(t *testing.T) {
	p := pk{}.proto(4).mark()
	for i := 0; i < maxNestedScans+10; i++ {
		p = p.global("builtins", "bytearray").binbytes(pk{}.proto(2).int1(byte(i)).stop()).tuple1().reduce()
	}
	res := scanBytes(t, p.op(opLIST).stop(), Options{})
	if res.Verdict != finding.Unknown || !hasFinding(res, finding.Unknown, "nested payloads in one stream") {
		t.Fatalf("verdict %v%s", res.Verdict, describe(res))
	}
}

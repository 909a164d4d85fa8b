package pickle

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// encFolded marks a kBytes value that is the Latin-1 fold of the kStr in
// c.items[0] (the result of _codecs.encode(s, "latin1")); it is only
// materialised when it must be scanned.
const encFolded uint8 = 10

// maxNestedScans bounds how many distinct nested payloads one stream may
// make the scanner open, so fan-out through the memo stays linear.
const maxNestedScans = 256

var zipMagic = []byte("PK\x03\x04")

// sniffArgs inspects every bytes argument of a call site (section 7):
// pickles are scanned here with the same policy, other payloads handed to
// opts.Nested, and a loader sink receiving unrecognisable bytes is unknown.
func (m *machine) sniffArgs(callee, args value) {
	if args.c == nil {
		return
	}
	for _, a := range args.c.items {
		switch {
		case a.k == kBytes:
			m.nested(callee, a)
		case (a.k == kTuple || a.k == kList) && a.c != nil:
			// One level down covers apply-style trampolines such as
			// functools.partial(f, (payload,)); deeper nesting is not followed.
			for _, b := range a.c.items {
				if b.k == kBytes {
					m.nested(callee, b)
				}
			}
		}
	}
}

func (m *machine) isSink(callee value) bool {
	return callee.k == kGlobal && m.prof.t.sinks[callee.path()]
}

// prefix returns up to n leading bytes of a bytes value.
func (m *machine) prefix(v value, n int) []byte {
	if v.enc == encFolded {
		src := v.item(0)
		cut := src
		if cut.n > int64(4*n+8) {
			cut.n = int64(4*n + 8) // enough raw text for n code points
		}
		s, ok := m.text(cut, cut.n)
		if !ok && cut.n != src.n {
			s, ok = m.text(src, int64(m.lim.MaxInflate))
		}
		if !ok {
			return nil
		}
		b, _ := latin1Fold(strings.ToValidUTF8(s, ""))
		if len(b) > n {
			b = b[:n]
		}
		return b
	}
	if v.c != nil && v.c.data != nil {
		return v.c.data[:min(n, len(v.c.data))]
	}
	cut := v
	if cut.n > int64(n) {
		cut.n = int64(n)
	}
	b, _ := m.rawBytes(cut, int64(n))
	return b
}

// materialize copies a bytes value into memory, within MaxInflate.
func (m *machine) materialize(v value) ([]byte, bool) {
	if v.enc == encFolded {
		s, ok := m.text(v.item(0), m.lim.MaxInflate)
		if !ok {
			return nil, false
		}
		return latin1Fold(s)
	}
	b, ok := m.rawBytes(v, m.lim.MaxInflate)
	if !ok {
		return nil, false
	}
	return bytes.Clone(b), true
}

func (m *machine) nested(callee, v value) {
	pre := m.prefix(v, 8)
	strict := Sniff(pre, false)
	isZip := bytes.HasPrefix(pre, zipMagic)
	sink := m.isSink(callee)
	if !strict && !isZip && !sink {
		return // ordinary bytes handed to an ordinary call
	}
	op := opNames[m.op]
	sinkName := "unresolved"
	if callee.k == kGlobal || callee.k == kObj {
		sinkName = callee.path()
	}
	key := [2]int64{v.i, v.n}
	if v.enc == encFolded {
		key = [2]int64{v.item(0).i, -1 - v.item(0).n}
	}
	if v.c != nil && v.c.data != nil {
		key = [2]int64{-1, -int64(len(m.nestedSeen))} // in-memory payloads: never deduplicated, still counted
	}
	if m.nestedSeen == nil {
		m.nestedSeen = map[[2]int64]bool{}
	}
	if m.nestedSeen[key] {
		return
	}
	if len(m.nestedSeen) >= maxNestedScans {
		m.add(finding.Unknown, sinkName, fmt.Sprintf("limit hit: more than %d nested payloads in one stream", maxNestedScans), op)
		return
	}
	m.nestedSeen[key] = true
	if m.opts.Depth+1 > m.lim.MaxNestDepth {
		m.add(finding.Unknown, sinkName, fmt.Sprintf("limit hit: nested payload deeper than %d", m.lim.MaxNestDepth), op)
		return
	}
	chain := sinkName
	if m.opts.Chain != "" {
		chain = m.opts.Chain + " → " + sinkName
	}
	if isZip {
		m.nestedForeign(sinkName, chain, v, "a zip archive")
		return
	}
	var r io.ReaderAt = m.r
	start, end := v.i, v.i+v.n
	if v.enc == encFolded || (v.c != nil && v.c.data != nil) {
		data, ok := m.materialize(v)
		if !ok {
			m.add(finding.Unknown, sinkName, "nested payload too large or undecodable to scan", op)
			return
		}
		r, start, end = bytes.NewReader(data), 0, int64(len(data))
	}
	sub := m.opts
	sub.Depth++
	sub.Chain = chain
	sub.Context = Plain
	switch sinkName {
	case "torch.load", "torch.serialization.load", "torch.storage._load_from_bytes":
		sub.Context = TorchLegacy
	}
	res := scanMany(m.ctx, r, start, end, sub)
	if !res.Complete && !hasCallable(res.Findings) {
		if !sink {
			// Data that merely starts like a pickle (array bytes passed to
			// an ordinary call): no loader reads it here.
			return
		}
		if !strict {
			// Not a pickle: a sink still deserialises it some other way.
			m.nestedForeign(sinkName, chain, v, "bytes that are not a pickle")
			return
		}
	}
	m.merge(res)
}

// nestedForeign hands non-pickle bytes to the container scanner.
func (m *machine) nestedForeign(sinkName, chain string, v value, what string) {
	op := opNames[m.op]
	if m.opts.Nested == nil {
		m.add(finding.Unknown, sinkName, sinkName+" receives "+what+" that this scanner cannot open here", op)
		return
	}
	data, ok := m.materialize(v)
	if !ok {
		m.add(finding.Unknown, sinkName, "nested payload too large or undecodable to scan", op)
		return
	}
	fs := m.opts.Nested(m.ctx, data, chain, m.opts.Depth+1)
	if len(fs) == 0 {
		m.add(finding.Unknown, sinkName, sinkName+" receives "+what+" that the container scanner found nothing in", op)
	}
	for _, f := range fs {
		m.res.Verdict = finding.Worst(m.res.Verdict, f.Verdict)
		if len(m.res.Findings) < m.lim.MaxFindings {
			m.res.Findings = append(m.res.Findings, f)
		} else {
			m.dropped++
		}
	}
}

// merge adds a nested scan's findings and globals.
func (m *machine) merge(res StreamResult) {
	m.res.Verdict = finding.Worst(m.res.Verdict, res.Verdict)
	for _, f := range res.Findings {
		if len(m.res.Findings) >= m.lim.MaxFindings {
			m.dropped++
			continue
		}
		if f.Member == "" {
			f.Member = m.opts.Member
		}
		m.res.Findings = append(m.res.Findings, f)
	}
	if m.globals == nil {
		m.globals = map[string]bool{}
	}
	for _, g := range res.Globals {
		if len(m.globals) < 10000 {
			m.globals[g] = true
		}
	}
}

func hasCallable(fs []finding.Finding) bool {
	for _, f := range fs {
		if f.Callable != "" && f.Verdict > finding.Safe {
			return true
		}
	}
	return false
}

// bytesResult models calls that turn bytes or text into bytes, so that a
// payload laundered through them is still sniffed at the next call.
func (m *machine) bytesResult(callee value, args *container) (value, bool) {
	if callee.k != kGlobal || args == nil || len(args.items) == 0 {
		return value{}, false
	}
	a := args.items[0]
	switch callee.path() {
	case "builtins.bytes", "builtins.bytearray", "_io.BytesIO", "io.BytesIO":
		if a.k == kBytes {
			return a, true
		}
	case "base64.b64decode", "base64.standard_b64decode", "base64.decodebytes", "binascii.a2b_base64",
		"base64.urlsafe_b64decode", "binascii.unhexlify", "binascii.a2b_hex", "builtins.bytes.fromhex":
		var src []byte
		switch a.k {
		case kStr:
			s, ok := m.text(a, m.lim.MaxInflate)
			if !ok {
				return value{}, false
			}
			src = []byte(s)
		case kBytes:
			b, ok := m.materialize(a)
			if !ok {
				return value{}, false
			}
			src = b
		default:
			return value{}, false
		}
		var out []byte
		var err error
		if strings.Contains(callee.path(), "hex") {
			out, err = hex.DecodeString(strings.Join(strings.Fields(string(src)), ""))
		} else {
			enc := base64.StdEncoding
			if strings.Contains(callee.path(), "urlsafe") {
				enc = base64.URLEncoding
			}
			out, err = enc.DecodeString(strings.Join(strings.Fields(string(src)), ""))
		}
		if err != nil {
			return value{}, false
		}
		return value{k: kBytes, n: int64(len(out)), c: &container{data: out}}, true
	}
	return value{}, false
}

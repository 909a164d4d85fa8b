package pickle

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/safehub/safehub/internal/scan/finding"
)

// machine is the state of one stream's emulation (scanner-notes.md 2.1).
type machine struct {
	ctx    context.Context
	r      io.ReaderAt
	w      *window
	opts   Options
	lim    Limits
	prof   *Profile
	stream int
	res    StreamResult

	stack    []value
	marks    []int // stack lengths at each MARK
	memo     memo
	proto    int
	frameEnd int64 // end of the open FRAME, -1 when none
	opOff    int64 // offset of the opcode being executed
	op       byte
	opcodes  int

	truncated bool // stopped because the input ended (trial parses accept this)
	stopped   bool

	seen       map[findingKey]bool
	dropped    int
	globals    map[string]bool
	classCache map[pair]decision
	storageIdx map[string]bool
	nestedSeen map[[2]int64]bool
	refused    [256]bool // opcodes already reported as refused by weights_only
	torchOps   *[256]bool
	scratch    *scratch
}

type findingKey struct {
	v                        finding.Verdict
	callable, reason, opcode string
}

func newMachine(ctx context.Context, r io.ReaderAt, off, end int64, opts Options, stream int) *machine {
	if end-off < windowSize {
		// Small streams (nested payloads, sniffing) get small buffers.
		return newMachineBuf(ctx, r, off, end, opts, stream, int(max(end-off, 16)))
	}
	m := newMachineBuf(ctx, r, off, end, opts, stream, 0)
	m.scratch = scratchPool.Get().(*scratch)
	m.w.buf = m.scratch.buf
	m.stack = m.scratch.stack[:0]
	m.memo.dense = m.scratch.dense[:0]
	return m
}

func newMachineBuf(ctx context.Context, r io.ReaderAt, off, end int64, opts Options, stream, bufSize int) *machine {
	m := &machine{
		ctx: ctx, r: r, opts: opts, lim: opts.Limits, prof: opts.Profile, stream: stream,
		w:        newWindow(r, off, end, nil),
		frameEnd: -1,
		seen:     map[findingKey]bool{},
	}
	if bufSize > 0 {
		m.w.buf = make([]byte, bufSize)
	}
	m.res.End = off
	if opts.Profile.Name == "torch-weights-only" || opts.Profile.Name == "torch-numpy" {
		m.torchOps = torchOpcodeTable()
	}
	return m
}

// scanOne runs one stream to STOP, an error or a limit.
func scanOne(ctx context.Context, r io.ReaderAt, off, end int64, opts Options, stream int) StreamResult {
	m := newMachine(ctx, r, off, end, opts, stream)
	defer m.release()
	m.run()
	return m.finish()
}

func (m *machine) finish() StreamResult {
	if m.dropped > 0 {
		m.res.Findings = append(m.res.Findings, finding.Finding{Verdict: m.res.Verdict, Member: m.opts.Member,
			Stream: m.stream, Offset: m.opOff,
			Reason: fmt.Sprintf("%d more findings not listed (limit %d)", m.dropped, m.lim.MaxFindings)})
	}
	if m.w.err != nil {
		m.add(finding.Unknown, "", "read error: "+m.w.err.Error(), "")
	}
	if !m.res.Complete {
		m.res.Verdict = finding.Worst(m.res.Verdict, finding.Unknown)
	}
	m.res.End = m.w.offset()
	m.res.Opcodes = m.opcodes
	m.res.Streams = 1
	for g := range m.globals {
		m.res.Globals = append(m.res.Globals, g)
	}
	sort.Strings(m.res.Globals)
	return m.res
}

// add records a finding; duplicates (same verdict, callable, reason, opcode)
// are kept once, and past MaxFindings only the verdict is updated.
func (m *machine) add(v finding.Verdict, callable, reason, opcode string) {
	m.res.Verdict = finding.Worst(m.res.Verdict, v)
	k := findingKey{v, callable, reason, opcode}
	if m.seen[k] {
		return
	}
	if len(m.res.Findings) >= m.lim.MaxFindings {
		m.dropped++
		return
	}
	m.seen[k] = true
	f := finding.Finding{Verdict: v, Callable: callable, Reason: reason, Member: m.opts.Member,
		Stream: m.stream, Offset: m.opOff, Opcode: opcode}
	if m.opts.Chain != "" {
		f.Chain = m.opts.Chain
		if callable != "" {
			f.Chain += " → " + callable
		}
	}
	m.res.Findings = append(m.res.Findings, f)
}

// fail ends the stream with a finding, as the loader's exception would.
func (m *machine) fail(v finding.Verdict, reason string) {
	m.add(v, "", reason, opNames[m.op])
	m.stopped = true
}

func (m *machine) failTrunc() {
	m.truncated = true
	m.fail(finding.Unknown, "pickle data was truncated")
}

// --- main loop ---

func (m *machine) run() {
	w := m.w
	for !m.stopped {
		m.opOff = w.offset()
		if m.frameEnd >= 0 {
			if m.opOff == m.frameEnd {
				m.frameEnd = -1
			} else if m.opOff > m.frameEnd {
				m.fail(finding.Unsafe, "evasion: frame boundary (an opcode argument runs past the end of its FRAME)")
				return
			}
		}
		if m.opcodes >= m.lim.MaxOpcodes {
			m.fail(finding.Unknown, fmt.Sprintf("limit hit: more than %d opcodes in one stream", m.lim.MaxOpcodes))
			return
		}
		m.opcodes++
		if m.opcodes&0xffff == 0 && m.ctx.Err() != nil {
			m.fail(finding.Unknown, "scan cancelled: "+m.ctx.Err().Error())
			return
		}
		if !w.ensure(1) {
			m.failTrunc()
			return
		}
		op := w.buf[w.pos]
		w.pos++
		m.op = op
		if m.torchOps != nil && !m.torchOps[op] && !m.refused[op] && opNames[op] != "" {
			m.refused[op] = true
			m.add(finding.Safe, "", "weights_only would refuse opcode "+opNames[op], opNames[op])
		}
		m.step(op)
	}
}

// step executes one opcode. Each case reads its argument through the window.
func (m *machine) step(op byte) {
	w := m.w
	switch op {
	// ---- control ----
	case opPROTO:
		if !w.ensure(1) {
			m.failTrunc()
			return
		}
		p := int(w.buf[w.pos])
		w.pos++
		if p > 5 {
			m.fail(finding.Unknown, fmt.Sprintf("unsupported pickle protocol: %d", p))
			return
		}
		m.proto = p
		m.res.Protocol = max(m.res.Protocol, p)
	case opFRAME:
		n, ok := m.u64()
		if !ok {
			return
		}
		if m.frameEnd >= 0 {
			m.fail(finding.Unsafe, "evasion: frame boundary (FRAME inside an open frame)")
			return
		}
		if n > uint64(w.remaining()) {
			m.fail(finding.Unsafe, "evasion: frame boundary (FRAME length exceeds the remaining input)")
			return
		}
		m.frameEnd = w.offset() + int64(n)
	case opSTOP:
		if _, ok := m.pop(); !ok {
			return
		}
		m.res.Complete = true
		m.stopped = true

	// ---- numbers ----
	case opINT:
		m.textInt(false)
	case opLONG:
		m.textInt(true)
	case opFLOAT:
		b, _, _, short, ok := w.line()
		if !ok {
			m.failTrunc()
			return
		}
		if short {
			m.fail(finding.Unknown, "FLOAT literal too long")
			return
		}
		if _, err := strconv.ParseFloat(string(b), 64); err != nil && !isPyFloatWord(b) {
			m.fail(finding.Unknown, "could not convert FLOAT literal")
			return
		}
		m.push(value{k: kFloat})
	case opBININT:
		if !w.ensure(4) {
			m.failTrunc()
			return
		}
		m.push(intValue(int64(int32(binary.LittleEndian.Uint32(w.buf[w.pos:])))))
		w.pos += 4
	case opBININT1:
		if !w.ensure(1) {
			m.failTrunc()
			return
		}
		m.push(intValue(int64(w.buf[w.pos])))
		w.pos++
	case opBININT2:
		if !w.ensure(2) {
			m.failTrunc()
			return
		}
		m.push(intValue(int64(binary.LittleEndian.Uint16(w.buf[w.pos:]))))
		w.pos += 2
	case opBINFLOAT:
		if !w.ensure(8) {
			m.failTrunc()
			return
		}
		w.pos += 8
		m.push(value{k: kFloat})
	case opLONG1:
		if !w.ensure(1) {
			m.failTrunc()
			return
		}
		n := int64(w.buf[w.pos])
		w.pos++
		m.binLong(n)
	case opLONG4:
		if !w.ensure(4) {
			m.failTrunc()
			return
		}
		n := int64(int32(binary.LittleEndian.Uint32(w.buf[w.pos:])))
		w.pos += 4
		if n < 0 {
			m.fail(finding.Unknown, "LONG4 byte count < 0")
			return
		}
		m.binLong(n)

	// ---- text and bytes ----
	case opSTRING:
		b, off, n, short, ok := w.line()
		if !ok {
			m.failTrunc()
			return
		}
		if !m.checkQuoted(b, short, off, n) {
			m.fail(finding.Unknown, "the STRING opcode argument must be quoted")
			return
		}
		m.push(value{k: kStr, enc: encEscaped, i: off, n: n})
	case opUNICODE:
		_, off, n, _, ok := w.line()
		if !ok {
			m.failTrunc()
			return
		}
		m.push(value{k: kStr, enc: encRawUnicode, i: off, n: n})
	case opBINSTRING:
		m.counted(4, true, kStr)
	case opSHORT_BINSTRING, opSHORT_BINUNICODE:
		m.counted(1, false, kStr)
	case opBINUNICODE:
		m.counted(4, false, kStr)
	case opBINUNICODE8:
		m.counted(8, false, kStr)
	case opBINBYTES:
		m.counted(4, false, kBytes)
	case opSHORT_BINBYTES:
		m.counted(1, false, kBytes)
	case opBINBYTES8, opBYTEARRAY8:
		m.counted(8, false, kBytes)
	case opNEXT_BUFFER:
		m.add(finding.Unknown, "", "NEXT_BUFFER needs out-of-band buffers that file loaders never supply", "NEXT_BUFFER")
		m.push(value{k: kUnknown})
	case opREADONLY_BUFFER:
		m.top()

	// ---- constants ----
	case opNONE:
		m.push(value{k: kNone})
	case opNEWTRUE, opNEWFALSE:
		m.push(value{k: kBool})

	// ---- containers ----
	case opEMPTY_LIST:
		m.push(value{k: kList, c: &container{}})
	case opEMPTY_TUPLE:
		m.push(value{k: kTuple, c: &container{}})
	case opEMPTY_DICT:
		m.push(value{k: kDict, c: &container{}})
	case opEMPTY_SET:
		m.push(value{k: kSet, c: &container{}})
	case opLIST, opTUPLE, opFROZENSET, opDICT:
		items, ok := m.popMark()
		if !ok {
			return
		}
		k := kList
		switch op {
		case opTUPLE:
			k = kTuple
		case opFROZENSET:
			k = kFrozenSet
		case opDICT:
			k = kDict
		}
		if k == kDict && len(items)%2 != 0 {
			m.fail(finding.Unknown, "odd number of items for DICT")
			return
		}
		m.push(m.newContainer(k, items))
	case opTUPLE1, opTUPLE2, opTUPLE3:
		n := int(op-opTUPLE1) + 1
		if len(m.stack)-m.markBase() < n {
			m.fail(finding.Unknown, "unpickling stack underflow")
			return
		}
		items := m.stack[len(m.stack)-n:]
		v := m.newContainer(kTuple, items)
		m.stack = m.stack[:len(m.stack)-n]
		m.push(v)

	// ---- mutators ----
	case opAPPEND, opSETITEM:
		n := 1
		if op == opSETITEM {
			n = 2
		}
		if len(m.stack)-m.markBase() < n+1 {
			m.fail(finding.Unknown, "unpickling stack underflow")
			return
		}
		items := m.stack[len(m.stack)-n:]
		m.mutate(&m.stack[len(m.stack)-n-1], items)
		if !m.stopped {
			m.stack = m.stack[:len(m.stack)-n]
		}
	case opAPPENDS, opSETITEMS, opADDITEMS:
		items, ok := m.popMark()
		if !ok {
			return
		}
		if op == opSETITEMS && len(items)%2 != 0 {
			m.fail(finding.Unknown, "odd number of items for SETITEMS")
			return
		}
		t := m.top()
		if t == nil {
			return
		}
		m.mutate(t, items)

	// ---- stack ----
	case opMARK:
		if len(m.stack)+len(m.marks) >= m.lim.MaxStackItems {
			m.fail(finding.Unknown, fmt.Sprintf("limit hit: more than %d stack items", m.lim.MaxStackItems))
			return
		}
		m.marks = append(m.marks, len(m.stack))
	case opPOP:
		if len(m.stack) > m.markBase() {
			m.stack = m.stack[:len(m.stack)-1]
		} else if len(m.marks) > 0 {
			m.popMark() // POP on an empty mark frame pops the MARK itself
		} else {
			m.fail(finding.Unknown, "unpickling stack underflow")
		}
	case opPOP_MARK:
		m.popMark()
	case opDUP:
		if t := m.top(); t != nil {
			m.push(*t)
		}

	// ---- memo ----
	case opPUT:
		if idx, ok := m.textIndex(); ok {
			m.memoPut(idx)
		}
	case opBINPUT:
		if !w.ensure(1) {
			m.failTrunc()
			return
		}
		idx := uint64(w.buf[w.pos])
		w.pos++
		m.memoPut(idx)
	case opLONG_BINPUT:
		if !w.ensure(4) {
			m.failTrunc()
			return
		}
		idx := uint64(binary.LittleEndian.Uint32(w.buf[w.pos:]))
		w.pos += 4
		m.memoPut(idx)
	case opMEMOIZE:
		m.memoPut(uint64(m.memo.count))
	case opGET:
		if idx, ok := m.textIndex(); ok {
			m.memoGet(idx)
		}
	case opBINGET:
		if !w.ensure(1) {
			m.failTrunc()
			return
		}
		idx := uint64(w.buf[w.pos])
		w.pos++
		m.memoGet(idx)
	case opLONG_BINGET:
		if !w.ensure(4) {
			m.failTrunc()
			return
		}
		idx := uint64(binary.LittleEndian.Uint32(w.buf[w.pos:]))
		w.pos += 4
		m.memoGet(idx)

	// ---- globals ----
	case opGLOBAL:
		mod, name, ok := m.twoLines()
		if ok {
			m.push(m.global(mod, name))
		}
	case opSTACK_GLOBAL:
		m.stackGlobal()
	case opEXT1, opEXT2, opEXT4:
		size := 1
		switch op {
		case opEXT2:
			size = 2
		case opEXT4:
			size = 4
		}
		if !w.ensure(size) {
			m.failTrunc()
			return
		}
		var code uint32
		for i := size - 1; i >= 0; i-- {
			code = code<<8 | uint32(w.buf[w.pos+i])
		}
		w.pos += size
		m.add(finding.Unknown, "", fmt.Sprintf("extension code %d (%s) resolves through copyreg's registry", code, opNames[op]), opNames[op])
		m.push(value{k: kUnknown})

	// ---- calls ----
	case opREDUCE:
		args, ok := m.pop()
		if !ok {
			return
		}
		callee, ok := m.pop()
		if !ok {
			return
		}
		m.push(m.call(callee, args))
	case opNEWOBJ:
		args, ok := m.pop()
		if !ok {
			return
		}
		cls, ok := m.pop()
		if !ok {
			return
		}
		m.push(m.call(cls, args))
	case opNEWOBJ_EX:
		kwargs, ok := m.pop()
		if !ok {
			return
		}
		args, ok := m.pop()
		if !ok {
			return
		}
		cls, ok := m.pop()
		if !ok {
			return
		}
		m.sniffArgs(cls, kwargs)
		m.push(m.call(cls, args))
	case opINST:
		mod, name, ok := m.twoLines()
		if !ok {
			return
		}
		items, ok := m.popMark()
		if !ok {
			return
		}
		callee := m.global(mod, name)
		m.push(m.call(callee, m.newContainer(kTuple, items)))
	case opOBJ:
		items, ok := m.popMark()
		if !ok {
			return
		}
		if len(items) == 0 {
			m.fail(finding.Unknown, "OBJ without a class")
			return
		}
		callee := items[0]
		args := m.newContainer(kTuple, items[1:])
		m.push(m.call(callee, args))
	case opBUILD:
		state, ok := m.pop()
		if !ok {
			return
		}
		t := m.top()
		if t == nil {
			return
		}
		m.build(t, state)
	case opPERSID:
		_, off, n, _, ok := w.line()
		if !ok {
			m.failTrunc()
			return
		}
		m.push(m.persistent(value{k: kStr, enc: encUTF8, i: off, n: n}, true))
	case opBINPERSID:
		pid, ok := m.pop()
		if !ok {
			return
		}
		m.push(m.persistent(pid, false))
	default:
		m.fail(finding.Unknown, fmt.Sprintf("invalid opcode 0x%02x", op))
	}
}

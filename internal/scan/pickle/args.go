package pickle

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/safehub/safehub/internal/scan/finding"
)

// u64 reads an 8-byte little-endian length.
func (m *machine) u64() (uint64, bool) {
	if !m.w.ensure(8) {
		m.failTrunc()
		return 0, false
	}
	n := binary.LittleEndian.Uint64(m.w.buf[m.w.pos:])
	m.w.pos += 8
	return n, true
}

// counted handles the length-prefixed str/bytes opcodes: it records where
// the data is and skips it without reading it.
func (m *machine) counted(lenBytes int, signed bool, k kind) {
	w := m.w
	if !w.ensure(lenBytes) {
		m.failTrunc()
		return
	}
	var n uint64
	switch lenBytes {
	case 1:
		n = uint64(w.buf[w.pos])
	case 4:
		u := binary.LittleEndian.Uint32(w.buf[w.pos:])
		if signed && int32(u) < 0 {
			w.pos += 4
			m.fail(finding.Unknown, "BINSTRING pickle has negative byte count")
			return
		}
		n = uint64(u)
	case 8:
		n = binary.LittleEndian.Uint64(w.buf[w.pos:])
	}
	w.pos += lenBytes
	if n > uint64(w.remaining()) {
		m.truncated = true
		m.fail(finding.Unknown, fmt.Sprintf("%s declares %d bytes but only %d remain", opNames[m.op], n, w.remaining()))
		return
	}
	off := w.offset()
	w.skip(int64(n))
	m.push(value{k: k, i: off, n: int64(n)})
}

// binLong handles LONG1/LONG4: little-endian two's complement of n bytes.
func (m *machine) binLong(n int64) {
	w := m.w
	if n > w.remaining() {
		m.truncated = true
		m.fail(finding.Unknown, fmt.Sprintf("%s declares %d bytes but only %d remain", opNames[m.op], n, w.remaining()))
		return
	}
	if n > 8 {
		w.skip(n)
		m.push(value{k: kInt, big: true})
		return
	}
	if !w.ensure(int(n)) {
		m.failTrunc()
		return
	}
	var x uint64
	for i := int(n) - 1; i >= 0; i-- {
		x = x<<8 | uint64(w.buf[w.pos+i])
	}
	if n > 0 && n < 8 && w.buf[w.pos+int(n)-1]&0x80 != 0 {
		x |= math.MaxUint64 << (8 * uint(n)) // sign-extend
	}
	w.pos += int(n)
	m.push(intValue(int64(x)))
}

// textInt handles INT and LONG (protocol 0 decimal text).
func (m *machine) textInt(long bool) {
	b, _, _, short, ok := m.w.line()
	if !ok {
		m.failTrunc()
		return
	}
	if short {
		// Very long decimal literal: a big int, value irrelevant.
		m.push(value{k: kInt, big: true})
		return
	}
	if !long && len(b) == 2 && b[0] == '0' && (b[1] == '0' || b[1] == '1') {
		m.push(value{k: kBool})
		return
	}
	// CPython parses with strtol and PyLong_FromString, which accept
	// surrounding whitespace ("I 5\n"): so must the machine, or a payload
	// after such a number would go unread.
	s := strings.TrimSpace(string(b))
	if long && len(s) > 0 && s[len(s)-1] == 'L' {
		s = s[:len(s)-1]
	}
	x, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			m.push(value{k: kInt, big: true})
			return
		}
		if _, err2 := strconv.ParseInt(s, 10, 64); err2 != nil && !isDecimal(s) {
			m.fail(finding.Unknown, "invalid literal for int()")
			return
		}
		m.push(value{k: kInt, big: true})
		return
	}
	m.push(intValue(x))
}

func isDecimal(s string) bool {
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isPyFloatWord(b []byte) bool {
	switch string(b) {
	case "inf", "-inf", "nan", "+inf", "Infinity", "-Infinity":
		return true
	}
	return false
}

// textIndex reads the decimal memo index of PUT/GET.
func (m *machine) textIndex() (uint64, bool) {
	b, _, _, short, ok := m.w.line()
	if !ok {
		m.failTrunc()
		return 0, false
	}
	if short {
		m.fail(finding.Unknown, "memo index too long")
		return 0, false
	}
	// PyLong_FromString(s, NULL, 10): whitespace around and underscores
	// between digits are accepted.
	x, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(string(b)), "_", ""), 10, 64)
	if err != nil {
		m.fail(finding.Unknown, "invalid memo index")
		return 0, false
	}
	if x < 0 {
		m.fail(finding.Unknown, "negative PUT argument")
		return 0, false
	}
	return uint64(x), true
}

func (m *machine) memoPut(idx uint64) {
	t := m.top()
	if t == nil {
		return
	}
	if m.memo.count >= m.lim.MaxMemo {
		if _, exists := m.memo.get(idx); !exists {
			m.fail(finding.Unknown, fmt.Sprintf("limit hit: more than %d memo entries", m.lim.MaxMemo))
			return
		}
	}
	m.memo.put(idx, *t)
}

func (m *machine) memoGet(idx uint64) {
	v, ok := m.memo.get(idx)
	if !ok {
		m.fail(finding.Unknown, fmt.Sprintf("memo value not found at index %d", idx))
		return
	}
	m.push(v)
}

// checkQuoted verifies a STRING argument is quoted the way CPython requires.
func (m *machine) checkQuoted(b []byte, short bool, off, n int64) bool {
	if n < 2 {
		return false
	}
	var first, last [1]byte
	if short {
		if !readAt(m.r, off, first[:]) || !readAt(m.r, off+n-1, last[:]) {
			return false
		}
	} else {
		first[0], last[0] = b[0], b[len(b)-1]
	}
	return first[0] == last[0] && (first[0] == '\'' || first[0] == '"')
}

var torchOpcodeTable = sync.OnceValue(func() *[256]bool {
	t := mustTables()
	var tab [256]bool
	for b, name := range opNames {
		if t.torchOpcodes[name] {
			tab[b] = true
		}
	}
	return &tab
})

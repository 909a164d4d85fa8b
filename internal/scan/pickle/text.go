package pickle

import (
	"strconv"
	"unicode/utf8"
)

// rawBytes returns the stored bytes of a str/bytes value (before any
// decoding), reading at most limit bytes; ok is false when the value is
// longer than limit or cannot be read.
func (m *machine) rawBytes(v value, limit int64) ([]byte, bool) {
	if v.c != nil && v.c.data != nil {
		if int64(len(v.c.data)) > limit {
			return nil, false
		}
		return v.c.data, true
	}
	if v.n > limit || v.n < 0 {
		return nil, false
	}
	// Fast path: the bytes are still in the window.
	w := m.w
	if v.i >= w.base && v.i+v.n <= w.base+int64(w.n) {
		s := v.i - w.base
		return w.buf[s : s+v.n], true
	}
	b := make([]byte, v.n)
	if !readAt(m.r, v.i, b) {
		return nil, false
	}
	return b, true
}

// text decodes a kStr value the way the unpickler would, if it is no longer
// than limit bytes in the input.
func (m *machine) text(v value, limit int64) (string, bool) {
	if v.k != kStr {
		return "", false
	}
	b, ok := m.rawBytes(v, limit)
	if !ok {
		return "", false
	}
	switch v.enc {
	case encEscaped:
		return decodeStringLiteral(b)
	case encRawUnicode:
		return decodeRawUnicodeEscape(b)
	}
	return string(b), true
}

// decodeStringLiteral decodes a protocol-0 STRING argument: a quoted
// Python 2 str literal with backslash escapes (codecs.escape_decode).
func decodeStringLiteral(b []byte) (string, bool) {
	if len(b) < 2 {
		return "", false
	}
	b = b[1 : len(b)-1]
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		i++
		switch e := b[i]; e {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, e)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(b) {
				return "", false // ValueError: truncated \x escape
			}
			x, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return "", false // ValueError: invalid \x escape
			}
			out = append(out, byte(x))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			x := int(e - '0')
			for j := 0; j < 2 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; j++ {
				i++
				x = x*8 + int(b[i]-'0')
			}
			out = append(out, byte(x))
		default:
			out = append(out, '\\', e) // unknown escapes are kept
		}
	}
	return string(out), true
}

// decodeRawUnicodeEscape decodes the UNICODE opcode's raw-unicode-escape
// text: \uXXXX and \UXXXXXXXX escapes, every other byte is Latin-1.
func decodeRawUnicodeEscape(b []byte) (string, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') {
			// An odd run of backslashes before u starts an escape.
			n := 4
			if b[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(b) {
				return "", false
			}
			x, err := strconv.ParseUint(string(b[i+2:i+2+n]), 16, 32)
			if err != nil || x > utf8.MaxRune {
				return "", false
			}
			out = utf8.AppendRune(out, rune(x))
			i += 1 + n
			continue
		}
		out = utf8.AppendRune(out, rune(c))
	}
	return string(out), true
}

// latin1Fold maps each code point of s to one byte, as
// _codecs.encode(s, "latin1") does; ok is false for code points > 0xFF.
func latin1Fold(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

package scan

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonLex is a minimal strict JSON reader for the safetensors header
// schema, about 20 times faster than encoding/json's token API on
// multi-megabyte headers (a gateway answers HEAD from this parse). It
// follows serde_json: RFC 8259 strings (no raw control characters, no lone
// surrogates) and integers without sign, fraction, exponent or leading
// zeros.
type jsonLex struct {
	b   []byte
	pos int
}

func (l *jsonLex) ws() {
	for l.pos < len(l.b) {
		switch l.b[l.pos] {
		case ' ', '\t', '\n', '\r':
			l.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (l *jsonLex) peek() byte {
	l.ws()
	if l.pos >= len(l.b) {
		return 0
	}
	return l.b[l.pos]
}

func (l *jsonLex) expect(c byte) error {
	if got := l.peek(); got != c {
		if got == 0 {
			return fmt.Errorf("expected %q, got the end of the header", c)
		}
		return fmt.Errorf("expected %q at byte %d, got %q", c, l.pos, got)
	}
	l.pos++
	return nil
}

// more consumes a ',' or reports false at the closing delimiter.
func (l *jsonLex) more(closing byte, first bool) (bool, error) {
	c := l.peek()
	if c == closing {
		l.pos++
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		return false, fmt.Errorf("expected ',' or %q at byte %d", closing, l.pos)
	}
	l.pos++
	return true, nil
}

func (l *jsonLex) str() (string, error) {
	if err := l.expect('"'); err != nil {
		return "", fmt.Errorf("expected a string: %w", err)
	}
	start := l.pos
	// Fast path: no escapes.
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		if c == '"' {
			s := string(l.b[start:l.pos])
			l.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", errors.New("control character in a string")
		}
		l.pos++
	}
	out := append([]byte(nil), l.b[start:l.pos]...)
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		switch {
		case c == '"':
			return string(out), nil
		case c < 0x20:
			return "", errors.New("control character in a string")
		case c != '\\':
			out = append(out, c)
			continue
		}
		if l.pos >= len(l.b) {
			break
		}
		e := l.b[l.pos]
		l.pos++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, err := l.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || l.pos+1 >= len(l.b) || l.b[l.pos] != '\\' || l.b[l.pos+1] != 'u' {
					return "", errors.New("lone surrogate in a \\u escape")
				}
				l.pos += 2
				r2, err := l.hex4()
				if err != nil {
					return "", err
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", errors.New("invalid surrogate pair in a \\u escape")
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", fmt.Errorf("invalid escape \\%c", e)
		}
	}
	return "", errors.New("unterminated string")
}

func (l *jsonLex) hex4() (rune, error) {
	if l.pos+4 > len(l.b) {
		return 0, errors.New("short \\u escape")
	}
	v, err := strconv.ParseUint(string(l.b[l.pos:l.pos+4]), 16, 16)
	if err != nil {
		return 0, errors.New("bad \\u escape")
	}
	l.pos += 4
	return rune(v), nil
}

// uint reads a non-negative JSON integer that fits in a u64.
func (l *jsonLex) uint() (uint64, error) {
	l.ws()
	start := l.pos
	for l.pos < len(l.b) && l.b[l.pos] >= '0' && l.b[l.pos] <= '9' {
		l.pos++
	}
	digits := string(l.b[start:l.pos])
	if l.pos < len(l.b) {
		switch l.b[l.pos] {
		case '.', 'e', 'E', '-', '+':
			return 0, fmt.Errorf("number at byte %d is not a non-negative integer", start)
		}
	}
	if digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, fmt.Errorf("expected an integer at byte %d", start)
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("integer %s does not fit in 64 bits", digits)
	}
	return v, nil
}

// null consumes a JSON null if one is next.
func (l *jsonLex) null() bool {
	if l.peek() == 'n' && l.pos+4 <= len(l.b) && string(l.b[l.pos:l.pos+4]) == "null" {
		l.pos += 4
		return true
	}
	return false
}

package scan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
	"github.com/safehub/safehub/internal/scan/pickle"
)

// NumPy .npy (numpy/lib/format.py): magic, version, header length, then a
// Python literal dict {'descr', 'fortran_order', 'shape'}. When any field
// of descr has kind 'O' the body is a pickle, which np.load runs with
// allow_pickle=True (CVE-2019-6446). The literal is parsed natively.

const maxNpyHeader = 1 << 20

type npyHeader struct {
	Descr   any
	Fortran bool
	Shape   []int64
	DataOff int64
	Object  bool
}

func (s *scanner) scanNpy(t target, head []byte, out *outcome) {
	out.format = "numpy"
	h, err := parseNpyHeader(head, t.size)
	if err != nil {
		out.add(t.note(finding.Unknown, 0, "malformed .npy header: %v", err))
		return
	}
	if !h.Object {
		return // numeric array: np.load reads raw bytes, nothing runs
	}
	out.pickle = true
	res := pickle.ScanStreams(s.ctx, t.r, h.DataOff, t.size, s.pickleOpts(t, pickle.Plain, nil))
	addStream(out, res)
}

// parseNpyHeader parses the header at the start of head (which holds at
// least the first 64 KiB or the whole file).
func parseNpyHeader(head []byte, size int64) (*npyHeader, error) {
	if len(head) < 10 || string(head[:6]) != string(magicNpy) {
		return nil, errors.New("not an .npy file")
	}
	major := head[6]
	var n, start int64
	switch major {
	case 1:
		n, start = int64(binary.LittleEndian.Uint16(head[8:])), 10
	case 2, 3:
		if len(head) < 12 {
			return nil, errors.New("truncated header length")
		}
		n, start = int64(binary.LittleEndian.Uint32(head[8:])), 12
	default:
		return nil, fmt.Errorf("unsupported format version %d.%d", major, head[7])
	}
	if n > maxNpyHeader {
		return nil, fmt.Errorf("header of %d bytes exceeds the %d-byte limit", n, maxNpyHeader)
	}
	if start+n > int64(len(head)) || start+n > size {
		return nil, errors.New("header runs past the data read")
	}
	v, err := parsePyLiteral(string(head[start : start+n]))
	if err != nil {
		return nil, err
	}
	d, ok := v.(pyDict)
	if !ok {
		return nil, errors.New("header is not a dict")
	}
	h := &npyHeader{DataOff: start + n}
	descr, ok1 := d.get("descr")
	fo, ok2 := d.get("fortran_order")
	shape, ok3 := d.get("shape")
	if !ok1 || !ok2 || !ok3 || len(d) != 3 {
		return nil, errors.New("header needs exactly descr, fortran_order and shape")
	}
	h.Descr = descr
	if h.Fortran, ok = fo.(bool); !ok {
		return nil, errors.New("fortran_order is not a bool")
	}
	dims, ok := shape.(pyTuple)
	if !ok {
		return nil, errors.New("shape is not a tuple")
	}
	for _, x := range dims {
		i, ok := x.(int64)
		if !ok || i < 0 {
			return nil, errors.New("shape holds a non-integer or negative dimension")
		}
		h.Shape = append(h.Shape, i)
	}
	obj, err := descrHasObject(descr, 0)
	if err != nil {
		return nil, err
	}
	h.Object = obj
	return h, nil
}

// plainDescr is a single numeric, string or datetime type code as
// numpy.lib.format writes it: byte order, kind, item size.
var plainDescr = regexp.MustCompile(`^[<>|=]?([?bBhHiIlLqQpPefdgFDGSUVacu][0-9]*|[Mm]8(\[[A-Za-z0-9]+\])?)$`)

// descrHasObject walks a dtype description: a type string, or a list of
// (name, dtype[, shape]) fields whose dtypes may nest.
func descrHasObject(d any, depth int) (bool, error) {
	if depth > 32 {
		return false, errors.New("dtype nests too deeply")
	}
	switch v := d.(type) {
	case string:
		// numpy accepts many spellings of an object dtype ("object",
		// "(2,)O", "i4,O", ...). Only a plain numeric code is trusted to
		// carry no pickle; anything naming O is an object dtype, and any
		// other spelling is not understood, so not safe.
		code := strings.TrimSpace(v)
		if plainDescr.MatchString(code) {
			return false, nil
		}
		if strings.Contains(code, "O") || strings.Contains(strings.ToLower(code), "object") {
			return true, nil
		}
		return false, fmt.Errorf("dtype %q is not a plain numeric type", v)
	case pyList:
		for _, f := range v {
			field, ok := f.(pyTuple)
			if !ok || len(field) < 2 || len(field) > 3 {
				return false, errors.New("structured dtype field is not a (name, dtype[, shape]) tuple")
			}
			obj, err := descrHasObject(field[1], depth+1)
			if err != nil || obj {
				return obj, err
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("descr of type %T", d)
}

// Python literal values: string, int64, bool, nil, pyTuple, pyList, pyDict.
type (
	pyTuple []any
	pyList  []any
	pyDict  []pyKV
	pyKV    struct {
		K string
		V any
	}
)

// get returns the last value for k, as a Python dict literal keeps it.
func (d pyDict) get(k string) (any, bool) {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i].K == k {
			return d[i].V, true
		}
	}
	return nil, false
}

type pyParser struct {
	s     string
	pos   int
	depth int
}

// parsePyLiteral parses the subset of Python literals numpy writes.
func parsePyLiteral(s string) (any, error) {
	p := &pyParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the literal", p.s[p.pos:min(len(p.s), p.pos+10)])
	}
	return v, nil
}

func (p *pyParser) skipSpace() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *pyParser) value() (any, error) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return nil, errors.New("unexpected end of literal")
	}
	switch c := p.s[p.pos]; {
	case c == '\'' || c == '"':
		return p.str()
	case c == '{' || c == '(' || c == '[':
		if p.depth++; p.depth > 32 {
			return nil, errors.New("literal nests too deeply")
		}
		defer func() { p.depth-- }()
		return p.container(c)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.pos:], w.word) {
			p.pos += len(w.word)
			return w.v, nil
		}
	}
	return nil, fmt.Errorf("unexpected %q in literal", p.s[p.pos])
}

func (p *pyParser) number() (any, error) {
	start := p.pos
	if p.s[p.pos] == '-' {
		p.pos++
	}
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	n, err := strconv.ParseInt(p.s[start:p.pos], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bad integer %q", p.s[start:p.pos])
	}
	if p.pos < len(p.s) && (p.s[p.pos] == 'L' || p.s[p.pos] == 'l') {
		p.pos++ // Python 2 long suffix
	}
	return n, nil
}

func (p *pyParser) str() (any, error) {
	q := p.s[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == q:
			return b.String(), nil
		case c == '\\' && p.pos < len(p.s):
			e := p.s[p.pos]
			p.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
		case c == '\n':
			return nil, errors.New("newline in string literal")
		default:
			b.WriteByte(c)
		}
	}
	return nil, errors.New("unterminated string literal")
}

func (p *pyParser) container(open byte) (any, error) {
	p.pos++
	closeCh := map[byte]byte{'{': '}', '(': ')', '[': ']'}[open]
	var items []any
	var dict pyDict
	for {
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == closeCh {
			p.pos++
			break
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if open == '{' {
			k, ok := v.(string)
			if !ok {
				return nil, errors.New("dict key is not a string")
			}
			p.skipSpace()
			if p.pos >= len(p.s) || p.s[p.pos] != ':' {
				return nil, errors.New("expected ':' in dict")
			}
			p.pos++
			if v, err = p.value(); err != nil {
				return nil, err
			}
			dict = append(dict, pyKV{k, v})
		} else {
			items = append(items, v)
		}
		p.skipSpace()
		if p.pos >= len(p.s) {
			return nil, errors.New("unterminated container")
		}
		if p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.s[p.pos] != closeCh {
			return nil, fmt.Errorf("expected ',' or %q", closeCh)
		}
	}
	switch open {
	case '{':
		return dict, nil
	case '(':
		return pyTuple(items), nil
	}
	return pyList(items), nil
}

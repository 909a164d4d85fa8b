package pickle

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

const joblibWrapper = "joblib.numpy_pickle.NumpyArrayWrapper"

// joblibArray follows joblib's NumpyUnpickler.load_build: right after the
// BUILD of a NumpyArrayWrapper the file holds the array itself, either raw
// bytes (optionally after a padding-length byte and that much padding) or,
// for object dtypes, a complete nested pickle read with plain pickle.load
// (joblib/joblib: joblib/numpy_pickle.py, read_array). The bytes are skipped
// exactly; when their size cannot be computed the stream stops as unknown,
// never resynchronising blindly.
func (m *machine) joblibArray(t *value, state value) {
	if m.frameEnd >= 0 {
		// joblib commits the frame before writing array bytes, and its
		// unpickler reads them from the file, not from the frame buffer.
		if m.w.offset() < m.frameEnd {
			m.fail(finding.Unsafe, "evasion: frame boundary (joblib array data inside an open FRAME)")
			return
		}
		m.frameEnd = -1
	}
	shape, itemsize, hasObject, align, why := m.joblibGeometry(state)
	if why != "" {
		m.fail(finding.Unknown, "joblib array size cannot be computed: "+why)
		return
	}
	if hasObject {
		sub := m.opts
		sub.Context = Plain
		res := scanOne(m.ctx, m.r, m.w.offset(), m.w.end, sub, m.stream)
		m.merge(res)
		if !res.Complete {
			m.stopped = true
			return
		}
		m.w.seek(res.End)
	} else {
		count := int64(1)
		for _, d := range shape {
			var ok bool
			if count, ok = mulCheck(count, d); !ok {
				m.fail(finding.Unknown, "joblib array size overflows")
				return
			}
		}
		total, ok := mulCheck(count, itemsize)
		if !ok {
			m.fail(finding.Unknown, "joblib array size overflows")
			return
		}
		if align {
			if !m.w.ensure(1) {
				m.failTrunc()
				return
			}
			pad := int64(m.w.buf[m.w.pos])
			m.w.pos++
			if pad > m.w.remaining() {
				m.failTrunc()
				return
			}
			m.w.skip(pad)
		}
		if total > m.w.remaining() {
			m.truncated = true
			m.fail(finding.Unknown, fmt.Sprintf("joblib array declares %d bytes but only %d remain", total, m.w.remaining()))
			return
		}
		m.w.skip(total)
	}
	// joblib replaces the wrapper on the stack by the array it read.
	*t = value{k: kObj, allowed: true, c: &container{path: "numpy.ndarray"}}
}

// joblibGeometry extracts shape, itemsize, object-ness and alignment from
// the wrapper's state dict; why explains a failure.
func (m *machine) joblibGeometry(state value) (shape []int64, itemsize int64, hasObject, align bool, why string) {
	if state.k != kDict || state.c == nil {
		return nil, 0, false, false, "wrapper state is not a dict"
	}
	if int64(len(state.c.items)) < 2*state.c.count {
		return nil, 0, false, false, "wrapper state has more keys than kept"
	}
	var shapeV, dtypeV value
	var haveShape, haveDtype bool
	for i := 0; i+1 < len(state.c.items); i += 2 {
		k, ok := m.text(state.c.items[i], 64)
		if !ok {
			continue
		}
		v := state.c.items[i+1]
		switch k {
		case "shape":
			shapeV, haveShape = v, true
		case "dtype":
			dtypeV, haveDtype = v, true
		case "numpy_array_alignment_bytes":
			align = v.k != kNone
		}
	}
	if !haveShape || !haveDtype {
		return nil, 0, false, false, "wrapper state lacks shape or dtype"
	}
	if shapeV.k != kTuple || shapeV.c == nil || shapeV.c.count > int64(len(shapeV.c.items)) {
		return nil, 0, false, false, "shape is not a short tuple"
	}
	for _, d := range shapeV.c.items {
		if d.k != kInt || d.big || d.i < 0 {
			return nil, 0, false, false, "shape holds a non-integer"
		}
		shape = append(shape, d.i)
	}
	if dtypeV.k != kObj || dtypeV.c == nil || dtypeV.c.args == nil || len(dtypeV.c.args.items) == 0 {
		return nil, 0, false, false, "dtype is not a reconstructed numpy.dtype"
	}
	if !(dtypeV.path() == "numpy.dtype" || strings.HasPrefix(dtypeV.path(), "numpy.dtypes.")) {
		return nil, 0, false, false, "dtype made by " + dtypeV.path()
	}
	code, ok := m.text(dtypeV.c.args.items[0], 64)
	if !ok || code == "" {
		return nil, 0, false, false, "dtype code unreadable"
	}
	var elsize, flags int64 = -1, 0
	if st := dtypeV.c.state; st != nil {
		if len(st.items) > 5 && st.items[5].k == kInt && !st.items[5].big {
			elsize = st.items[5].i
		}
		if len(st.items) > 7 && st.items[7].k == kInt && !st.items[7].big {
			flags = st.items[7].i
		}
	}
	code = strings.TrimLeft(code, "<>|=")
	if code == "" {
		return nil, 0, false, false, "dtype code unreadable"
	}
	kindChar := code[0]
	// numpy takes elsize from the state only for flexible kinds (S, U, V),
	// and the object flag must agree with the kind: a disagreement would let
	// the scanner and joblib skip different byte counts.
	flexible := kindChar == 'S' || kindChar == 'U' || kindChar == 'V' || kindChar == 'a'
	switch {
	case kindChar == 'O':
		return shape, 0, true, align, ""
	case flags&1 != 0:
		return nil, 0, false, false, "dtype " + strconv.Quote(code) + " claims to hold objects"
	case flexible && elsize > 0:
		return shape, elsize, false, align, ""
	}
	digits, err := strconv.ParseInt(code[1:], 10, 64)
	switch kindChar {
	case 'b', 'i', 'u', 'f', 'c', 'S', 'V', 'a':
		if err == nil && digits > 0 {
			return shape, digits, false, align, ""
		}
	case 'U':
		if err == nil && digits > 0 && digits < 1<<40 {
			return shape, 4 * digits, false, align, ""
		}
	case 'M', 'm':
		return shape, 8, false, align, ""
	case '?':
		return shape, 1, false, align, ""
	}
	return nil, 0, false, false, "unrecognised dtype code " + strconv.Quote(code)
}

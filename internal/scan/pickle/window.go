package pickle

import (
	"errors"
	"io"
)

// windowSize is the fixed buffer through which a stream is decoded. Every
// fixed-size argument fits; text lines longer than this are only scanned
// for their end, never held whole (names that long are refused).
const windowSize = 64 << 10

var errTruncated = errors.New("pickle data was truncated")

// window is a sliding buffer over r limited to [start, end). It never
// allocates after construction and never reads at or past end.
type window struct {
	r    io.ReaderAt
	buf  []byte
	base int64 // input offset of buf[0]
	n    int   // valid bytes in buf
	pos  int   // current position in buf
	end  int64 // hard limit (exclusive)
	err  error // read error other than EOF, reported once
}

func newWindow(r io.ReaderAt, off, end int64, buf []byte) *window {
	return &window{r: r, buf: buf, base: off, end: end}
}

// offset is the input offset of the next unread byte.
func (w *window) offset() int64 { return w.base + int64(w.pos) }

// remaining is how many bytes lie between the position and end.
func (w *window) remaining() int64 { return w.end - w.offset() }

// ensure makes k (<= windowSize) bytes available at pos and reports whether
// that was possible before end.
func (w *window) ensure(k int) bool {
	if w.n-w.pos >= k {
		return true
	}
	return w.fill(k)
}

func (w *window) fill(k int) bool {
	// Slide the unread tail to the front, then read as much as fits.
	copy(w.buf, w.buf[w.pos:w.n])
	w.base += int64(w.pos)
	w.n -= w.pos
	w.pos = 0
	want := int64(len(w.buf) - w.n)
	if left := w.end - w.base - int64(w.n); left < want {
		want = left
	}
	if want > 0 {
		got, err := w.r.ReadAt(w.buf[w.n:w.n+int(want)], w.base+int64(w.n))
		w.n += got
		if got < int(want) {
			// The input is shorter than announced: shrink end so that
			// later reads fail cleanly instead of retrying.
			w.end = w.base + int64(w.n)
			if err != nil && err != io.EOF && w.err == nil {
				w.err = err
			}
		}
	}
	return w.n-w.pos >= k
}

// skip advances by n bytes (already checked against remaining) without
// reading them: raw payloads are never loaded.
func (w *window) skip(n int64) {
	if int64(w.n-w.pos) >= n {
		w.pos += int(n)
		return
	}
	w.base = w.offset() + n
	w.n, w.pos = 0, 0
}

// seek moves to an absolute offset within [base, end].
func (w *window) seek(off int64) {
	if off >= w.base && off <= w.base+int64(w.n) {
		w.pos = int(off - w.base)
		return
	}
	w.base, w.n, w.pos = off, 0, 0
}

// line finds the next '\n' and returns the line (without it) if it fits in
// the window. For longer lines it returns ok with short=true, the line's
// offset and length, and no bytes; the position moves past the newline.
func (w *window) line() (b []byte, off int64, length int64, short bool, ok bool) {
	off = w.offset()
	scanned := 0
	for {
		for i := w.pos + scanned; i < w.n; i++ {
			if w.buf[i] == '\n' {
				b = w.buf[w.pos:i]
				w.pos = i + 1
				return b, off, int64(len(b)), false, true
			}
		}
		scanned = w.n - w.pos
		if w.n-w.pos < len(w.buf) {
			if !w.fill(w.n - w.pos + 1) {
				return nil, off, 0, false, false
			}
			continue
		}
		// The window is full of one line: continue scanning without keeping it.
		w.skip(int64(w.n - w.pos))
		for {
			if !w.ensure(1) {
				return nil, off, 0, false, false
			}
			for i := w.pos; i < w.n; i++ {
				if w.buf[i] == '\n' {
					w.pos = i
					length = w.offset() - off
					w.pos = i + 1
					return nil, off, length, true, true
				}
			}
			w.skip(int64(w.n - w.pos))
		}
	}
}

// readAt reads n bytes at absolute offset off into dst (len n) from the
// underlying reader, bypassing the window. Used for the few strings whose
// contents matter (names, persistent-id keys, nested payload prefixes).
func readAt(r io.ReaderAt, off int64, dst []byte) bool {
	got, _ := r.ReadAt(dst, off)
	return got == len(dst)
}

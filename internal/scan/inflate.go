package scan

import (
	"errors"
	"fmt"
	"io"
)

// errInflateLimit means a decompressed stream outgrew its byte or ratio cap.
var errInflateLimit = errors.New("decompressed size limit")

// minRatioFloor lets tiny members inflate to 1 MiB whatever their ratio:
// the 100:1 cap is for bombs, not for a 40-byte member of zeros.
const minRatioFloor = 1 << 20

// inflater presents a decompressing stream as an io.ReaderAt. It
// decompresses lazily, only as far as reads reach, so scanning a
// safetensors or npy header inside a compressed member inflates only the
// header. Everything produced is kept (readers seek backwards), bounded by
// limit.
type inflater struct {
	src   io.Reader
	buf   []byte
	limit int64
	err   error // sticky: io.EOF at the stream's end, errInflateLimit, or a corrupt-data error
}

func newInflater(src io.Reader, limit int64) *inflater {
	return &inflater{src: src, limit: limit}
}

// inflateLimit is the cap for a stream of compSize compressed bytes.
func (s *scanner) inflateLimit(compSize int64) int64 {
	byRatio := max(compSize, 1) * s.opts.MaxRatio
	if byRatio/s.opts.MaxRatio != max(compSize, 1) { // overflow
		byRatio = s.opts.MaxInflate
	}
	return min(s.opts.MaxInflate, max(byRatio, minRatioFloor))
}

func (f *inflater) fill(upto int64) {
	for int64(len(f.buf)) < upto && f.err == nil {
		if int64(len(f.buf)) >= f.limit {
			f.err = fmt.Errorf("%w: more than %d bytes", errInflateLimit, f.limit)
			return
		}
		if cap(f.buf)-len(f.buf) < 32<<10 {
			grow := min(max(int64(cap(f.buf)), 64<<10), f.limit-int64(len(f.buf))+1)
			nb := make([]byte, len(f.buf), int64(len(f.buf))+grow)
			copy(nb, f.buf)
			f.buf = nb
		}
		room := min(int64(cap(f.buf)-len(f.buf)), f.limit+1-int64(len(f.buf)))
		n, err := f.src.Read(f.buf[len(f.buf) : int64(len(f.buf))+room])
		f.buf = f.buf[:len(f.buf)+n]
		if err != nil {
			f.err = err
		}
	}
	if int64(len(f.buf)) > f.limit && !errors.Is(f.err, errInflateLimit) {
		f.buf = f.buf[:f.limit]
		f.err = fmt.Errorf("%w: more than %d bytes", errInflateLimit, f.limit)
	}
}

func (f *inflater) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	f.fill(off + int64(len(p)))
	if off >= int64(len(f.buf)) {
		return 0, f.readErr()
	}
	n := copy(p, f.buf[off:])
	if n < len(p) {
		return n, f.readErr()
	}
	return n, nil
}

// readErr turns the stream's terminal state into what ReadAt callers
// expect: io.EOF at the real end, the cause otherwise.
func (f *inflater) readErr() error {
	if f.err == nil || f.err == io.EOF {
		return io.EOF
	}
	return f.err
}

// all decompresses the whole stream and returns its bytes, or the error
// that stopped it (limit or corrupt data).
func (f *inflater) all() ([]byte, error) {
	f.fill(f.limit + 1)
	if f.err != nil && f.err != io.EOF && !errors.Is(f.err, io.ErrUnexpectedEOF) {
		return f.buf, f.err
	}
	if errors.Is(f.err, io.ErrUnexpectedEOF) {
		return f.buf, fmt.Errorf("truncated compressed stream: %w", f.err)
	}
	return f.buf, nil
}

// failure is the stream error worth reporting after a partial scan, if any.
func (f *inflater) failure() error {
	if f.err == nil || f.err == io.EOF {
		return nil
	}
	return f.err
}

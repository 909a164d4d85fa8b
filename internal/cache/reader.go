package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// Reader reads one blob, stored or filling. ReadAt blocks until the bytes
// it asks for have arrived, and honours the context given to Open; a read
// that reaches the blob's last byte also waits until the whole blob is
// verified and checked. So a copy loop that writes what ReadAt returns
// never completes a response with bad bytes: it gets an error instead.
// A Reader is safe for concurrent ReadAt calls.
type Reader struct {
	ctx    context.Context
	size   int64
	ra     io.ReaderAt
	closer io.Closer // a stored blob's file
	fill   *fill     // nil for a stored blob
	closed atomic.Bool
}

var errReaderClosed = errors.New("cache: reader closed")

// Size is the blob's size in bytes.
func (r *Reader) Size() int64 { return r.size }

// FromStore reports whether the blob was already stored when opened (a hit).
func (r *Reader) FromStore() bool { return r.fill == nil }

// File returns the stored blob's file when the store is on disk, so the
// gateway can hand it to http.ServeContent (sendfile, ranges, 416s for
// free). It returns nil during a fill.
func (r *Reader) File() *os.File {
	f, _ := r.closer.(*os.File)
	return f
}

func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("cache: negative offset %d", off)
	}
	if off >= r.size {
		if r.size == 0 && r.fill != nil {
			// An empty blob has no last byte to hold back: its end is
			// released only once the (empty) body is verified.
			if err := r.fill.await(r.ctx, 0, true); err != nil {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return 0, context.Cause(r.ctx)
	}
	end := min(off+int64(len(p)), r.size)
	if r.fill != nil {
		if err := r.fill.await(r.ctx, end, end == r.size); err != nil {
			return 0, err
		}
	}
	n, err := r.ra.ReadAt(p[:end-off], off)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) == end-off) {
		return n, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Wait blocks until the blob is verified and checked (nil), the fill failed
// (its error), or ctx ends. For a stored blob it returns nil at once.
func (r *Reader) Wait(ctx context.Context) error {
	if r.fill == nil {
		return nil
	}
	return r.fill.await(ctx, r.size, true)
}

// Close releases the reader. The fill goes on for other readers and the
// store.
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if r.fill != nil {
		r.fill.release()
		return nil
	}
	return r.closer.Close()
}

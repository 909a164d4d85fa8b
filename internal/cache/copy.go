package cache

import (
	"fmt"
	"io"
	"sync"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// WriteRange writes bytes [off, off+n) of the blob to w, chunk by chunk as
// they become available, and returns how many it wrote. It is the
// gateway's copy loop for both hits and fills: a failed fill, a refusal
// or the reader's context ending stops it with an error before the last
// byte of the blob, so with Content-Length set the client sees a cut
// connection, never a complete-looking file. The caller bounds each write
// (http.ResponseController.SetWriteDeadline) by wrapping w if it wants to.
func WriteRange(w io.Writer, r *Reader, off, n int64) (int64, error) {
	if off < 0 || n < 0 || off+n > r.size {
		return 0, fmt.Errorf("cache: range %d+%d outside a blob of %d bytes", off, n, r.size)
	}
	if n == 0 {
		// Nothing to copy, but an empty blob still has to be verified.
		if _, err := r.ReadAt(nil, off); err != nil && err != io.EOF {
			return 0, err
		}
		return 0, nil
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var sent int64
	for sent < n {
		k := min(int64(len(buf)), n-sent)
		got, err := r.ReadAt(buf[:k], off+sent)
		if int64(got) < k {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return sent, err
		}
		wn, err := w.Write(buf[:got])
		sent += int64(wn)
		if err != nil {
			return sent, fmt.Errorf("cache: writing to the client: %w", err)
		}
	}
	return sent, nil
}

// Available returns how many leading bytes can be read without waiting
// (all of them for a stored blob). The gateway can use it to decide
// whether a Range far ahead of a fill should rather go to the upstream.
func (r *Reader) Available() int64 {
	if r.fill == nil {
		return r.size
	}
	r.fill.mu.Lock()
	defer r.fill.mu.Unlock()
	if r.fill.done {
		return r.size
	}
	// The last byte is held back until the blob is verified.
	return min(r.fill.written, max(r.size-1, 0))
}

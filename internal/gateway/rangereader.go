package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/safehub/safehub/internal/upstream"
)

const (
	scanTimeout   = 2 * time.Minute
	minBlock      = 256 << 10 // first read of a file: one round trip covers most headers
	maxBlock      = 8 << 20   // sequential reads (long pickles) grow the block to this
	cachedBlocks  = 8
	maxScanFetch  = 2 << 30 // a scan that needs more than this is not a header scan
	errShortRange = "upstream answered a range request with the wrong bytes"
)

// rangeReader is an io.ReaderAt over a file on the upstream, made of HTTP
// range requests. The scanner reads headers, directories and pickle parts
// only, so a verdict on a 10 GB file costs a few small requests. Blocks
// grow while reads are sequential, to keep long pickles to few requests.
type rangeReader struct {
	ctx   context.Context
	up    *upstream.Client
	meta  *upstream.FileMeta
	auth  string
	mu    sync.Mutex
	cache []block
	next  int64 // end of the last fetched block, to detect sequential reads
	size  int64 // block size for the next fetch
	total int64 // bytes fetched, bounded by maxScanFetch
}

type block struct {
	off  int64
	data []byte
}

func newRangeReader(ctx context.Context, up *upstream.Client, m *upstream.FileMeta, auth string) *rangeReader {
	return &rangeReader{ctx: ctx, up: up, meta: m, auth: auth, size: minBlock}
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.meta.Size {
			return n, io.EOF
		}
		b, err := r.blockFor(pos)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], b.data[pos-b.off:])
	}
	return n, nil
}

func (r *rangeReader) blockFor(pos int64) (block, error) {
	for _, b := range r.cache {
		if pos >= b.off && pos < b.off+int64(len(b.data)) {
			return b, nil
		}
	}
	if pos == r.next && r.size < maxBlock {
		r.size *= 2
	} else if pos != r.next {
		r.size = minBlock
	}
	end := min(pos+r.size, r.meta.Size)
	if r.total+(end-pos) > maxScanFetch {
		return block{}, fmt.Errorf("content check would read more than %d bytes", int64(maxScanFetch))
	}
	data, err := r.fetch(pos, end)
	if err != nil {
		return block{}, err
	}
	r.total += int64(len(data))
	r.next = end
	b := block{off: pos, data: data}
	if len(r.cache) >= cachedBlocks {
		r.cache = r.cache[1:]
	}
	r.cache = append(r.cache, b)
	return b, nil
}

// fetch reads [from, to) with one range request.
func (r *rangeReader) fetch(from, to int64) ([]byte, error) {
	resp, err := r.up.FetchBytes(r.ctx, r.meta, r.auth, fmt.Sprintf("bytes=%d-%d", from, to-1))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	if resp.StatusCode == http.StatusOK { // a server that ignores Range
		if _, err := io.CopyN(io.Discard, body, from); err != nil {
			return nil, fmt.Errorf("%s: %w", errShortRange, err)
		}
	} else if resp.StatusCode != http.StatusPartialContent {
		return nil, fmt.Errorf("%s: status %d", errShortRange, resp.StatusCode)
	} else if !contentRangeIs(resp.Header.Get("Content-Range"), byteRange{from, to - 1}, r.meta.Size) {
		return nil, fmt.Errorf("%s: Content-Range %q", errShortRange, resp.Header.Get("Content-Range"))
	}
	buf := make([]byte, to-from)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, fmt.Errorf("%s: %w", errShortRange, err)
	}
	return buf, nil
}

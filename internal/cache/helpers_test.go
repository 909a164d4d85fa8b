package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
)

// blob is test content and its sha256 digest.
type blob struct {
	data []byte
	d    store.Digest
}

func newBlob(seed byte, n int) blob {
	data := make([]byte, n)
	x := uint32(seed) + 1
	for i := range data {
		x = x*1664525 + 1013904223
		data[i] = byte(x >> 24)
	}
	s := sha256.Sum256(data)
	return blob{data: data, d: store.Digest{Algo: store.SHA256, Hex: hex.EncodeToString(s[:])}}
}

// fakeUpstream is an in-process Source that counts calls and can trickle,
// pause at a point, send other bytes than the real blob, or die mid-way.
type fakeUpstream struct {
	body    []byte // what it sends (the blob, or a corrupted/short/long version)
	chunk   int    // bytes per Read; default 32 KiB
	delay   time.Duration
	pauseAt int           // with pause set: bytes sent before waiting
	pause   chan struct{} // closed to let the transfer go on
	dieAt   int           // >0: fail after this many bytes
	openErr error
	calls   atomic.Int32
}

var errDied = errors.New("fake upstream: connection reset")

func (u *fakeUpstream) source() Source {
	return func(ctx context.Context) (io.ReadCloser, error) {
		u.calls.Add(1)
		if u.openErr != nil {
			return nil, u.openErr
		}
		return &fakeBody{u: u, ctx: ctx}, nil
	}
}

type fakeBody struct {
	u      *fakeUpstream
	ctx    context.Context
	off    int
	mu     sync.Mutex
	closed bool
}

func (b *fakeBody) Read(p []byte) (int, error) {
	u := b.u
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if u.pause != nil && b.off == u.pauseAt {
		select {
		case <-u.pause:
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
	}
	if u.dieAt > 0 && b.off >= u.dieAt {
		return 0, errDied
	}
	if b.off >= len(u.body) {
		return 0, io.EOF
	}
	if u.delay > 0 {
		select {
		case <-time.After(u.delay):
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
	}
	n := u.chunk
	if n == 0 {
		n = 32 << 10
	}
	end := min(b.off+n, len(u.body))
	if u.pause != nil && b.off < u.pauseAt {
		end = min(end, u.pauseAt)
	}
	if u.dieAt > 0 {
		end = min(end, u.dieAt)
	}
	k := copy(p, u.body[b.off:end])
	b.off += k
	return k, nil
}

func (b *fakeBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// newCache makes a Cache over a disk store in a temp folder.
func newCache(t testing.TB, opt Options) (*Cache, *disk.Disk) {
	t.Helper()
	st, err := disk.Open(t.TempDir(), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := New(st, opt)
	t.Cleanup(func() { c.Close() })
	return c, st
}

// readAll reads a Reader front to back the way the gateway's copy loop
// would, in fixed chunks through ReadAt.
func readAll(r *Reader) ([]byte, error) {
	out := make([]byte, 0, r.Size())
	buf := make([]byte, 64<<10)
	for off := int64(0); ; {
		n, err := r.ReadAt(buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func storedKeys(t *testing.T, st store.Store) []string {
	t.Helper()
	var keys []string
	for info, err := range st.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

// waitIdle waits until every fill goroutine has finished, including its
// commit, prune and staging cleanup.
func waitIdle(t testing.TB, c *Cache) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.active.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("fills still running after 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

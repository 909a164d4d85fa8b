// Package cache is the fill path of the gateway: it serves verified blobs
// from a store.Store and, on a miss, fetches each blob from the upstream
// once however many clients ask, while those clients stream it.
//
// A fill stages the upstream bytes into a file while hashing them, checks
// size and digest, runs the caller's content check on the staged file, and
// only then commits it to the store. Readers follow the staging file as it
// grows; the last byte of the blob is released only after digest and check
// passed, so a client can never receive a complete-looking copy of bad
// bytes. A failed fill fails every reader and leaves nothing in the store.
package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safehub/safehub/internal/store"
)

var (
	// ErrRefused wraps a content check's refusal. Refusals are remembered
	// by digest: the blob is not fetched or checked again.
	ErrRefused = errors.New("cache: content refused")
	// ErrMismatch means the upstream sent bytes of another size or digest
	// than it announced (short, long or corrupt). Nothing is committed.
	ErrMismatch = errors.New("cache: upstream bytes do not match the announced digest")
	// ErrStalled means the upstream sent nothing for Options.IdleTimeout.
	ErrStalled = errors.New("cache: upstream stalled")
	// ErrClosed is returned by Open after Close.
	ErrClosed = errors.New("cache: closed")
)

// Source opens the upstream bytes of the whole blob. It is called at most
// once per fill, with the fill's own context (detached from the client
// that started it), and must honour that context.
type Source func(ctx context.Context) (io.ReadCloser, error)

// Check inspects a staged blob whose size and digest are already verified,
// reading it through r. It returns nil to allow, an error wrapping
// ErrRefused to refuse (remembered), or another error for a check that
// could not run (the fill fails; nothing is remembered).
type Check func(ctx context.Context, r io.ReaderAt, size int64) error

const (
	defaultFillTimeout = 4 * time.Hour // 50 GB at 4 MB/s; the idle timeout catches dead upstreams sooner
	defaultIdleTimeout = 60 * time.Second
	defaultMaxRefused  = 100_000
	copyBufSize        = 256 << 10
)

// Options tune a Cache; zero values pick the defaults.
type Options struct {
	FillTimeout time.Duration // whole fill, from the first Open
	IdleTimeout time.Duration // longest wait for the next upstream bytes
	// MaxBytes caps the store: after each commit the least recently used
	// blobs are pruned down to it. Zero means no cap.
	MaxBytes int64
	// StagingDir holds fills for stores that are not store.Stagers (such
	// as object stores). Default os.TempDir().
	StagingDir string
	MaxRefused int // refusals remembered; default 100k
	Log        *slog.Logger
}

// Cache is safe for concurrent use.
type Cache struct {
	st   store.Store
	opt  Options
	base context.Context // cancelled by Close, ends every fill
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	fills   map[string]*fill // in-progress fills by store key
	refused map[string]error
	closed  bool

	pruning atomic.Bool
	active  atomic.Int64 // fill goroutines not yet finished
	stats   counters
}

// New returns a Cache over st.
func New(st store.Store, opt Options) *Cache {
	if opt.FillTimeout <= 0 {
		opt.FillTimeout = defaultFillTimeout
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = defaultIdleTimeout
	}
	if opt.MaxRefused <= 0 {
		opt.MaxRefused = defaultMaxRefused
	}
	if opt.StagingDir == "" {
		opt.StagingDir = os.TempDir()
	} else {
		cleanTemp(opt.StagingDir) // a folder given to us is ours: drop what a crash left
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	base, stop := context.WithCancel(context.Background())
	return &Cache{st: st, opt: opt, base: base, stop: stop, fills: map[string]*fill{}, refused: map[string]error{}}
}

// Close ends every fill in progress (their readers get an error) and waits
// for them to clean up. Readers already open on stored blobs keep working.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
	return nil
}

func cleanTemp(dir string) {
	names, _ := filepath.Glob(filepath.Join(dir, tempPattern))
	for _, n := range names {
		_ = os.Remove(n)
	}
}

// Lookup reports whether d is stored, without fetching anything (for
// offline answers and HEAD). It returns store.ErrNotFound on a miss.
func (c *Cache) Lookup(ctx context.Context, d store.Digest) (store.Info, error) {
	if !d.Valid() {
		return store.Info{}, fmt.Errorf("%w: %v", store.ErrInvalidKey, d)
	}
	return c.st.Stat(ctx, d.Key())
}

// Refused returns the remembered refusal of d (wrapping ErrRefused), or nil.
func (c *Cache) Refused(d store.Digest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused[d.Key()]
}

// Open returns a reader of the blob d of size bytes: from the store if it
// is there, otherwise by joining the fill in progress or starting one with
// src and check. Reads on the returned Reader honour ctx (the client's);
// the fill itself does not, so a client leaving never stops it. Concurrent
// Opens of one blob share one fill, and so the first caller's src and check.
// With a nil src, Open serves only what is stored or filling, and returns
// store.ErrNotFound otherwise (offline mode: never reach the upstream).
func (c *Cache) Open(ctx context.Context, d store.Digest, size int64, src Source, check Check) (*Reader, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("%w: %v", store.ErrInvalidKey, d)
	}
	if size < 0 {
		return nil, fmt.Errorf("cache: %v: negative size %d", d, size)
	}
	key := d.Key()
	if err := c.Refused(d); err != nil {
		return nil, err
	}
	if r, err := c.openStored(ctx, key, size); !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	f := c.fills[key]
	if f == nil {
		// A fill may have committed and left the map since the first look.
		// Stat costs one metadata lookup and saves a second download.
		if _, err := c.st.Stat(ctx, key); err == nil {
			c.mu.Unlock()
			return c.openStored(ctx, key, size)
		}
		if src == nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %v is not cached", store.ErrNotFound, d)
		}
		var err error
		if f, err = c.startFill(ctx, d, size, src, check); err != nil {
			c.mu.Unlock()
			return nil, err
		}
	}
	if f.size != size {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %v is being filled with %d bytes, the upstream now announces %d", ErrMismatch, d, f.size, size)
	}
	f.acquire()
	c.mu.Unlock()
	return &Reader{ctx: ctx, size: size, fill: f, ra: f.staged}, nil
}

// openStored opens a stored blob, or returns store.ErrNotFound.
func (c *Cache) openStored(ctx context.Context, key string, size int64) (*Reader, error) {
	rc, info, err := c.st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if info.Size != size {
		rc.Close()
		return nil, fmt.Errorf("%w: %s is stored with %d bytes, the upstream announces %d", ErrMismatch, key, info.Size, size)
	}
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		rc.Close()
		return nil, fmt.Errorf("cache: store %T gives no random access to %s", c.st, key)
	}
	c.stats.hits.Add(1)
	return &Reader{ctx: ctx, size: size, ra: ra, closer: rc}, nil
}

// remember records a refusal, bounded: past the limit, refused blobs are
// just fetched and checked again.
func (c *Cache) remember(key string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.refused) < c.opt.MaxRefused {
		c.refused[key] = err
	}
}

// maybePrune trims the store to MaxBytes, one prune at a time.
func (c *Cache) maybePrune(ctx context.Context) {
	if c.opt.MaxBytes <= 0 || !c.pruning.CompareAndSwap(false, true) {
		return
	}
	defer c.pruning.Store(false)
	used, err := store.Usage(ctx, c.st)
	if err != nil || used <= c.opt.MaxBytes {
		return
	}
	removed, err := store.Prune(ctx, c.st, c.opt.MaxBytes)
	if err != nil {
		c.opt.Log.Warn("cache prune failed", "err", err)
	}
	for _, r := range removed {
		c.opt.Log.Info("cache evicted", "key", r.Key, "size", r.Size, "last_used", r.LastUsed)
	}
}

package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safehub/safehub/internal/store"
)

// fill is one blob on its way from the upstream into the store. Readers
// wait on progress, a channel closed and replaced at every change, so each
// waiter can also watch its own context (a sync.Cond cannot).
type fill struct {
	d      store.Digest
	key    string
	size   int64
	staged store.Staged

	mu       sync.Mutex
	written  int64
	done     bool  // all bytes staged, digest verified, check passed
	err      error // set when the fill failed; final
	progress chan struct{}
	refs     int // the fill goroutine and each open Reader; the last one closes staged
}

func (f *fill) acquire() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

func (f *fill) release() {
	f.mu.Lock()
	f.refs--
	last := f.refs == 0
	f.mu.Unlock()
	if last {
		_ = f.staged.Close()
	}
}

// notifyLocked wakes every waiter; f.mu must be held.
func (f *fill) notifyLocked() {
	close(f.progress)
	f.progress = make(chan struct{})
}

func (f *fill) advance(written int64) {
	f.mu.Lock()
	f.written = written
	f.notifyLocked()
	f.mu.Unlock()
}

func (f *fill) finish(err error) {
	f.mu.Lock()
	if err != nil {
		f.err = err
	} else {
		f.done = true
	}
	f.notifyLocked()
	f.mu.Unlock()
}

// await blocks until bytes [0, need) are staged (and, with whole, the fill
// is verified), the fill fails, or ctx ends.
func (f *fill) await(ctx context.Context, need int64, whole bool) error {
	for {
		f.mu.Lock()
		err, ready, ch := f.err, f.written >= need && (!whole || f.done), f.progress
		f.mu.Unlock()
		switch {
		case err != nil:
			return err
		case ready:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cache: waiting for %v: %w", f.d, context.Cause(ctx))
		case <-ch:
		}
	}
}

// startFill registers a new fill and starts its goroutine; c.mu is held.
func (c *Cache) startFill(ctx context.Context, d store.Digest, size int64, src Source, check Check) (*fill, error) {
	staged, err := c.stage(ctx)
	if err != nil {
		return nil, fmt.Errorf("cache: %v: %w", d, err)
	}
	f := &fill{d: d, key: d.Key(), size: size, staged: staged, progress: make(chan struct{}), refs: 1}
	c.fills[f.key] = f
	c.stats.fills.Add(1)
	c.wg.Add(1)
	c.active.Add(1)
	go c.run(ctx, f, src, check)
	return f, nil
}

// stage gets a staging file from the store if it can publish one in place,
// otherwise one in StagingDir that is Put at the end.
func (c *Cache) stage(ctx context.Context) (store.Staged, error) {
	if s, ok := c.st.(store.Stager); ok {
		return s.Stage(ctx)
	}
	return newTempStaged(c.st, c.opt.StagingDir)
}

// run is the fill goroutine: download and verify, check, release readers,
// commit, forget. Its context keeps the first client's values but not its
// cancellation, so the fill outlives that client; Close and the fill
// timeout still end it.
func (c *Cache) run(reqCtx context.Context, f *fill, src Source, check Check) {
	defer c.wg.Done()
	defer c.active.Add(-1) // after the release: 0 means fully settled
	defer f.release()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), c.opt.FillTimeout)
	defer cancel()
	defer context.AfterFunc(c.base, cancel)()

	start := time.Now()
	err := c.download(ctx, cancel, f, src)
	if err == nil && check != nil {
		if err = runCheck(ctx, check, f); errors.Is(err, ErrRefused) {
			c.remember(f.key, err)
		} else if err != nil {
			err = fmt.Errorf("cache: %v: content check failed: %w", f.d, err)
		}
	}
	if err != nil && c.base.Err() != nil {
		err = fmt.Errorf("%w: fill of %v stopped: %w", ErrClosed, f.d, err)
	}
	f.finish(err)
	if err != nil {
		c.stats.failures.Add(1)
		c.opt.Log.Warn("cache fill failed", "digest", f.d.String(), "size", f.size, "err", err)
	} else {
		c.commit(ctx, f)
		c.opt.Log.Info("cache fill done", "digest", f.d.String(), "size", f.size, "seconds", time.Since(start).Seconds())
		// Before leaving the map, so that "no fill in progress" also means
		// the store is back under its cap (tests and shutdown rely on it).
		c.maybePrune(ctx)
	}
	c.mu.Lock()
	delete(c.fills, f.key)
	c.mu.Unlock()
}

// runCheck runs the content check, turning a panic (a scanner bug on
// hostile bytes) into a failed fill instead of a crashed gateway.
func runCheck(ctx context.Context, check Check, f *fill) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("content check panicked: %v", p)
		}
	}()
	return check(ctx, f.staged, f.size)
}

// download copies the upstream body into the staging file, hashing it and
// waking readers after each chunk, and verifies size and digest. It reads
// at most size+1 bytes, so an oversized body shows up without being kept.
func (c *Cache) download(ctx context.Context, cancel context.CancelFunc, f *fill, src Source) error {
	body, err := src(ctx)
	if err != nil {
		return fmt.Errorf("cache: %v: upstream: %w", f.d, err)
	}
	var once sync.Once
	closeBody := func() { once.Do(func() { body.Close() }) }
	defer closeBody()
	// A source that ignores ctx is still unblocked by closing its body.
	defer context.AfterFunc(ctx, closeBody)()
	var stalled atomic.Bool
	idle := time.AfterFunc(c.opt.IdleTimeout, func() { stalled.Store(true); cancel() })
	defer idle.Stop()

	h := f.d.NewHash(f.size)
	buf := make([]byte, copyBufSize)
	lr := io.LimitReader(body, f.size+1)
	var n int64
	for {
		k, rerr := lr.Read(buf)
		if k > 0 {
			idle.Reset(c.opt.IdleTimeout)
			if n+int64(k) > f.size {
				return fmt.Errorf("%w: %v: upstream sent more than the announced %d bytes", ErrMismatch, f.d, f.size)
			}
			if _, err := f.staged.Write(buf[:k]); err != nil {
				return fmt.Errorf("cache: %v: writing the staging file: %w", f.d, err)
			}
			h.Write(buf[:k])
			n += int64(k)
			f.advance(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if stalled.Load() {
				// Keep the read error too: under load the timer can fire just
				// as the source fails for a reason of its own.
				return fmt.Errorf("%w: %v: nothing for %v after %d of %d bytes: %w", ErrStalled, f.d, c.opt.IdleTimeout, n, f.size, rerr)
			}
			return fmt.Errorf("cache: %v: upstream transfer failed after %d of %d bytes: %w", f.d, n, f.size, rerr)
		}
	}
	if n < f.size {
		return fmt.Errorf("%w: %v: upstream sent %d of the announced %d bytes", ErrMismatch, f.d, n, f.size)
	}
	if !f.d.Matches(h) {
		return fmt.Errorf("%w: %v: the %d bytes received hash to something else", ErrMismatch, f.d, n)
	}
	return nil
}

// commit publishes a verified, checked fill. Readers are already served
// from the staging file, so a failed commit (a full disk, say) costs only
// the caching: it is logged and the next request fetches again.
func (c *Cache) commit(ctx context.Context, f *fill) {
	err := f.staged.Commit(ctx, f.key, f.size, f.d.Hex)
	switch {
	case err == nil:
		c.stats.commits.Add(1)
	case errors.Is(err, store.ErrExists): // another process or replica won; same bytes
		c.stats.commits.Add(1)
	default:
		c.stats.commitErrors.Add(1)
		c.opt.Log.Error("cache commit failed; the blob was served but is not cached", "digest", f.d.String(), "err", err)
	}
}

// tempStaged stages in a plain temporary file for stores that cannot
// publish a file in place; Commit copies it with Put.
type tempStaged struct {
	st store.Store
	f  *os.File
}

const tempPattern = "safehub-fill-*.part"

func newTempStaged(st store.Store, dir string) (*tempStaged, error) {
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return nil, err
	}
	return &tempStaged{st: st, f: f}, nil
}

func (t *tempStaged) Write(p []byte) (int, error)             { return t.f.Write(p) }
func (t *tempStaged) ReadAt(p []byte, off int64) (int, error) { return t.f.ReadAt(p, off) }
func (t *tempStaged) Commit(ctx context.Context, key string, size int64, sum string) error {
	return t.st.Put(ctx, key, io.NewSectionReader(t.f, 0, size), size, sum)
}
func (t *tempStaged) Close() error {
	return errors.Join(t.f.Close(), os.Remove(t.f.Name()))
}

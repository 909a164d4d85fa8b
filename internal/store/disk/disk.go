// Package disk is the default store backend: blobs are files under a root
// folder, written into root/staging, fsynced, then hard-linked into
// root/blobs (create-if-absent, so the first writer wins) and the staging
// name removed. A crash at any moment leaves at worst a stale staging file,
// which Open removes; nothing half-written is ever under root/blobs.
//
// Last use is kept in each blob's mtime (blobs are immutable, so the mtime
// is free for it): Get bumps it at most once a minute. That needs no index
// that could disagree with the files, survives restarts, and does not
// depend on atime, which most servers mount with noatime/relatime.
package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/safehub/safehub/internal/store"
)

const (
	blobsDir   = "blobs"
	stagingDir = "staging"
	// touchEvery bounds the writes Get makes to record use: LRU order only
	// needs minutes, not every read.
	touchEvery = time.Minute
	dirPerm    = 0o750
	filePerm   = 0o640
)

// Options tune a Disk.
type Options struct {
	// StagingGrace keeps staging files younger than this at Open. Zero
	// removes them all, right for one process per root. Several processes
	// sharing a root (e.g. on NFS) set it above the longest write stall, so
	// that one starting up does not delete another's live fill.
	StagingGrace time.Duration
}

// Disk is a store.Store on a local (or shared) filesystem. It is safe for
// concurrent use.
type Disk struct {
	root    string
	staging string
	opt     Options
	mu      sync.Mutex // orders publish and delete with the size total
	used    int64
}

var (
	_ store.Store  = (*Disk)(nil)
	_ store.Stager = (*Disk)(nil)
	_ store.Usager = (*Disk)(nil)
)

// Open creates root if needed, removes stale staging files, and totals the
// stored bytes.
func Open(root string, opt Options) (*Disk, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("disk store: %w", err)
	}
	d := &Disk{root: abs, staging: filepath.Join(abs, stagingDir), opt: opt}
	for _, dir := range []string{filepath.Join(abs, blobsDir), d.staging} {
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			return nil, fmt.Errorf("disk store: %w", err)
		}
	}
	if err := d.cleanStaging(); err != nil {
		return nil, err
	}
	for info, err := range d.List(context.Background(), "") {
		if err != nil {
			return nil, fmt.Errorf("disk store: sizing %s: %w", abs, err)
		}
		d.used += info.Size
	}
	return d, nil
}

// cleanStaging removes what a crashed or killed writer left behind.
func (d *Disk) cleanStaging() error {
	ents, err := os.ReadDir(d.staging)
	if err != nil {
		return fmt.Errorf("disk store: %w", err)
	}
	cutoff := time.Now().Add(-d.opt.StagingGrace)
	for _, e := range ents {
		if info, err := e.Info(); err == nil && d.opt.StagingGrace > 0 && info.ModTime().After(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(d.staging, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("disk store: cleaning staging: %w", err)
		}
	}
	return nil
}

// Root is the folder the store lives in.
func (d *Disk) Root() string { return d.root }

// path maps a checked key to its file. Keys are validated by store.ParseKey
// (fixed shape, hex only), so the join cannot leave root.
func (d *Disk) path(key string) (string, error) {
	if err := store.CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

func infoOf(key string, fi fs.FileInfo) store.Info {
	dg, _ := store.ParseKey(key)
	return store.Info{Key: key, Size: fi.Size(), Sum: dg.Hex, LastUsed: fi.ModTime()}
}

// Get opens key. The reader is an *os.File, so callers may use it as an
// io.ReaderAt or io.Seeker (and net/http may sendfile it).
func (d *Disk) Get(ctx context.Context, key string) (io.ReadCloser, store.Info, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, store.Info{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, store.Info{}, notFound(key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, store.Info{}, fmt.Errorf("disk store: %w", err)
	}
	info := infoOf(key, fi)
	if now := time.Now(); now.Sub(fi.ModTime()) > touchEvery {
		// Best effort: a read-only mount still serves, it only loses LRU order.
		if os.Chtimes(p, now, now) == nil {
			info.LastUsed = now
		}
	}
	return f, info, nil
}

func (d *Disk) Stat(ctx context.Context, key string) (store.Info, error) {
	p, err := d.path(key)
	if err != nil {
		return store.Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return store.Info{}, notFound(key, err)
	}
	return infoOf(key, fi), nil
}

func (d *Disk) Put(ctx context.Context, key string, r io.Reader, size int64, sum string) error {
	if err := store.CheckSum(key, sum); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("%w: negative size %d", store.ErrSizeMismatch, size)
	}
	if _, err := d.Stat(ctx, key); err == nil {
		return fmt.Errorf("%w: %s", store.ErrExists, key) // skip the copy when we already lost
	}
	st, err := d.Stage(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// Read one byte more than announced, so an oversized body shows up.
	n, err := io.Copy(st, &ctxReader{ctx: ctx, r: io.LimitReader(r, size+1)})
	if err != nil {
		return fmt.Errorf("disk store: put %s: %w", key, err)
	}
	if n != size {
		return fmt.Errorf("%w: %s: got %d bytes or more, want %d", store.ErrSizeMismatch, key, n, size)
	}
	return st.Commit(ctx, key, size, sum)
}

func (d *Disk) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fi, err := os.Stat(p)
	if err != nil {
		return notFound(key, err)
	}
	if err := os.Remove(p); err != nil {
		return notFound(key, err)
	}
	d.used -= fi.Size()
	return nil
}

// List walks root/blobs (never staging). The walk starts at the deepest
// folder the prefix names, so listing one algorithm does not read the other.
func (d *Disk) List(ctx context.Context, prefix string) iter.Seq2[store.Info, error] {
	return func(yield func(store.Info, error) bool) {
		if err := store.CheckPrefix(prefix); err != nil {
			yield(store.Info{}, err)
			return
		}
		start := blobsDir
		if strings.HasPrefix(prefix, blobsDir+"/") {
			start = prefix[:strings.LastIndex(prefix, "/")]
		}
		err := filepath.WalkDir(filepath.Join(d.root, filepath.FromSlash(start)), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // a prefix naming no folder, or a folder pruned meanwhile
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rel, _ := filepath.Rel(d.root, p)
			key := filepath.ToSlash(rel)
			if e.IsDir() || !strings.HasPrefix(key, prefix) || store.CheckKey(key) != nil {
				return nil // foreign files are left alone and not reported
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if !yield(infoOf(key, fi), nil) {
				return fs.SkipAll
			}
			return nil
		})
		if err != nil {
			yield(store.Info{}, fmt.Errorf("disk store: list: %w", err))
		}
	}
}

// Usage is the running total of stored bytes.
func (d *Disk) Usage(ctx context.Context) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used, nil
}

func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, key)
	}
	return fmt.Errorf("disk store: %s: %w", key, err)
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/safehub/safehub/internal/store"
)

// staged is a file in root/staging. Readers may ReadAt it while it is
// written; Commit links the very same inode into root/blobs, so open
// readers are unaffected.
type staged struct {
	d  *Disk
	f  *os.File
	mu sync.Mutex
	// committed: the staging name is already gone and the blob published.
	committed, closed bool
}

// Stage creates an empty staging file.
func (d *Disk) Stage(ctx context.Context) (store.Staged, error) {
	f, err := os.CreateTemp(d.staging, "*.part")
	if err != nil {
		return nil, fmt.Errorf("disk store: staging: %w", err)
	}
	return &staged{d: d, f: f}, nil
}

func (s *staged) Write(p []byte) (int, error)             { return s.f.Write(p) }
func (s *staged) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }

func (s *staged) Commit(ctx context.Context, key string, size int64, sum string) error {
	if err := store.CheckSum(key, sum); err != nil {
		return err
	}
	final, err := s.d.path(key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed || s.closed {
		return fmt.Errorf("disk store: commit %s: staging file already committed or closed", key)
	}
	fi, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("disk store: commit %s: %w", key, err)
	}
	if fi.Size() != size {
		return fmt.Errorf("%w: %s: staged %d bytes, want %d", store.ErrSizeMismatch, key, fi.Size(), size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Durable before visible: after a crash, a published name always has
	// all of its bytes.
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("disk store: commit %s: sync: %w", key, err)
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("disk store: commit %s: %w", key, err)
	}
	if err := s.d.publish(s.f.Name(), final, size); err != nil {
		return fmt.Errorf("disk store: commit %s: %w", key, err)
	}
	s.committed = true
	_ = os.Remove(s.f.Name()) // a leftover link is cleaned at the next Open
	syncDir(dir)
	return nil
}

// publish makes final a second name of the staged file, failing with
// ErrExists if final is taken. link(2) never replaces, unlike rename(2), so
// two writers of one blob cannot both "win". Filesystems without hard links
// fall back to check-then-rename, where a lost race just rewrites the same
// verified content.
func (d *Disk) publish(tmp, final string, size int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := os.Link(tmp, final)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: %s", store.ErrExists, final)
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.EXDEV):
		if _, serr := os.Stat(final); serr == nil {
			return fmt.Errorf("%w: %s", store.ErrExists, final)
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
	default:
		return err
	}
	d.used += size
	return nil
}

func (s *staged) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.f.Close()
	if !s.committed {
		if rerr := os.Remove(s.f.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// syncDir makes a new directory entry durable. Errors are ignored: some
// filesystems cannot fsync directories, and the data itself is synced.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

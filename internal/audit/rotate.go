package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// rotator appends whole lines to path and rotates by renaming when the next
// line would take the file past maxSize: path.(maxFiles-1) is removed,
// path.k becomes path.k+1, path becomes path.1 and a new path is created.
// Rename-based rotation keeps every finished file untouched, so a reader
// that has one open (tail --follow) keeps reading it to the end, and a line
// is never split across two files: it goes into the current file or, whole,
// into the next. A line longer than maxSize gets a file of its own.
//
// Not safe for concurrent use: only the Log's writer goroutine calls it.
type rotator struct {
	path     string
	maxSize  int64
	maxFiles int // files kept in all, the current one included
	f        *os.File
	size     int64
	dirty    bool // written since the last fsync
}

func openRotator(path string, maxSize int64, maxFiles int) (*rotator, error) {
	r := &rotator{path: path, maxSize: maxSize, maxFiles: maxFiles}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotator) open() error {
	// Check before opening: opening a FIFO for writing blocks until a reader
	// appears, which would hang start-up.
	if st, err := os.Lstat(r.path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("audit log: %s is not a regular file", r.path)
	}
	// 0640: the log names users' repos and clients; not for everyone.
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return fmt.Errorf("audit log: %w (check that the folder exists and safehub may write to it)", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("audit log: %s is not a regular file", r.path)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// write appends one line (which ends in '\n'), rotating first if needed.
func (r *rotator) write(line []byte) error {
	if r.f == nil {
		// A failed rotation left no file open: try again for this line.
		if err := r.open(); err != nil {
			return err
		}
	}
	if r.size > 0 && r.size+int64(len(line)) > r.maxSize {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	n, err := r.f.Write(line)
	r.size += int64(n)
	r.dirty = r.dirty || n > 0
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

func (r *rotator) rotate() error {
	// The finished file is synced before it is renamed so that what a
	// rotated file holds is on disk, not only in the page cache.
	r.sync()
	r.f.Close()
	r.f = nil
	if r.maxFiles <= 1 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit log rotation: %w", err)
		}
		return r.open()
	}
	oldest := RotatedName(r.path, r.maxFiles-1)
	if err := os.Remove(oldest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("audit log rotation: %w", err)
	}
	for k := r.maxFiles - 2; k >= 1; k-- {
		err := os.Rename(RotatedName(r.path, k), RotatedName(r.path, k+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit log rotation: %w", err)
		}
	}
	if err := os.Rename(r.path, RotatedName(r.path, 1)); err != nil {
		return fmt.Errorf("audit log rotation: %w", err)
	}
	return r.open()
}

func (r *rotator) sync() error {
	if r.f == nil || !r.dirty {
		return nil
	}
	r.dirty = false
	return r.f.Sync()
}

func (r *rotator) close() error {
	if r.f == nil {
		return nil
	}
	err := r.sync()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.f = nil
	return err
}

// RotatedName is the name of the k-th rotated file of path (k >= 1,
// path.1 being the newest).
func RotatedName(path string, k int) string { return fmt.Sprintf("%s.%d", path, k) }

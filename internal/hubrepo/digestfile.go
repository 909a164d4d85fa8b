package hubrepo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Hashing a big mirror takes minutes (about 1 GB/s per core), and a client
// gives a HEAD 10 s. Two remedies, both optional: a digest file that survives
// restarts, and Warm, which hashes every repository in the background.

// MaxDigestFileBytes bounds how much of a digest file is read at Open.
const MaxDigestFileBytes = 256 << 20

// WithDigestFile keeps digests in path (JSON lines), so that a restarted
// process does not read unchanged files again. An entry is used only for the
// same path, size, modification time and inode. The file is compacted at
// Open; a missing or damaged file only costs re-hashing.
func WithDigestFile(path string) Option { return func(r *Root) { r.digestPath = path } }

type digestRecord struct {
	Path   string `json:"p"`
	Size   int64  `json:"s"`
	MTime  int64  `json:"m"`
	Ino    uint64 `json:"i"`
	CTime  int64  `json:"c"`
	Blob   string `json:"b,omitempty"`
	SHA256 string `json:"h,omitempty"`
}

// digestFile appends new digests to the file opened at Open.
type digestFile struct {
	mu sync.Mutex
	f  *os.File
}

// openDigestFile loads the records of path into c, rewrites the file with
// one record per path, and returns it open for appending.
func openDigestFile(path string, c *hashCache) (*digestFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	// The file vouches for digests without the bytes being read: only one
	// that no other user could have written is believed.
	if f, err := os.Open(path); err == nil && trustworthy(f) {
		sc := bufio.NewScanner(&limitedFile{f: f, left: MaxDigestFileBytes})
		sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
		for sc.Scan() {
			var rec digestRecord
			if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Blob == "" && rec.SHA256 == "" ||
				rec.Blob != "" && len(rec.Blob) != 40 || rec.SHA256 != "" && len(rec.SHA256) != 64 {
				continue // a torn or foreign line: ignore it
			}
			k := fileKey{path: rec.Path, size: rec.Size, mtime: rec.MTime, ino: rec.Ino, ctime: rec.CTime}
			c.done[rec.Path] = memo{key: k, d: digests{blobSHA1: rec.Blob, sha256: rec.SHA256}}
		}
		f.Close()
	} else if err == nil {
		f.Close() // untrusted: its records are dropped and rewritten below
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	// Compact: write the surviving records to a temp file, then rename.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".digests-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	w := bufio.NewWriter(tmp)
	for _, m := range c.done {
		if fi, err := os.Stat(m.key.path); err == nil && keyOf(m.key.path, fi) == m.key {
			writeRecord(w, m)
		} else {
			delete(c.done, m.key.path)
		}
	}
	if err := errors.Join(w.Flush(), tmp.Close()); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &digestFile{f: f}, nil
}

func writeRecord(w interface{ Write([]byte) (int, error) }, m memo) {
	b, _ := json.Marshal(digestRecord{Path: m.key.path, Size: m.key.size, MTime: m.key.mtime, Ino: m.key.ino, CTime: m.key.ctime,
		Blob: m.d.blobSHA1, SHA256: m.d.sha256})
	w.Write(append(b, '\n'))
}

// add appends one record; errors are ignored, since the file is only a cache.
func (d *digestFile) add(m memo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	writeRecord(d.f, m)
}

// limitedFile reads at most left bytes.
type limitedFile struct {
	f    *os.File
	left int64
}

func (l *limitedFile) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("digest file longer than %d bytes", int64(MaxDigestFileBytes))
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.f.Read(p)
	l.left -= int64(n)
	return n, err
}

// Warm takes a snapshot of every repository, hashing files not hashed yet,
// so that the first clients do not wait for it. It returns early with
// ctx.Err() when ctx is done, and joins the errors of repositories that
// could not be read.
func (r *Root) Warm(ctx context.Context) error {
	repos, err := r.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range repos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := p.Snapshot(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// trustworthy reports whether a digest file is owned by this process's
// user and writable by no one else.
func trustworthy(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode().Perm()&0o022 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

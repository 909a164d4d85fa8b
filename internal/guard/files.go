package guard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/safehub/safehub/internal/fsutil"
)

// owner returns a file's uid and gid (-1 where the platform has none).
func owner(st fs.FileInfo) (int, int) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid), int(s.Gid)
	}
	return -1, -1
}

// writeFileAtomic replaces path with data through a temp file and a rename
// in the same directory, so a Python starting meanwhile sees the old or the
// new file, never half of one. An existing file keeps its owner and mode
// (conda's hard links into its package cache are broken, not written through).
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	uid, gid := -1, -1
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
		uid, gid = owner(st)
	}
	return fsutil.WriteAtomic(path, data, perm, func(tmp string) error {
		if uid >= 0 && (uid != os.Geteuid() || gid != os.Getegid()) {
			if err := os.Chown(tmp, uid, gid); err != nil {
				return fmt.Errorf("keep owner of %s: %w", path, err)
			}
		}
		return nil
	})
}

// restoreFile puts back a changed file's original bytes, mode, owner and
// modification time (a timestamp-checked .pyc next to it stays valid).
func restoreFile(rec FileRecord) error {
	if err := writeFileAtomic(rec.Path, rec.Original, rec.Perm); err != nil {
		return err
	}
	if err := os.Chmod(rec.Path, rec.Perm); err != nil {
		return err
	}
	if rec.UID >= 0 {
		if err := os.Lchown(rec.Path, rec.UID, rec.GID); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	if !rec.ModTime.IsZero() {
		return os.Chtimes(rec.Path, rec.ModTime, rec.ModTime)
	}
	return nil
}

// ErrInsecureDir means code placed under the directory could be replaced by
// other users, and that code would run in every user's Python.
var ErrInsecureDir = errors.New("insecure directory")

// checkSecureDir refuses dir if it, or any parent, can be written by group
// or others without the sticky bit, or is owned by someone other than root
// or the installing user.
func checkSecureDir(dir string) error {
	me := os.Geteuid()
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil {
			uid, _ := owner(st)
			perm := st.Mode()
			if perm&0o022 != 0 && perm&fs.ModeSticky == 0 {
				return fmt.Errorf("%w: %s is writable by group or others (%s)", ErrInsecureDir, d, perm.Perm())
			}
			if uid != 0 && uid != me && uid != -1 {
				return fmt.Errorf("%w: %s is owned by uid %d", ErrInsecureDir, d, uid)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

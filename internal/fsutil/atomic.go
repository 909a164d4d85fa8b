// Package fsutil holds the file-system steps that the guard installer and
// server setup share: replacing a system file so that nothing reading it
// (a starting Python, a login shell) ever sees half of it, and creating
// folders so that an uninstall knows which ones it made.
package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteAtomic replaces path with data through a synced temp file in the
// same folder and a rename, so readers see the old or the new content,
// never a part. prepare, if not nil, runs on the temp file's name before
// the rename (to give it an owner, say); its error aborts the write.
func WriteAtomic(path string, data []byte, perm fs.FileMode, prepare func(tmp string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".safehub-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(name, perm); err != nil {
		return err
	}
	if prepare != nil {
		if err := prepare(name); err != nil {
			return err
		}
	}
	return os.Rename(name, path)
}

// MkdirAllRecorded creates dir and its missing parents with mode 0755
// (readable by every user, whatever the umask) and appends the folders it
// created to *created, outermost first, so an uninstall can remove exactly
// those.
func MkdirAllRecorded(dir string, created *[]string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			return err
		}
		if err := os.Chmod(missing[i], 0o755); err != nil { // Mkdir obeys the umask
			return err
		}
		*created = append(*created, missing[i])
	}
	return nil
}

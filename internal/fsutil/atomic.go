// Package fsutil holds the file-writing step that the guard installer and
// server setup share: replacing a system file so that nothing reading it
// (a starting Python, a login shell) ever sees half of it.
package fsutil

import (
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

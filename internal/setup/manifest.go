package setup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/safehub/safehub/internal/fsutil"
)

const manifestVersion = 1

// manifest is setup's record (setup.json): every file written with what
// was there before, the folders created, and the interpreters given the
// guard. Only root can write it (0600 in a root-owned folder), which
// matters: undo writes wherever it says.
type manifest struct {
	Version int           `json:"version"`
	Files   []fileRecord  `json:"files"`
	Dirs    []string      `json:"created_dirs"` // outermost first
	Guards  []guardRecord `json:"guards"`
}

type fileRecord struct {
	Path     string      `json:"path"`
	Existed  bool        `json:"existed"`
	Original []byte      `json:"original,omitempty"`
	Perm     fs.FileMode `json:"perm,omitempty"`
	Written  string      `json:"written_sha256"` // to notice edits made after setup
}

type guardRecord struct {
	Python      string `json:"python"` // sys.executable
	Preexisting bool   `json:"preexisting"`
}

func (m *manifest) file(path string) *fileRecord {
	for i := range m.Files {
		if m.Files[i].Path == path {
			return &m.Files[i]
		}
	}
	return nil
}

func (m *manifest) guard(python string) *guardRecord {
	for i := range m.Guards {
		if m.Guards[i].Python == python {
			return &m.Guards[i]
		}
	}
	return nil
}

func manifestFile(root string) string { return filepath.Join(root, ManifestPath) }

// loadManifest reads setup.json and refuses entries that point outside the
// root or at files setup never writes.
func loadManifest(root string) (*manifest, error) {
	data, err := os.ReadFile(manifestFile(root))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); fix or remove it by hand", manifestFile(root), err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("%s has version %d; this safehub knows %d", manifestFile(root), m.Version, manifestVersion)
	}
	allowed := map[string]bool{}
	for _, rel := range []string{ProfilePath, ConfigPath, UnitPath} {
		allowed[filepath.Join(root, rel)] = true
	}
	for _, f := range m.Files {
		if !allowed[f.Path] {
			return nil, fmt.Errorf("%s names %s, which setup never writes; refusing to act on it", manifestFile(root), f.Path)
		}
	}
	for _, d := range m.Dirs {
		if !within(root, d) {
			return nil, fmt.Errorf("%s names folder %s outside %s; refusing to act on it", manifestFile(root), d, root)
		}
	}
	// Undo runs the interpreters it names (to uninstall the guard): only
	// those under the root, and only from a record nobody else could write.
	for _, g := range m.Guards {
		if !within(root, g.Python) {
			return nil, fmt.Errorf("%s names interpreter %s outside %s; refusing to act on it", manifestFile(root), g.Python, root)
		}
	}
	if err := trustedRecord(manifestFile(root)); err != nil {
		return nil, err
	}
	return &m, nil
}

// trustedRecord refuses, when run as root, a record file that another user
// owns or could have written: undo acts on it with root's rights.
func trustedRecord(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	for p := path; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		uid, _ := ownerOf(st)
		if uid != 0 || st.Mode().Perm()&0o022 != 0 && !(st.IsDir() && st.Mode()&os.ModeSticky != 0) {
			return fmt.Errorf("%s is not safe to act on as root: %s is owned by uid %d or writable by others; fix its ownership or remove it", path, p, uid)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, filepath.Clean(p))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") && filepath.IsAbs(p)
}

func (m *manifest) save(root string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(manifestFile(root), append(data, '\n'), 0o600, nil)
}

// remember records path's state before setup's first write to it.
func (m *manifest) remember(path string, content []byte) error {
	rec := m.file(path)
	if rec == nil {
		m.Files = append(m.Files, fileRecord{Path: path})
		rec = &m.Files[len(m.Files)-1]
		st, err := os.Lstat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case !st.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file; move it away and rerun", path)
		default:
			orig, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rec.Existed, rec.Original, rec.Perm = true, orig, st.Mode().Perm()
		}
	}
	rec.Written = digest(content)
	return nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// mkdirRecorded creates dir and its missing parents (0755), recording them.
func (m *manifest) mkdirRecorded(dir string) error {
	return fsutil.MkdirAllRecorded(dir, &m.Dirs)
}

// ownerOf returns a file's uid and gid (-1 where the platform has none).
func ownerOf(st os.FileInfo) (int, int) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid), int(s.Gid)
	}
	return -1, -1
}

package guard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

const manifestVersion = 1

// Manifest records everything an install wrote, so that uninstall can put
// back exactly what was there.
type Manifest struct {
	Version    int          `json:"version"`
	Python     string       `json:"python"` // sys.executable at install time
	Kind       HookKind     `json:"kind"`
	Mode       string       `json:"mode"`
	HookFile   string       `json:"hook_file"`
	Files      []FileRecord `json:"files"`
	CreatedDir []string     `json:"created_dirs"` // outermost first
}

// FileRecord is one file the install created or changed.
type FileRecord struct {
	Path    string `json:"path"`
	Created bool   `json:"created"` // did not exist before the install
	// For changed files: the bytes and metadata before the install.
	Original []byte      `json:"original,omitempty"`
	Perm     fs.FileMode `json:"perm,omitempty"`
	UID      int         `json:"uid,omitempty"`
	GID      int         `json:"gid,omitempty"`
	ModTime  time.Time   `json:"mtime,omitzero"`
}

func (m *Manifest) record(path string) *FileRecord {
	for i := range m.Files {
		if m.Files[i].Path == path {
			return &m.Files[i]
		}
	}
	return nil
}

// remember records path's current state unless the manifest already has it:
// the first install's original is the one to restore.
func (m *Manifest) remember(path string) error {
	if m.record(path) != nil {
		return nil
	}
	rec, err := snapshot(path)
	if err != nil {
		return err
	}
	m.Files = append(m.Files, rec)
	return nil
}

// snapshot captures a file's bytes and metadata (or its absence).
func snapshot(path string) (FileRecord, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return FileRecord{Path: path, Created: true}, nil
	}
	if err != nil {
		return FileRecord{}, err
	}
	if !st.Mode().IsRegular() {
		return FileRecord{}, fmt.Errorf("%s: not a regular file (%s); refusing to change it", path, st.Mode().Type())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return FileRecord{}, err
	}
	uid, gid := owner(st)
	return FileRecord{Path: path, Original: b, Perm: st.Mode().Perm(), UID: uid, GID: gid, ModTime: st.ModTime()}, nil
}

func loadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("manifest %s: version %d, want %d", path, m.Version, manifestVersion)
	}
	return &m, nil
}

func (m *Manifest) save(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeIfChanged(path, append(b, '\n'))
}

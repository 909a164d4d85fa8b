package hubrepo

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// File is one file of a snapshot as the Hub describes it.
type File struct {
	Path    string // slash-separated, relative to the repository's top
	Size    int64
	BlobID  string   // git blob id the Hub reports: of the content, or of the LFS pointer for LFS files
	LFS     *LFSInfo // nil for plain git files
	ModTime time.Time

	abs string  // resolved file on disk
	key fileKey // what the digests were computed for
}

// LFSInfo describes an LFS file: the sha256 of its content, its size, and the
// size of the pointer file git stores in its place.
type LFSInfo struct {
	SHA256      string
	Size        int64
	PointerSize int
}

// ETag is the unquoted etag the Hub sends for the file: the sha256 of an LFS
// file's content, else the git blob id.
func (f File) ETag() string {
	if f.LFS != nil {
		return f.LFS.SHA256
	}
	return f.BlobID
}

// AbsPath is the file's location on disk (symbolic links resolved).
func (f File) AbsPath() string { return f.abs }

// EntryType values in tree listings, spelled as in the Hub's JSON.
const (
	TypeFile      = "file"
	TypeDirectory = "directory"
)

// Entry is one item of a tree listing: a file or a directory.
type Entry struct {
	Type string // TypeFile or TypeDirectory
	Path string
	OID  string   // blob id for files, git tree id for directories
	Size int64    // 0 for directories
	LFS  *LFSInfo // files only
}

// Skipped names a path on disk that is not part of the snapshot, and why.
type Skipped struct {
	Path   string
	Reason string
}

// Snapshot is the content of one repository folder at one moment, with a
// commit id derived from that content. It is immutable.
type Snapshot struct {
	RepoType     string
	RepoID       string
	Commit       string // 40 hex digits
	LastModified time.Time
	Files        []File // sorted by path
	Skipped      []Skipped

	byPath map[string]int    // file path → index in Files
	dirs   map[string]string // directory path → git tree id; "" is the top
}

// emptyTreeID is git's id of the empty tree.
const emptyTreeID = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// File returns the file at p, or ErrEntryNotFound.
func (s *Snapshot) File(p string) (File, error) {
	if i, ok := s.byPath[p]; ok {
		return s.Files[i], nil
	}
	return File{}, fmt.Errorf("%w: %s", ErrEntryNotFound, p)
}

// IsDir reports whether p is a directory of the snapshot ("" is the top).
func (s *Snapshot) IsDir(p string) bool {
	_, ok := s.dirs[p]
	return ok
}

// TreeID returns the git tree id of directory p ("" for the top).
func (s *Snapshot) TreeID(p string) (string, bool) {
	id, ok := s.dirs[p]
	return id, ok
}

// Entries lists directory dir ("" for the top): its direct children, or with
// recursive every file and directory below it, sorted by path. It returns
// ErrEntryNotFound if dir is not a directory of the snapshot.
func (s *Snapshot) Entries(dir string, recursive bool) ([]Entry, error) {
	if !s.IsDir(dir) {
		return nil, fmt.Errorf("%w: %s", ErrEntryNotFound, dir)
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	inScope := func(p string) bool {
		if !strings.HasPrefix(p, prefix) || p == dir {
			return false
		}
		return recursive || !strings.Contains(p[len(prefix):], "/")
	}
	var out []Entry
	for d, id := range s.dirs {
		if d != "" && inScope(d) {
			out = append(out, Entry{Type: TypeDirectory, Path: d, OID: id})
		}
	}
	for _, f := range s.Files {
		if inScope(f.Path) {
			out = append(out, f.entry())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// PathsInfo returns an entry for each of paths that exists (file or
// directory), in the order asked, each at most once; missing paths are left
// out, as the Hub's paths-info does.
func (s *Snapshot) PathsInfo(paths []string) []Entry {
	var out []Entry
	seen := map[string]bool{}
	for _, p := range paths {
		p = strings.Trim(p, "/")
		if seen[p] {
			continue
		}
		seen[p] = true
		if f, err := s.File(p); err == nil {
			out = append(out, f.entry())
		} else if id, ok := s.dirs[p]; ok && p != "" {
			out = append(out, Entry{Type: TypeDirectory, Path: p, OID: id})
		}
	}
	return out
}

func (f File) entry() Entry {
	return Entry{Type: TypeFile, Path: f.Path, OID: f.BlobID, Size: f.Size, LFS: f.LFS}
}

// Open opens the file for reading and checks that it is still the version
// that was hashed; otherwise it returns ErrChanged, because serving it under
// the old etag would hand clients bytes that fail their checks.
func (s *Snapshot) Open(f File) (*os.File, error) {
	fh, err := os.Open(f.abs)
	if err != nil {
		return nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if keyOf(f.abs, fi) != f.key {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", f.Path, ErrChanged)
	}
	return fh, nil
}

// buildSnapshot turns walked and hashed files into a Snapshot: git tree ids
// for every directory, and a commit id over the repository identity and the
// top tree id (so it changes exactly when a path or a content changes).
func buildSnapshot(repoType, repoID string, files []File, skipped []Skipped) *Snapshot {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	s := &Snapshot{RepoType: repoType, RepoID: repoID, Files: files, Skipped: skipped,
		byPath: make(map[string]int, len(files)), dirs: map[string]string{}}

	// children[dir] lists the tree entries directly inside dir.
	type child struct {
		name  string
		isDir bool
		oid   string
	}
	children := map[string][]child{"": nil}
	for i, f := range files {
		s.byPath[f.Path] = i
		if f.ModTime.After(s.LastModified) {
			s.LastModified = f.ModTime
		}
		dir, name := splitDir(f.Path)
		children[dir] = append(children[dir], child{name: name, oid: f.BlobID})
		for dir != "" { // make sure every ancestor exists
			parent, _ := splitDir(dir)
			if _, ok := children[dir]; !ok {
				children[dir] = nil
			}
			dir = parent
		}
	}
	// Deepest directories first, so a parent's children have their ids.
	dirs := make([]string, 0, len(children))
	for d := range children {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		di, dj := strings.Count(dirs[i], "/"), strings.Count(dirs[j], "/")
		if dirs[i] == "" || dirs[j] == "" {
			return dirs[j] == "" && dirs[i] != ""
		}
		if di != dj {
			return di > dj
		}
		return dirs[i] < dirs[j]
	})
	for _, d := range dirs {
		kids := children[d]
		// git sorts tree entries by name, comparing a directory as "name/".
		sort.Slice(kids, func(i, j int) bool {
			return gitName(kids[i].name, kids[i].isDir) < gitName(kids[j].name, kids[j].isDir)
		})
		h := sha1.New()
		var body []byte
		for _, k := range kids {
			mode := "100644"
			if k.isDir {
				mode = "40000"
			}
			raw, _ := hex.DecodeString(k.oid)
			body = append(body, mode+" "+k.name+"\x00"...)
			body = append(body, raw...)
		}
		fmt.Fprintf(h, "tree %d\x00", len(body))
		h.Write(body)
		id := hex.EncodeToString(h.Sum(nil))
		if d == "" && len(kids) == 0 {
			id = emptyTreeID
		}
		s.dirs[d] = id
		if d != "" {
			parent, name := splitDir(d)
			children[parent] = append(children[parent], child{name: name, isDir: true, oid: id})
		}
	}
	c := sha1.New()
	fmt.Fprintf(c, "safehub hubrepo commit v1\nrepo %s/%s\ntree %s\n", repoType, repoID, s.dirs[""])
	s.Commit = hex.EncodeToString(c.Sum(nil))
	return s
}

func gitName(name string, isDir bool) string {
	if isDir {
		return name + "/"
	}
	return name
}

// splitDir splits "a/b/c" into "a/b" and "c", and "c" into "" and "c".
func splitDir(p string) (dir, name string) {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

package gateway

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/upstream"
)

// The metadata index remembers what the upstream said, so a restart keeps
// it and an unreachable upstream can be stood in for:
//   - file metadata by (type, repo, commit, path): a commit never changes,
//     so these entries are good for ever;
//   - the commit a branch last resolved to (trusted for branchTTL online,
//     and as the last known state offline);
//   - whether a repo answered without a token (public): only those repos'
//     files are served offline.
//
// On disk it is one JSON object per line (index.jsonl), appended as facts
// arrive and compacted on open. A torn last line (a crash mid-write) or a
// line that fails validation is skipped: losing an entry only costs one
// upstream call.
const (
	indexFileName   = "index.jsonl"
	maxIndexFiles   = 200_000  // file entries kept in memory
	maxIndexRevs    = 50_000   // branch entries
	maxIndexRepos   = 50_000   // public/non-public marks
	maxIndexLine    = 16 << 10 // longer lines are not ours: skipped
	maxIndexOnDisk  = 256 << 20
	compactSlackPct = 100 // rewrite when the file has twice the live entries
)

type repoKey struct {
	Type hubapi.RepoType
	Repo string
}

type revKey struct {
	repoKey
	Rev string
}

type fileKey struct {
	repoKey
	Commit, Path string
}

type fileRec struct {
	ETag, LinkedETag, ContentType string
	Size                          int64
}

type revRec struct {
	Commit string
	At     time.Time
}

// indexLine is the on-disk form of one fact. K is "file", "rev" or "repo".
type indexLine struct {
	K          string          `json:"k"`
	Type       hubapi.RepoType `json:"type"`
	Repo       string          `json:"repo"`
	Commit     string          `json:"commit,omitempty"`
	Path       string          `json:"path,omitempty"`
	Rev        string          `json:"rev,omitempty"`
	ETag       string          `json:"etag,omitempty"`
	LinkedETag string          `json:"linked_etag,omitempty"`
	Size       int64           `json:"size,omitempty"`
	CType      string          `json:"ctype,omitempty"`
	At         int64           `json:"at,omitempty"` // unix seconds, for rev
	Public     bool            `json:"public,omitempty"`
}

// metaIndex is safe for concurrent use. With an empty dir it lives in
// memory only.
type metaIndex struct {
	mu     sync.Mutex
	files  map[fileKey]fileRec
	revs   map[revKey]revRec
	public map[repoKey]bool
	f      *os.File // nil: memory only
	lines  int      // lines in f, for compaction
	log    *slog.Logger
	failed bool // a write failed once (logged once; memory goes on)
}

func openMetaIndex(dir string, log *slog.Logger) (*metaIndex, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ix := &metaIndex{files: map[fileKey]fileRec{}, revs: map[revKey]revRec{}, public: map[repoKey]bool{}, log: log}
	if dir == "" {
		return ix, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("metadata index: %w (check --cache-dir is writable)", err)
	}
	path := filepath.Join(dir, indexFileName)
	if f, err := os.Open(path); err == nil {
		n := ix.load(io.LimitReader(f, maxIndexOnDisk))
		f.Close()
		ix.lines = n
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("metadata index: %w", err)
	}
	live := len(ix.files) + len(ix.revs) + len(ix.public)
	if ix.lines > live*(100+compactSlackPct)/100+1000 {
		if err := ix.rewrite(path); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("metadata index: %w", err)
	}
	ix.f = f
	return ix, nil
}

// load reads index lines, keeping the valid ones; it returns the number
// of lines seen.
func (ix *metaIndex) load(r io.Reader) int {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxIndexLine)
	n := 0
	for sc.Scan() {
		n++
		if l, ok := parseIndexLine(sc.Bytes()); ok {
			ix.apply(l)
		}
	}
	return n
}

// parseIndexLine decodes and validates one line. The values end up in
// response headers and client cache paths, so they are checked as strictly
// as fresh upstream answers.
func parseIndexLine(b []byte) (indexLine, bool) {
	var l indexLine
	if len(b) > maxIndexLine || json.Unmarshal(b, &l) != nil {
		return l, false
	}
	if !validRepo(l.Type, l.Repo) {
		return l, false
	}
	switch l.K {
	case "file":
		return l, isCommit(l.Commit) && validPath(l.Path) && hexLen(l.ETag, 32, 128) &&
			(l.LinkedETag == "" || hexLen(l.LinkedETag, 64, 64)) && l.Size >= 0 && len(l.CType) < 256
	case "rev":
		return l, isCommit(l.Commit) && l.Rev != "" && len(l.Rev) < 256 && validText(l.Rev)
	case "repo":
		return l, true
	}
	return l, false
}

func validRepo(t hubapi.RepoType, repo string) bool {
	switch t {
	case hubapi.Model, hubapi.Dataset, hubapi.Space:
	default:
		return false
	}
	return repo != "" && len(repo) < 256 && validText(repo)
}

func validPath(p string) bool { return p != "" && len(p) < 4096 && validText(p) }

// validText refuses control characters (they could split a header).
func validText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func isCommit(s string) bool { return hexLen(s, 40, 40) }

func hexLen(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// apply records l in memory, evicting an arbitrary entry at the bounds
// (any entry is cheap to learn again).
func (ix *metaIndex) apply(l indexLine) {
	rk := repoKey{l.Type, l.Repo}
	switch l.K {
	case "file":
		k := fileKey{rk, l.Commit, l.Path}
		if _, ok := ix.files[k]; !ok && len(ix.files) >= maxIndexFiles {
			for old := range ix.files {
				delete(ix.files, old)
				break
			}
		}
		ix.files[k] = fileRec{ETag: l.ETag, LinkedETag: l.LinkedETag, Size: l.Size, ContentType: l.CType}
	case "rev":
		k := revKey{rk, l.Rev}
		if _, ok := ix.revs[k]; !ok && len(ix.revs) >= maxIndexRevs {
			for old := range ix.revs {
				delete(ix.revs, old)
				break
			}
		}
		ix.revs[k] = revRec{Commit: l.Commit, At: time.Unix(l.At, 0)}
	case "repo":
		if _, ok := ix.public[rk]; !ok && len(ix.public) >= maxIndexRepos {
			for old := range ix.public {
				delete(ix.public, old)
				break
			}
		}
		ix.public[rk] = l.Public
	}
}

// rewrite replaces the file with the live entries (temp file, rename).
func (ix *metaIndex) rewrite(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), indexFileName+".*.tmp")
	if err != nil {
		return fmt.Errorf("metadata index: %w", err)
	}
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	n := 0
	for k, v := range ix.files {
		enc.Encode(indexLine{K: "file", Type: k.Type, Repo: k.Repo, Commit: k.Commit, Path: k.Path,
			ETag: v.ETag, LinkedETag: v.LinkedETag, Size: v.Size, CType: v.ContentType})
		n++
	}
	for k, v := range ix.revs {
		enc.Encode(indexLine{K: "rev", Type: k.Type, Repo: k.Repo, Rev: k.Rev, Commit: v.Commit, At: v.At.Unix()})
		n++
	}
	for k, v := range ix.public {
		enc.Encode(indexLine{K: "repo", Type: k.Type, Repo: k.Repo, Public: v})
		n++
	}
	err = errors.Join(w.Flush(), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("metadata index: compacting: %w", err)
	}
	ix.lines = n
	return nil
}

// record applies l and appends it to the file. A failed write (a full
// disk) is logged once; the gateway goes on with what it has in memory.
func (ix *metaIndex) record(l indexLine) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.apply(l)
	if ix.f == nil || ix.failed {
		return
	}
	b, _ := json.Marshal(l)
	if _, err := ix.f.Write(append(b, '\n')); err != nil {
		ix.failed = true
		ix.log.Warn("metadata index write failed; going on in memory (offline answers after a restart will miss recent files)", "err", err)
		return
	}
	ix.lines++
}

func (ix *metaIndex) putFile(m *upstream.FileMeta, path string) {
	ix.mu.Lock()
	old, ok := ix.files[fileKey{repoKey{m.Type, m.Repo}, m.Commit, path}]
	ix.mu.Unlock()
	rec := fileRec{ETag: m.ETag, LinkedETag: m.LinkedETag, Size: m.Size, ContentType: m.ContentType}
	if ok && old == rec {
		return // the common case: already known, no write
	}
	ix.record(indexLine{K: "file", Type: m.Type, Repo: m.Repo, Commit: m.Commit, Path: path,
		ETag: m.ETag, LinkedETag: m.LinkedETag, Size: m.Size, CType: m.ContentType})
}

func (ix *metaIndex) file(t hubapi.RepoType, repo, commit, path string) (*upstream.FileMeta, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	v, ok := ix.files[fileKey{repoKey{t, repo}, commit, path}]
	if !ok {
		return nil, false
	}
	return &upstream.FileMeta{Type: t, Repo: repo, Commit: commit, ETag: v.ETag, LinkedETag: v.LinkedETag,
		Size: v.Size, ContentType: v.ContentType}, true
}

// putRev records that rev resolved to commit now. The time is written to
// disk only when the commit changes, so a hot branch costs no writes.
func (ix *metaIndex) putRev(t hubapi.RepoType, repo, rev, commit string, now time.Time) {
	ix.mu.Lock()
	old, ok := ix.revs[revKey{repoKey{t, repo}, rev}]
	if ok && old.Commit == commit {
		ix.revs[revKey{repoKey{t, repo}, rev}] = revRec{Commit: commit, At: now}
		ix.mu.Unlock()
		return
	}
	ix.mu.Unlock()
	ix.record(indexLine{K: "rev", Type: t, Repo: repo, Rev: rev, Commit: commit, At: now.Unix()})
}

// rev returns the commit rev last resolved to and when.
func (ix *metaIndex) rev(t hubapi.RepoType, repo, rev string) (revRec, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	v, ok := ix.revs[revKey{repoKey{t, repo}, rev}]
	return v, ok
}

func (ix *metaIndex) setPublic(t hubapi.RepoType, repo string, public bool) {
	ix.mu.Lock()
	old, ok := ix.public[repoKey{t, repo}]
	ix.mu.Unlock()
	if ok && old == public {
		return
	}
	ix.record(indexLine{K: "repo", Type: t, Repo: repo, Public: public})
}

// publicness returns (public, known).
func (ix *metaIndex) publicness(t hubapi.RepoType, repo string) (bool, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	v, ok := ix.public[repoKey{t, repo}]
	return v, ok
}

func (ix *metaIndex) close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.f == nil {
		return nil
	}
	err := ix.f.Close()
	ix.f = nil
	return err
}

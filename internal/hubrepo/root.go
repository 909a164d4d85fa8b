package hubrepo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// MaxFiles caps the files of one repository, so that a mistaken root (a home
// directory) fails clearly instead of hashing for hours.
const MaxFiles = 200_000

// DefaultSnapshotTTL is how long a snapshot is reused before its folder is
// walked again.
const DefaultSnapshotTTL = time.Second

// Root is a folder of repositories. It is safe for concurrent use.
type Root struct {
	dir        string // absolute, symbolic links resolved
	ttl        time.Duration
	hashes     *hashCache
	digestPath string

	mu    sync.Mutex
	snaps map[string]*snapCall // key: type/id + "\x00" + folder
}

type snapCall struct {
	wait chan struct{} // closed when s/err are set
	at   time.Time
	s    *Snapshot
	err  error
}

// Option configures a Root.
type Option func(*Root)

// WithSnapshotTTL sets how long a snapshot is reused before the folder is
// walked again (0: walk on every call; hashes stay memoized either way).
func WithSnapshotTTL(d time.Duration) Option { return func(r *Root) { r.ttl = d } }

// Open returns a Root for dir. It reads nothing but dir's own metadata.
func Open(dir string, opts ...Option) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("hubrepo: open %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("hubrepo: open %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("hubrepo: open %s: not a directory", dir)
	}
	r := &Root{dir: abs, ttl: DefaultSnapshotTTL, hashes: newHashCache(), snaps: map[string]*snapCall{}}
	for _, o := range opts {
		o(r)
	}
	if r.digestPath != "" {
		df, err := openDigestFile(r.digestPath, r.hashes)
		if err != nil {
			return nil, fmt.Errorf("hubrepo: digest file: %w", err)
		}
		r.hashes.persist = df
	}
	return r, nil
}

// Close closes the digest file, if any. The Root stays usable.
func (r *Root) Close() error {
	r.hashes.mu.Lock()
	df := r.hashes.persist
	r.hashes.persist = nil
	r.hashes.mu.Unlock()
	if df == nil {
		return nil
	}
	df.mu.Lock()
	defer df.mu.Unlock()
	return df.f.Close()
}

// Dir is the root folder (absolute, symbolic links resolved).
func (r *Root) Dir() string { return r.dir }

// Repo is one repository folder of a Root.
type Repo struct {
	Type string // "models", "datasets", "spaces" or "kernels"
	ID   string // "org/name" or a legacy "name"
	Dir  string // absolute folder
	root *Root
}

// Repo looks up a repository. It returns ErrInvalidName for a malformed type
// or id and ErrRepoNotFound when no such folder exists under the layout rules
// (see the package documentation for one-segment ids).
func (r *Root) Repo(repoType, id string) (*Repo, error) {
	if !ValidRepoType(repoType) {
		return nil, fmt.Errorf("%w: repo type %q", ErrInvalidName, repoType)
	}
	if err := CheckRepoID(id); err != nil {
		return nil, err
	}
	segs := strings.Split(id, "/")
	dir := filepath.Join(append([]string{r.dir, repoType}, segs...)...)
	resolved, err := r.inside(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrRepoNotFound, repoType, id)
	}
	fi, err := os.Stat(resolved)
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s/%s", ErrRepoNotFound, repoType, id)
	}
	// One segment: a repo only if it holds a file. Two: only if the org
	// folder holds no file (else it is a legacy repo and this is a sub-folder).
	if len(segs) == 1 && !hasRegularFile(resolved) || len(segs) == 2 && hasRegularFile(filepath.Join(r.dir, repoType, segs[0])) {
		return nil, fmt.Errorf("%w: %s/%s", ErrRepoNotFound, repoType, id)
	}
	return &Repo{Type: repoType, ID: id, Dir: resolved, root: r}, nil
}

// List returns every repository under the root, sorted by type and id.
func (r *Root) List() ([]*Repo, error) {
	var out []*Repo
	for _, t := range RepoTypes {
		orgs, err := os.ReadDir(filepath.Join(r.dir, t))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		for _, o := range orgs {
			if repo, err := r.Repo(t, o.Name()); err == nil {
				out = append(out, repo)
				continue
			}
			names, err := os.ReadDir(filepath.Join(r.dir, t, o.Name()))
			if err != nil {
				continue
			}
			for _, n := range names {
				if repo, err := r.Repo(t, o.Name()+"/"+n.Name()); err == nil {
					out = append(out, repo)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Type+"/"+out[i].ID < out[j].Type+"/"+out[j].ID
	})
	return out, nil
}

// Snapshot describes the repository folder as it is now (or as it was at
// most the root's snapshot TTL ago).
func (p *Repo) Snapshot() (*Snapshot, error) { return p.root.snapshot(p.Type, p.ID, p.Dir) }

// SnapshotOf describes another folder under the root as a revision of this
// repository (a simulator's alternate branch). dir is absolute or relative
// to the root, and must lie inside the root.
func (p *Repo) SnapshotOf(dir string) (*Snapshot, error) {
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(p.root.dir, filepath.FromSlash(dir))
	}
	resolved, err := p.root.inside(dir)
	if err != nil {
		return nil, err
	}
	return p.root.snapshot(p.Type, p.ID, resolved)
}

func (r *Root) snapshot(repoType, id, dir string) (*Snapshot, error) {
	key := repoType + "/" + id + "\x00" + dir
	r.mu.Lock()
	if c, ok := r.snaps[key]; ok {
		select {
		case <-c.wait:
			if c.err == nil && time.Since(c.at) < r.ttl {
				r.mu.Unlock()
				return c.s, nil
			}
		default: // being built: wait for it
			r.mu.Unlock()
			<-c.wait
			return c.s, c.err
		}
	}
	c := &snapCall{wait: make(chan struct{})}
	r.snaps[key] = c
	r.mu.Unlock()

	c.s, c.err = r.build(repoType, id, dir)
	c.at = time.Now()
	close(c.wait)
	return c.s, c.err
}

// inside resolves symbolic links in p and checks that the result is in the root.
func (r *Root) inside(p string) (string, error) {
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r.dir, resolved)
	if err != nil || !(rel == "." || filepath.IsLocal(rel)) {
		return "", fmt.Errorf("%w: %s resolves outside the root", ErrInvalidName, p)
	}
	return resolved, nil
}

func hasRegularFile(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue // .DS_Store, .gitkeep: not what makes a folder a repo
		}
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// walked is a file found on disk, not yet hashed.
type walked struct {
	rel string
	abs string
	fi  os.FileInfo
}

func (r *Root) build(repoType, id, dir string) (*Snapshot, error) {
	var found []walked
	var skipped []Skipped
	if err := r.walk(dir, "", &found, &skipped); err != nil {
		return nil, fmt.Errorf("hubrepo: %s/%s: %w", repoType, id, err)
	}
	files := make([]File, len(found))
	errs := make([]error, len(found))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				files[i], errs[i] = r.describe(found[i])
			}
		}()
	}
	for i := range found {
		next <- i
	}
	close(next)
	wg.Wait()
	// A file that changes or vanishes while it is hashed (being copied in)
	// is left out of this snapshot, not allowed to break the whole repo;
	// the next snapshot picks it up once it is still.
	kept := files[:0]
	var hard []error
	for i, err := range errs {
		switch {
		case err == nil:
			kept = append(kept, files[i])
		case errors.Is(err, ErrChanged) || errors.Is(err, fs.ErrNotExist):
			skipped = append(skipped, Skipped{found[i].rel, "changed while being read (still being copied?)"})
		default:
			hard = append(hard, err)
		}
	}
	if err := errors.Join(hard...); err != nil {
		return nil, fmt.Errorf("hubrepo: %s/%s: %w", repoType, id, err)
	}
	return buildSnapshot(repoType, id, kept, skipped), nil
}

func (r *Root) describe(w walked) (File, error) {
	lfs := IsLFS(w.rel, w.fi.Size())
	d, err := r.hashes.get(w.abs, w.fi, lfs)
	if err != nil {
		return File{}, err
	}
	f := File{Path: w.rel, Size: w.fi.Size(), BlobID: d.blobSHA1, ModTime: w.fi.ModTime(), abs: w.abs, key: keyOf(w.abs, w.fi)}
	if lfs {
		ptr := LFSPointer(d.sha256, w.fi.Size())
		f.LFS = &LFSInfo{SHA256: d.sha256, Size: w.fi.Size(), PointerSize: len(ptr)}
		f.BlobID = GitBlobID(ptr)
	}
	return f, nil
}

// walk collects the regular files under dir (rel is dir's repository path).
func (r *Root) walk(dir, rel string, found *[]walked, skipped *[]Skipped) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := e.Name()
		if rel != "" {
			p = rel + "/" + e.Name()
		}
		abs := filepath.Join(dir, e.Name())
		if e.Name() == ".git" || p == ".cache/huggingface" {
			// git's own data, and the metadata `hf download --local-dir`
			// keeps (upload_folder leaves it out too), are not repo content.
			continue
		}
		if err := CheckPath(p); err != nil {
			*skipped = append(*skipped, Skipped{p, "name cannot be a Hub path"})
			continue
		}
		mode := e.Type()
		if mode&fs.ModeSymlink != 0 {
			target, err := r.inside(abs)
			if err != nil {
				*skipped = append(*skipped, Skipped{p, "symbolic link is broken or leads outside the root"})
				continue
			}
			fi, err := os.Stat(target)
			if err != nil || !fi.Mode().IsRegular() {
				*skipped = append(*skipped, Skipped{p, "symbolic link to something other than a regular file"})
				continue
			}
			abs, mode = target, 0
		}
		switch {
		case mode.IsDir():
			if err := r.walk(abs, p, found, skipped); err != nil {
				return err
			}
		case mode.IsRegular():
			fi, err := os.Stat(abs)
			if err != nil {
				return err
			}
			if len(*found) >= MaxFiles {
				return fmt.Errorf("%w (limit %d)", ErrTooManyFiles, MaxFiles)
			}
			*found = append(*found, walked{rel: p, abs: abs, fi: fi})
		default:
			*skipped = append(*skipped, Skipped{p, "not a regular file or directory"})
		}
	}
	return nil
}

package hubrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Review tests: TestReview_* demonstrate bugs found in review; the others
// pin behaviour that was checked and found right.

// One stray file in an organisation folder (.DS_Store, a README, .gitkeep)
// turns the organisation into a one-segment repo: every org/name repo under
// it disappears and its files are served as sub-paths of repo "org". A
// policy repo deny "evil-org/*" does not match the id "evil-org", so the
// gateway serves what the admin blocked.
func TestReview_StrayFileInOrgFolderHidesReposAndExposesThemUnderOrgID(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "models"), map[string]string{
		"evil-org/.DS_Store":           "finder junk",
		"evil-org/m/model.safetensors": "weights",
	})
	r, err := Open(root, WithSnapshotTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Repo("models", "evil-org/m"); err != nil {
		t.Errorf("Repo(evil-org/m) = %v; a hidden file in the org folder hides the repo", err)
	}
	if repo, err := r.Repo("models", "evil-org"); err == nil {
		s, err := repo.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.File("m/model.safetensors"); err == nil {
			t.Errorf("evil-org/m's files are served as repo \"evil-org\" path m/model.safetensors (bypasses repo globs like evil-org/*)")
		}
	}
}

// huggingface_hub's own upload_folder ignores .cache/huggingface/ (the
// local_dir download metadata of `hf download --local-dir`), which is how
// admins fill a mirror. The mirror lists and serves it as repo content, so
// snapshot_download(local_dir=...) writes the mirror's metadata files over
// the client's own, and the commit id changes whenever that metadata does.
func TestReview_HFLocalDirMetadataIsServedAsRepoContent(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "models", "org", "m"), map[string]string{
		"config.json":                                        "{}",
		".cache/huggingface/.gitignore":                      "*",
		".cache/huggingface/download/config.json.metadata":   "abc\n123\n",
		".cache/huggingface/download/model.safetensors.lock": "",
	})
	r, err := Open(root, WithSnapshotTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := r.Repo("models", "org/m")
	if err != nil {
		t.Fatal(err)
	}
	s, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s.Files {
		if strings.HasPrefix(f.Path, ".cache/huggingface/") {
			t.Errorf("snapshot lists %s", f.Path)
		}
	}
}

// A file rewritten in place with the same size and its old mtime restored
// (utimes; rsync --inplace, tar -x, cp -p of a same-size file) keeps path,
// size, mtime and inode, so the memoized and persisted digest is reused:
// the mirror vouches for a sha256 the bytes no longer have (the gateway
// keys its verdict cache on that digest), and Open serves the new bytes.
// ctime cannot be set by utimes; keying on it would catch this.
func TestReview_SameSizeRewriteWithRestoredMtimeKeepsStaleDigest(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "models", "org", "m", "model.safetensors")
	writeFiles(t, root, map[string]string{"models/org/m/model.safetensors": "AAAAAAAA"})
	r, err := Open(root, WithSnapshotTTL(0), WithDigestFile(filepath.Join(t.TempDir(), "d.jsonl")))
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := r.Repo("models", "org/m")
	if _, err := repo.Snapshot(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	f, err := os.OpenFile(p, os.O_WRONLY, 0) // same inode
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("BBBBBBBB")
	f.Close()
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	s, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.File("model.safetensors")
	want := sha256.Sum256([]byte("BBBBBBBB"))
	if got.LFS == nil || got.LFS.SHA256 != hex.EncodeToString(want[:]) {
		fh, err := s.Open(got)
		if err == nil {
			fh.Close()
		}
		t.Errorf("snapshot reports sha256 %v for content BBBBBBBB (want %x); Open err=%v", got.LFS, want, err)
	}
}

// Checked and fine: symlinks leading outside the root, symlinked
// directories and .git are left out; a file replaced after the snapshot
// is refused by Open; bad ids and paths are rejected.
func TestReviewMirrorFolderSafety(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	writeFiles(t, root, map[string]string{
		"models/org/m/config.json": "{}",
		"models/org/m/.git/HEAD":   "ref",
		"models/org/m/x.txt":       "x",
	})
	dir := filepath.Join(root, "models", "org", "m")
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "out.txt"))
	os.Symlink("../../../../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "rel.txt"))
	os.Symlink(outside, filepath.Join(dir, "outdir"))
	os.Symlink(dir, filepath.Join(dir, "loop"))
	r, err := Open(root, WithSnapshotTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := r.Repo("models", "org/m")
	if err != nil {
		t.Fatal(err)
	}
	s, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range s.Files {
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, ",") != "config.json,x.txt" {
		t.Errorf("files %v", paths)
	}
	f, _ := s.File("x.txt")
	os.Remove(filepath.Join(dir, "x.txt"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "x.txt"))
	if fh, err := s.Open(f); err == nil {
		fh.Close()
		t.Errorf("Open served a file swapped for a symlink outside the root")
	}
	for _, id := range []string{"..", "org/..", "org/m/x", ".hidden", "org/.m", "a--b/c"} {
		if _, err := r.Repo("models", id); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Repo(%q) = %v", id, err)
		}
	}
}

// The digest file is trusted as is: a record whose key matches the file's
// stat is used without reading the file, even when the digest file is
// world-writable. Whoever can write it chooses the sha256 the mirror
// vouches for (and so which cached verdict the gateway reuses). Loading
// only a file owned by us and not group/world-writable (else re-hashing)
// would close the easy case.
func TestReview_TamperedWorldWritableDigestFileIsTrusted(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"models/org/m/model.safetensors": "real bytes"})
	abs, _ := filepath.EvalSymlinks(filepath.Join(root, "models", "org", "m", "model.safetensors"))
	fi, err := os.Stat(abs)
	if err != nil {
		t.Fatal(err)
	}
	k := keyOf(abs, fi)
	fake := strings.Repeat("ab", 32)
	line, _ := json.Marshal(digestRecord{Path: k.path, Size: k.size, MTime: k.mtime, Ino: k.ino, SHA256: fake})
	df := filepath.Join(t.TempDir(), "d.jsonl")
	if err := os.WriteFile(df, append(line, '\n'), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(df, 0o666)
	r, err := Open(root, WithSnapshotTTL(0), WithDigestFile(df))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	repo, _ := r.Repo("models", "org/m")
	s, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := s.File("model.safetensors"); f.LFS != nil && f.LFS.SHA256 == fake {
		t.Errorf("sha256 taken from a world-writable digest file without checking: %s", fake)
	}
}

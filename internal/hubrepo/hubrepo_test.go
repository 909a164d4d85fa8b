package hubrepo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeFiles creates files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var sampleRepo = map[string]string{
	"config.json":            `{"model_type":"bert"}`,
	"model.safetensors":      "pretend safetensors bytes",
	"README.md":              "# hello\n",
	"onnx/model.onnx":        "onnx bytes",
	"onnx/sub/notes.txt":     "nested",
	"tokenizer/vocab.txt":    "a\nb\n",
	"0-empty.txt":            "",
	"a b+c.txt":              "odd name",
	"saved_model/x/vars.idx": "saved model part",
}

func openSample(t *testing.T) (*Root, *Repo) {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "models", "org", "m"), sampleRepo)
	r, err := Open(root, WithSnapshotTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := r.Repo("models", "org/m")
	if err != nil {
		t.Fatal(err)
	}
	return r, repo
}

// TestSnapshotMatchesGit checks blob and tree ids against real git, with LFS
// files replaced by their pointers as git-lfs stores them.
func TestSnapshotMatchesGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("this test compares ids with real git: install it (apt-get install git)")
	}
	_, repo := openSample(t)
	snap, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	gitDir := t.TempDir()
	asGit := map[string]string{}
	for _, f := range snap.Files {
		c := sampleRepo[f.Path]
		if f.LFS != nil {
			if sum := sha256.Sum256([]byte(c)); f.LFS.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: sha256 %s is wrong", f.Path, f.LFS.SHA256)
			}
			c = string(LFSPointer(f.LFS.SHA256, f.Size))
			if f.LFS.PointerSize != len(c) {
				t.Errorf("%s: pointer size %d, want %d", f.Path, f.LFS.PointerSize, len(c))
			}
		}
		asGit[f.Path] = c
	}
	writeFiles(t, gitDir, asGit)
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = gitDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	if got, want := snap.dirs[""], git("write-tree"); got != want || got == emptyTreeID {
		t.Errorf("top tree id %s, git says %s", got, want)
	}
	top := git("write-tree")
	for _, d := range []string{"onnx", "onnx/sub", "saved_model/x"} {
		want := git("rev-parse", top+":"+d)
		if got, _ := snap.TreeID(d); got != want {
			t.Errorf("tree id of %s: %s, git says %s", d, got, want)
		}
	}
	for _, f := range snap.Files {
		if want := git("hash-object", f.Path); f.BlobID != want {
			t.Errorf("%s: blob id %s, git says %s", f.Path, f.BlobID, want)
		}
	}
	// LFS decisions follow the Hub's default .gitattributes.
	for p, lfs := range map[string]bool{"model.safetensors": true, "onnx/model.onnx": true,
		"config.json": false, "saved_model/x/vars.idx": true, "0-empty.txt": false} {
		f, err := snap.File(p)
		if err != nil {
			t.Fatal(err)
		}
		if (f.LFS != nil) != lfs {
			t.Errorf("%s: LFS %v, want %v", p, f.LFS != nil, lfs)
		}
	}
	f, _ := snap.File("model.safetensors")
	if f.ETag() != f.LFS.SHA256 || len(f.ETag()) != 64 {
		t.Errorf("LFS etag %q is not the sha256", f.ETag())
	}
}

func TestCommitIsDerivedFromContent(t *testing.T) {
	r, repo := openSample(t)
	s1, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(s1.Commit) != 40 {
		t.Fatalf("commit %q is not 40 hex digits", s1.Commit)
	}
	s2, _ := repo.Snapshot()
	if s1.Commit != s2.Commit {
		t.Errorf("commit not stable: %s then %s", s1.Commit, s2.Commit)
	}
	// Same content in another repo: another commit (ids are per repository).
	writeFiles(t, filepath.Join(r.Dir(), "models", "org", "twin"), sampleRepo)
	twin, err := r.Repo("models", "org/twin")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := twin.Snapshot()
	if st.Commit == s1.Commit || st.dirs[""] != s1.dirs[""] {
		t.Errorf("twin: commit %s tree %s; original commit %s tree %s", st.Commit, st.dirs[""], s1.Commit, s1.dirs[""])
	}
	// One changed byte: a new commit, and the new content's blob id.
	writeFiles(t, repo.Dir, map[string]string{"config.json": `{"model_type":"bart"}`})
	s3, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := s3.File("config.json")
	if s3.Commit == s1.Commit || f.BlobID != GitBlobID([]byte(`{"model_type":"bart"}`)) {
		t.Errorf("after edit: commit %s (was %s), blob %s", s3.Commit, s1.Commit, f.BlobID)
	}
}

func TestSnapshotTTLReusesSnapshot(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "datasets", "org", "d"), map[string]string{"a.csv": "x,y\n"})
	r, err := Open(root, WithSnapshotTTL(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := r.Repo("datasets", "org/d")
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := repo.Snapshot()
	writeFiles(t, repo.Dir, map[string]string{"b.csv": "1,2\n"})
	s2, _ := repo.Snapshot()
	if s1 != s2 {
		t.Errorf("snapshot rebuilt within its TTL")
	}
}

func TestRepoLookupLayout(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"models/org/m/config.json":        "{}",
		"models/gpt2/config.json":         "{}",   // legacy one-segment repo
		"models/gpt2/onnx/model.onnx":     "x",    // a sub-folder of it, not repo gpt2/onnx
		"datasets/org/d/data.csv":         "a\n",  // dataset
		"spaces/org/s/app.py":             "",     // space
		"models/emptyorg/.keep/x":         "",     // org holding only a hidden folder
		"hubsim.json":                     "{}",   // outside the type folders: ignored
		"other/org/m/config.json":         "{}",   // unknown type folder
		"models/org/m/.git/HEAD":          "ref",  // never content
		"models/org/m/sub/.git/config":    "x",    // never content, at any depth
		"models/org/m/nested/ok.txt":      "fine", // ordinary nested file
		"models/org/only-dirs/sub/a.json": "{}",   // two-segment repo holding only folders
	})
	r, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ, id string
		err     error
	}{
		{"models", "org/m", nil},
		{"models", "gpt2", nil},
		{"datasets", "org/d", nil},
		{"spaces", "org/s", nil},
		{"models", "org/only-dirs", nil},
		{"models", "org", ErrRepoNotFound},       // an organisation, not a repo
		{"models", "gpt2/onnx", ErrRepoNotFound}, // a folder of a legacy repo
		{"models", "org/missing", ErrRepoNotFound},
		{"datasets", "org/m", ErrRepoNotFound},
		{"other", "org/m", ErrInvalidName},
		{"models", "org/../org/m", ErrInvalidName},
		{"models", "a/b/c", ErrInvalidName},
		{"models", "org/m.git", ErrInvalidName},
		{"models", "org/-m", ErrInvalidName},
		{"models", "", ErrInvalidName},
	} {
		_, err := r.Repo(c.typ, c.id)
		if !errors.Is(err, c.err) && !(c.err == nil && err == nil) {
			t.Errorf("Repo(%q, %q) = %v, want %v", c.typ, c.id, err, c.err)
		}
	}
	list, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range list {
		ids = append(ids, p.Type+"/"+p.ID)
	}
	want := "datasets/org/d models/gpt2 models/org/m models/org/only-dirs spaces/org/s"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
	m, _ := r.Repo("models", "org/m")
	s, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range s.Files {
		paths = append(paths, f.Path)
	}
	if got := strings.Join(paths, " "); got != "config.json nested/ok.txt" {
		t.Errorf("files = %s (.git content must be left out)", got)
	}
}

func TestSymlinksStayInsideRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.txt": "do not serve"})
	writeFiles(t, root, map[string]string{
		"models/org/m/config.json":  "{}",
		"shared/blobs/weights.bin":  "shared bytes",
		"models/org/other/real.txt": "x",
	})
	repoDir := filepath.Join(root, "models", "org", "m")
	mustLink := func(target, link string) {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	mustLink(filepath.Join(root, "shared", "blobs", "weights.bin"), filepath.Join(repoDir, "pytorch_model.bin"))
	mustLink(filepath.Join(outside, "secret.txt"), filepath.Join(repoDir, "leak.txt"))
	mustLink("../../../../../../../../etc/passwd", filepath.Join(repoDir, "passwd"))
	mustLink(filepath.Join(root, "models", "org", "other"), filepath.Join(repoDir, "dirlink"))
	mustLink(outside, filepath.Join(root, "models", "org", "escape"))

	r, err := Open(root, WithSnapshotTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Repo("models", "org/escape"); !errors.Is(err, ErrRepoNotFound) {
		t.Errorf("repo folder linked outside the root: %v, want ErrRepoNotFound", err)
	}
	repo, err := r.Repo("models", "org/m")
	if err != nil {
		t.Fatal(err)
	}
	s, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if f, err := s.File("pytorch_model.bin"); err != nil || f.Size != int64(len("shared bytes")) {
		t.Errorf("in-root symlink: %+v, %v", f, err)
	}
	for _, p := range []string{"leak.txt", "passwd", "dirlink/real.txt"} {
		if _, err := s.File(p); err == nil {
			t.Errorf("%s is served; it must be skipped", p)
		}
	}
	skipped := map[string]bool{}
	for _, sk := range s.Skipped {
		skipped[sk.Path] = true
	}
	for _, p := range []string{"leak.txt", "passwd", "dirlink"} {
		if !skipped[p] {
			t.Errorf("%s not reported in Skipped (%v)", p, s.Skipped)
		}
	}
	if _, err := repo.SnapshotOf(outside); !errors.Is(err, ErrInvalidName) {
		t.Errorf("SnapshotOf(outside) = %v, want ErrInvalidName", err)
	}
}

func TestEntriesAndPathsInfo(t *testing.T) {
	_, repo := openSample(t)
	s, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	list := func(dir string, rec bool) string {
		es, err := s.Entries(dir, rec)
		if err != nil {
			return "error: " + err.Error()
		}
		var b []string
		for _, e := range es {
			b = append(b, e.Type[:1]+":"+e.Path)
		}
		return strings.Join(b, " ")
	}
	for _, c := range []struct {
		dir  string
		rec  bool
		want string
	}{
		{"", false, "f:0-empty.txt f:README.md f:a b+c.txt f:config.json f:model.safetensors d:onnx d:saved_model d:tokenizer"},
		{"onnx", false, "f:onnx/model.onnx d:onnx/sub"},
		{"onnx", true, "f:onnx/model.onnx d:onnx/sub f:onnx/sub/notes.txt"},
		{"saved_model", true, "d:saved_model/x f:saved_model/x/vars.idx"},
		{"missing", false, "error: entry not found: missing"},
		{"config.json", false, "error: entry not found: config.json"},
	} {
		if got := list(c.dir, c.rec); got != c.want {
			t.Errorf("Entries(%q, %v) =\n  %s\nwant\n  %s", c.dir, c.rec, got, c.want)
		}
	}
	all, _ := s.Entries("", true)
	if len(all) != len(sampleRepo)+5 { // 9 files + onnx, onnx/sub, tokenizer, saved_model, saved_model/x
		t.Errorf("recursive listing has %d entries", len(all))
	}
	info := s.PathsInfo([]string{"onnx", "config.json", "nope", "config.json", "onnx/sub/notes.txt"})
	var got []string
	for _, e := range info {
		got = append(got, e.Type+":"+e.Path)
	}
	if strings.Join(got, " ") != "directory:onnx file:config.json file:onnx/sub/notes.txt" {
		t.Errorf("PathsInfo = %v", got)
	}
}

func TestOpenDetectsChangedFile(t *testing.T) {
	_, repo := openSample(t)
	s, _ := repo.Snapshot()
	f, _ := s.File("README.md")
	fh, err := s.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(fh)
	fh.Close()
	if buf.String() != sampleRepo["README.md"] {
		t.Errorf("read %q", buf.String())
	}
	os.WriteFile(filepath.Join(repo.Dir, "README.md"), []byte("# changed, longer\n"), 0o644)
	if _, err := s.Open(f); !errors.Is(err, ErrChanged) {
		t.Errorf("Open after change = %v, want ErrChanged", err)
	}
}

func TestConcurrentSnapshotsAgree(t *testing.T) {
	_, repo := openSample(t)
	var wg sync.WaitGroup
	commits := make([]string, 16)
	for i := range commits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := repo.Snapshot()
			if err != nil {
				t.Error(err)
				return
			}
			commits[i] = s.Commit
		}()
	}
	wg.Wait()
	for _, c := range commits {
		if c != commits[0] || c == "" {
			t.Fatalf("concurrent snapshots disagree: %v", commits)
		}
	}
}

func TestIsLFS(t *testing.T) {
	for p, want := range map[string]bool{
		"model.safetensors": true, "pytorch_model.bin": true, "x/y.PT": true, "data.tar.gz": true,
		"events.out.tfevents.1": true, "tokenizer.model": true, "model.gguf": true,
		"config.json": false, "README.md": false, "tokenizer.json": false, "vocab.txt": false,
	} {
		if got := IsLFS(p, 100); got != want {
			t.Errorf("IsLFS(%q) = %v, want %v", p, got, want)
		}
	}
	if !IsLFS("big.json", LFSThreshold) || IsLFS("big.json", LFSThreshold-1) {
		t.Errorf("size threshold not applied at %d bytes", LFSThreshold)
	}
}

func TestCheckPath(t *testing.T) {
	for p, ok := range map[string]bool{
		"": true, "a": true, "a/b.txt": true, "a b+c": true, "dir/.hidden": true,
		"../x": false, "a/../b": false, "./a": false, "a//b": false, "/abs": false, "a/": false,
		"a\\b": false, "a\x00b": false, ".git/config": false, "a/.git": false, "\xff": false,
	} {
		if err := CheckPath(p); (err == nil) != ok {
			t.Errorf("CheckPath(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

// TestHashesAreMemoized: a second snapshot of an unchanged folder reuses
// the digests (one memo per file), and a changed file replaces its memo.
func TestHashesAreMemoized(t *testing.T) {
	r, repo := openSample(t)
	if _, err := repo.Snapshot(); err != nil {
		t.Fatal(err)
	}
	first := map[string]memo{}
	for k, v := range r.hashes.done {
		first[k] = v
	}
	if len(first) != len(sampleRepo) {
		t.Fatalf("%d memos for %d files", len(first), len(sampleRepo))
	}
	later := time.Now().Add(time.Hour)
	cfg := filepath.Join(repo.Dir, "config.json")
	os.WriteFile(cfg, []byte(`{"model_type":"gpt2"}`), 0o644)
	os.Chtimes(cfg, later, later)
	if _, err := repo.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if len(r.hashes.done) != len(sampleRepo) {
		t.Errorf("%d memos after an edit, want %d (old entry replaced)", len(r.hashes.done), len(sampleRepo))
	}
	for k, v := range r.hashes.done {
		if changed := k == cfg; (v != first[k]) != changed {
			t.Errorf("%s: memo changed=%v, want %v", k, v != first[k], changed)
		}
	}
}

// TestDigestFileSurvivesRestart: a second Root on the same digest file
// takes digests from it instead of reading the files (proved by planting a
// record whose digests differ from the content, for an unchanged key).
func TestDigestFileSurvivesRestart(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "models", "org", "m"), map[string]string{"a.txt": "aaa", "b.safetensors": "bbb"})
	digests := filepath.Join(t.TempDir(), "cache", "digests.jsonl")
	r1, err := Open(root, WithDigestFile(digests))
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := r1.Repo("models", "org/m")
	s1, err := repo.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r1.Close()
	raw, _ := os.ReadFile(digests)
	if n := strings.Count(string(raw), "\n"); n != 2 {
		t.Fatalf("digest file has %d records, want 2:\n%s", n, raw)
	}
	// Replace the record of a.txt with a fake digest, plus a torn line.
	fakeBlob := strings.Repeat("f", 40)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if strings.Contains(l, "a.txt") {
			l = regexpBlob.ReplaceAllString(l, `"b":"`+fakeBlob+`"`)
		}
		lines = append(lines, l)
	}
	os.WriteFile(digests, []byte(strings.Join(lines, "\n")+"\n{\"p\":\"torn"), 0o644)

	r2, err := Open(root, WithDigestFile(digests), WithSnapshotTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	repo2, _ := r2.Repo("models", "org/m")
	s2, err := repo2.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := s2.File("a.txt"); f.BlobID != fakeBlob {
		t.Errorf("a.txt blob %s: the digest file was not used", f.BlobID)
	}
	if f1, _ := s1.File("b.safetensors"); func() bool { f2, _ := s2.File("b.safetensors"); return f2.LFS.SHA256 != f1.LFS.SHA256 }() {
		t.Errorf("b.safetensors digest differs after restart")
	}
	// Warm hashes every repository; an edited file gets a fresh digest.
	writeFiles(t, repo2.Dir, map[string]string{"a.txt": "changed"})
	if err := r2.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	s3, _ := repo2.Snapshot()
	if f, _ := s3.File("a.txt"); f.BlobID != GitBlobID([]byte("changed")) {
		t.Errorf("after edit, a.txt blob %s", f.BlobID)
	}
}

var regexpBlob = regexp.MustCompile(`"b":"[0-9a-f]{40}"`)

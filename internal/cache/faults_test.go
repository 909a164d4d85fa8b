package cache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
)

func mustDisk(t *testing.T) *disk.Disk {
	t.Helper()
	d, err := disk.Open(t.TempDir(), disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// putOnly hides the disk's Stager, as an object store would lack it, so
// the cache's own staging and Put path runs.
type putOnly struct{ store.Store }

// Every kind of bad upstream fails every reader and stores nothing, and
// the next request fetches again (failures other than refusals are not
// remembered).
func TestBadUpstreams(t *testing.T) {
	b := newBlob(7, 600_000)
	corrupt := bytes.Clone(b.data)
	corrupt[123_456] ^= 1
	cases := []struct {
		name string
		up   func() *fakeUpstream
		want error
	}{
		{"short", func() *fakeUpstream { return &fakeUpstream{body: b.data[:599_999]} }, ErrMismatch},
		{"long", func() *fakeUpstream { return &fakeUpstream{body: append(bytes.Clone(b.data), 'x')} }, ErrMismatch},
		{"corrupt", func() *fakeUpstream { return &fakeUpstream{body: corrupt} }, ErrMismatch},
		{"dies mid-way", func() *fakeUpstream { return &fakeUpstream{body: b.data, dieAt: 300_000} }, errDied},
		{"open fails", func() *fakeUpstream { return &fakeUpstream{openErr: errDied} }, errDied},
		{"stalls", func() *fakeUpstream { return &fakeUpstream{body: b.data, pauseAt: 200_000, pause: make(chan struct{})} }, ErrStalled},
	}
	for _, tc := range cases {
		for _, backend := range []string{"disk", "put-only"} {
			t.Run(tc.name+"/"+backend, func(t *testing.T) {
				var st store.Store = mustDisk(t)
				staging := t.TempDir()
				if backend == "put-only" {
					st = &putOnly{st}
				}
				idle := time.Minute // only the stall case may time out, however loaded the machine
				if tc.want == ErrStalled {
					idle = 300 * time.Millisecond
				}
				c := New(st, Options{IdleTimeout: idle, StagingDir: staging})
				defer c.Close()
				up := tc.up()
				var wg sync.WaitGroup
				errs := make([]error, 5)
				for i := range errs {
					wg.Go(func() {
						r, err := c.Open(t.Context(), b.d, int64(len(b.data)), up.source(), nil)
						if err != nil {
							errs[i] = err
							return
						}
						defer r.Close()
						data, err := readAll(r)
						if err == nil {
							err = fmt.Errorf("read %d bytes with no error", len(data))
						}
						errs[i] = err
					})
				}
				wg.Wait()
				for i, err := range errs {
					if !errors.Is(err, tc.want) {
						t.Fatalf("reader %d: %v, want %v", i, err, tc.want)
					}
				}
				waitIdle(t, c)
				if keys := storedKeys(t, st); len(keys) != 0 {
					t.Fatalf("a bad fill was stored: %v", keys)
				}
				assertNoStaging(t, st, staging)
				good := &fakeUpstream{body: b.data}
				r, err := c.Open(t.Context(), b.d, int64(len(b.data)), good.source(), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if data, err := readAll(r); err != nil || !bytes.Equal(data, b.data) {
					t.Fatalf("a good fetch after a bad one: %v", err)
				}
				if good.calls.Load() != 1 {
					t.Fatal("the failure was cached: no new fetch")
				}
			})
		}
	}
}

func assertNoStaging(t *testing.T, st store.Store, dirs ...string) {
	t.Helper()
	if d, ok := st.(*disk.Disk); ok {
		dirs = append(dirs, filepath.Join(d.Root(), "staging"))
	} else if p, ok := st.(*putOnly); ok {
		dirs = append(dirs, filepath.Join(p.Store.(*disk.Disk).Root(), "staging"))
	}
	for _, dir := range dirs {
		ents, _ := os.ReadDir(dir)
		if len(ents) != 0 {
			t.Fatalf("%d files left in %s", len(ents), dir)
		}
	}
}

// fullDisk wraps a disk store so that staging writes fail with ENOSPC
// after limit bytes (writeFull) or the commit does (commitFull).
type fullDisk struct {
	*disk.Disk
	limit      int64
	commitFull bool
}

type fullStaged struct {
	store.Staged
	d       *fullDisk
	written int64
}

func (f *fullDisk) Stage(ctx context.Context) (store.Staged, error) {
	s, err := f.Disk.Stage(ctx)
	if err != nil {
		return nil, err
	}
	return &fullStaged{Staged: s, d: f}, nil
}

func (s *fullStaged) Write(p []byte) (int, error) {
	if s.d.limit > 0 && s.written+int64(len(p)) > s.d.limit {
		return 0, &os.PathError{Op: "write", Path: "staging", Err: syscall.ENOSPC}
	}
	s.written += int64(len(p))
	return s.Staged.Write(p)
}

func (s *fullStaged) Commit(ctx context.Context, key string, size int64, sum string) error {
	if s.d.commitFull {
		return &os.PathError{Op: "fsync", Path: "staging", Err: syscall.ENOSPC}
	}
	return s.Staged.Commit(ctx, key, size, sum)
}

func TestDiskFullWhileStaging(t *testing.T) {
	fd := &fullDisk{Disk: mustDisk(t), limit: 100_000}
	old := newBlob(8, 5000)
	if err := fd.Put(t.Context(), old.d.Key(), bytes.NewReader(old.data), 5000, ""); err != nil {
		t.Fatal(err)
	}
	c := New(fd, Options{})
	defer c.Close()
	b := newBlob(9, 400_000)
	r, err := c.Open(t.Context(), b.d, 400_000, (&fakeUpstream{body: b.data}).source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAll(r)
	r.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("read during a full-disk fill = %v, want ENOSPC", err)
	}
	waitIdle(t, c)
	if keys := storedKeys(t, fd); len(keys) != 1 || keys[0] != old.d.Key() {
		t.Fatalf("store after a full disk: %v, want just the old blob", keys)
	}
	r, err = c.Open(t.Context(), old.d, 5000, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if data, err := readAll(r); err != nil || !bytes.Equal(data, old.data) {
		t.Fatalf("the old blob after a full disk: %v", err)
	}
	assertNoStaging(t, fd.Disk)
}

// A verified blob whose commit fails is still served (the bytes are right);
// only the caching is lost, and it is counted.
func TestDiskFullAtCommit(t *testing.T) {
	fd := &fullDisk{Disk: mustDisk(t), commitFull: true}
	c := New(fd, Options{})
	defer c.Close()
	b := newBlob(10, 300_000)
	up := &fakeUpstream{body: b.data}
	r, err := c.Open(t.Context(), b.d, 300_000, up.source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := readAll(r)
	r.Close()
	if err != nil || !bytes.Equal(data, b.data) {
		t.Fatalf("read with a failing commit: %v", err)
	}
	waitIdle(t, c)
	if keys := storedKeys(t, fd); len(keys) != 0 {
		t.Fatalf("store: %v, want nothing", keys)
	}
	if s := c.Stats(); s.CommitErrors != 1 || s.Commits != 0 {
		t.Fatalf("stats %+v, want one commit error", s)
	}
	assertNoStaging(t, fd.Disk)
}

// A second process opening the same folder while a fill is in progress
// (what a restart after a crash looks like) sees no half blob, cleans the
// staging file, and fills the blob itself; the first fill failing later
// changes nothing.
func TestRestartDuringFill(t *testing.T) {
	root := t.TempDir()
	st1, _ := disk.Open(root, disk.Options{})
	c1 := New(st1, Options{})
	b := newBlob(11, 500_000)
	up1 := &fakeUpstream{body: b.data, pauseAt: 250_000, pause: make(chan struct{})}
	r1, err := c1.Open(t.Context(), b.d, 500_000, up1.source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r1.ReadAt(make([]byte, 1000), 0); err != nil { // the fill is under way
		t.Fatal(err)
	}
	st2, err := disk.Open(root, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "staging")); len(ents) != 0 {
		t.Fatalf("restart left %d staging files", len(ents))
	}
	if keys := storedKeys(t, st2); len(keys) != 0 {
		t.Fatalf("half a blob is visible after restart: %v", keys)
	}
	c2 := New(st2, Options{})
	defer c2.Close()
	r2, err := c2.Open(t.Context(), b.d, 500_000, (&fakeUpstream{body: b.data}).source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := readAll(r2); err != nil || !bytes.Equal(data, b.data) {
		t.Fatalf("fill after restart: %v", err)
	}
	r2.Close()
	c1.Close() // the old process goes away mid-fill
	if _, err := readAll(r1); !errors.Is(err, ErrClosed) {
		t.Fatalf("reader of a fill stopped by Close = %v, want ErrClosed", err)
	}
	r1.Close()
	waitIdle(t, c2)
	st3, _ := disk.Open(root, disk.Options{})
	if keys := storedKeys(t, st3); len(keys) != 1 {
		t.Fatalf("store after both: %v", keys)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "staging")); len(ents) != 0 {
		t.Fatalf("%d staging files left", len(ents))
	}
}

const crashEnv = "SAFEHUB_CACHE_CRASH_ROOT"

// TestKilledDuringFill kills a real process (SIGKILL, no cleanup) in the
// middle of a fill, then opens its folder as the restarted gateway would.
func TestKilledDuringFill(t *testing.T) {
	if root := os.Getenv(crashEnv); root != "" {
		crashChild(root)
		return
	}
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledDuringFill$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "filling\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	ents, _ := os.ReadDir(filepath.Join(root, "staging"))
	if len(ents) != 1 {
		t.Fatalf("the killed process left %d staging files, want 1 (the test would prove nothing)", len(ents))
	}
	st, err := disk.Open(root, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "staging")); len(ents) != 0 {
		t.Fatalf("%d stale staging files after restart", len(ents))
	}
	if keys := storedKeys(t, st); len(keys) != 0 {
		t.Fatalf("half a blob visible after the crash: %v", keys)
	}
	c := New(st, Options{})
	defer c.Close()
	b := crashBlob()
	r, err := c.Open(t.Context(), b.d, int64(len(b.data)), (&fakeUpstream{body: b.data}).source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if data, err := readAll(r); err != nil || !bytes.Equal(data, b.data) {
		t.Fatalf("fill after the crash: %v", err)
	}
}

func crashBlob() blob { return newBlob(12, 2<<20) }

// crashChild starts a fill that stops half-way, says so, and waits to be killed.
func crashChild(root string) {
	st, err := disk.Open(root, disk.Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	c := New(st, Options{})
	b := crashBlob()
	up := &fakeUpstream{body: b.data, pauseAt: 1 << 20, pause: make(chan struct{})}
	r, err := c.Open(context.Background(), b.d, int64(len(b.data)), up.source(), nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	if _, err := r.ReadAt(make([]byte, 1<<20), 0); err != nil && err != io.EOF {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("filling")
	time.Sleep(time.Minute)
	os.Exit(3)
}

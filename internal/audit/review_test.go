package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/gateway"
)

// Rotation with maxFiles=3 keeps exactly path, path.1, path.2; every file
// stays within maxSize and every line is whole JSON.
func TestReviewRotationKeepsCountAndWholeLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	const maxSize = 4 << 10
	l, err := Open(path, maxSize, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		l.Observe(gateway.Event{Time: time.Now(), Route: "resolve", Repo: "org/model", File: strings.Repeat("f", i%50) + ".bin", Status: 200})
		if i%50 == 0 {
			time.Sleep(5 * time.Millisecond) // let the writer drain: no drops
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(RotatedName(path, 3)); err == nil {
		t.Errorf("%s exists: maxFiles=3 should keep path, .1 and .2 only", RotatedName(path, 3))
	}
	for _, p := range []string{path, RotatedName(path, 1), RotatedName(path, 2)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("missing %s: %v", p, err)
		}
		if st.Size() > maxSize {
			t.Errorf("%s is %d bytes, over maxSize %d", p, st.Size(), maxSize)
		}
		if st.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s mode %o: readable by others", p, st.Mode().Perm())
		}
		f, _ := os.Open(p)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Errorf("%s: broken line %q: %v", p, sc.Text(), err)
			}
		}
		f.Close()
	}
}

// The token never reaches the log: only the hash the gateway hands over.
func TestReviewNoTokenInLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	l.Observe(gateway.Event{Time: time.Now(), Route: "resolve", TokenHash: "abc123", Path: "/org/m/resolve/main/x?token=hf_SECRET", Status: 200})
	l.Close()
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "hf_SECRET") || !strings.Contains(string(b), "abc123") {
		t.Errorf("log line: %s", b)
	}
}

// A folder safehub may not write gives a clear error at Open (as root the
// permission bits do not stop us, so use a missing folder and a file in
// place of the folder).
func TestReviewUnwritableFolderErrorsAtOpen(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, nil, 0o644)
	for _, p := range []string{filepath.Join(dir, "missing", "a.jsonl"), filepath.Join(notDir, "a.jsonl")} {
		_, err := Open(p, 0, 0)
		if err == nil || !strings.Contains(err.Error(), "check that the folder exists") {
			t.Errorf("Open(%s): %v", p, err)
		}
	}
}

// An audit log path naming a FIFO must not hang start-up: Open checks the
// file is regular only after opening it, and opening a FIFO for writing
// blocks until a reader comes.
func TestReview_OpenOnFifoDoesNotHang(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		l, err := Open(path, 0, 0)
		if err == nil {
			l.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Open on a FIFO succeeded; want 'not a regular file'")
		}
	case <-time.After(2 * time.Second):
		t.Error("Open on a FIFO hangs (opened O_WRONLY before the regular-file check); open with O_NONBLOCK or Lstat first")
		// unblock the goroutine
		if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			time.Sleep(100 * time.Millisecond)
			f.Close()
		}
	}
}

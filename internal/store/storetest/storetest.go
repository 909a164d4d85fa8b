// Package storetest is the conformance suite every store backend passes.
// A backend's test is one line:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, func(t *testing.T) storetest.Opener { ... }) }
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/store"
)

// Opener opens the backend on one location. Calling it again opens the same
// location anew, as a restarted process would.
type Opener func(t *testing.T) store.Store

// Factory makes a fresh, empty location for one subtest.
type Factory func(t *testing.T) Opener

// Run runs every conformance test, each on a fresh location, and fails a
// test that leaves blobs behind it did not mean to keep.
func Run(t *testing.T, newLocation Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"PutGetStat", testPutGetStat},
		{"InvalidKeys", testInvalidKeys},
		{"SizeMismatch", testSizeMismatch},
		{"FailedReaderLeavesNothing", testFailedReader},
		{"PartialWriteInvisible", testPartialInvisible},
		{"ConcurrentPutsFirstWins", testConcurrentPuts},
		{"DeleteAndList", testDeleteAndList},
		{"UsageAndPrune", testUsagePrune},
		{"StagedCommit", testStaged},
		{"CrashLeavesNoBlob", testCrash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newLocation(t)) })
	}
}

// Blob is test content with its key.
type Blob struct {
	Data []byte
	Key  string
	Sum  string
}

// NewBlob makes deterministic content of n bytes from seed.
func NewBlob(seed string, n int) Blob {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*31) ^ seed[i%len(seed)]
	}
	s := sha256.Sum256(data)
	sum := hex.EncodeToString(s[:])
	return Blob{Data: data, Key: store.Digest{Algo: store.SHA256, Hex: sum}.Key(), Sum: sum}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustGet(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	rc, info, err := s.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	if info.Size != int64(len(b)) {
		t.Fatalf("Get(%s): Info.Size %d, read %d bytes", key, info.Size, len(b))
	}
	return b
}

func keys(t *testing.T, s store.Store, prefix string) []string {
	t.Helper()
	var out []string
	for info, err := range s.List(ctx(t), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		out = append(out, info.Key)
	}
	return out
}

func wantNotFound(t *testing.T, s store.Store, key string) {
	t.Helper()
	if _, err := s.Stat(ctx(t), key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Stat(%s) = %v, want ErrNotFound", key, err)
	}
	if rc, _, err := s.Get(ctx(t), key); !errors.Is(err, store.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Get(%s) = %v, want ErrNotFound", key, err)
	}
}

func wantEmpty(t *testing.T, s store.Store) {
	t.Helper()
	if ks := keys(t, s, ""); len(ks) != 0 {
		t.Fatalf("store holds %v, want nothing", ks)
	}
}

func testPutGetStat(t *testing.T, open Opener) {
	s := open(t)
	b := NewBlob("a", 300_000)
	if err := s.Put(ctx(t), b.Key, bytes.NewReader(b.Data), int64(len(b.Data)), b.Sum); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := mustGet(t, s, b.Key); !bytes.Equal(got, b.Data) {
		t.Fatal("Get returned different bytes than were Put")
	}
	info, err := s.Stat(ctx(t), b.Key)
	if err != nil || info.Size != int64(len(b.Data)) || info.Sum != b.Sum || info.Key != b.Key {
		t.Fatalf("Stat = %+v, %v; want size %d sum %s", info, err, len(b.Data), b.Sum)
	}
	if info.LastUsed.IsZero() {
		t.Fatal("Stat: LastUsed is zero")
	}
	empty := NewBlob("e", 0)
	if err := s.Put(ctx(t), empty.Key, bytes.NewReader(nil), 0, ""); err != nil {
		t.Fatalf("Put of an empty blob: %v", err)
	}
	if got := mustGet(t, s, empty.Key); len(got) != 0 {
		t.Fatalf("empty blob read back as %d bytes", len(got))
	}
	wantNotFound(t, s, NewBlob("missing", 10).Key)
	if err := s.Delete(ctx(t), NewBlob("missing", 10).Key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete(missing) = %v, want ErrNotFound", err)
	}
}

func testInvalidKeys(t *testing.T, open Opener) {
	s := open(t)
	b := NewBlob("k", 10)
	bad := []string{"", "blobs", "../etc/passwd", "blobs/sha256/" + b.Sum[:2] + "/../../x",
		strings.ToUpper(b.Key), "blobs/md5/ab/ab", "blobs/sha256/zz/" + b.Sum, "/" + b.Key, b.Key + "/", "blobs\\sha256"}
	for _, k := range bad {
		if err := s.Put(ctx(t), k, bytes.NewReader(b.Data), 10, ""); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Stat(ctx(t), k); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx(t), k); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if err := s.Put(ctx(t), b.Key, bytes.NewReader(b.Data), 10, NewBlob("other", 1).Sum); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Put with a sum that is not the key's = %v, want ErrInvalidKey", err)
	}
	for _, err := range s.List(ctx(t), "../") {
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("List(\"../\") = %v, want ErrInvalidKey", err)
		}
	}
	wantEmpty(t, s)
}

func testSizeMismatch(t *testing.T, open Opener) {
	s := open(t)
	b := NewBlob("s", 1000)
	for _, size := range []int64{999, 1001, 0} {
		err := s.Put(ctx(t), b.Key, bytes.NewReader(b.Data), size, b.Sum)
		if !errors.Is(err, store.ErrSizeMismatch) {
			t.Errorf("Put of 1000 bytes as size %d = %v, want ErrSizeMismatch", size, err)
		}
		wantNotFound(t, s, b.Key)
	}
	wantEmpty(t, s)
}

type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func testFailedReader(t *testing.T, open Opener) {
	s := open(t)
	b := NewBlob("f", 100_000)
	boom := errors.New("upstream died")
	err := s.Put(ctx(t), b.Key, &failingReader{data: b.Data[:50_000], err: boom}, int64(len(b.Data)), b.Sum)
	if !errors.Is(err, boom) {
		t.Fatalf("Put from a failing reader = %v, want the reader's error", err)
	}
	wantNotFound(t, s, b.Key)
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	if err := s.Put(c, b.Key, bytes.NewReader(b.Data), int64(len(b.Data)), b.Sum); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	wantEmpty(t, s)
	if err := s.Put(ctx(t), b.Key, bytes.NewReader(b.Data), int64(len(b.Data)), b.Sum); err != nil {
		t.Fatalf("Put after failed Puts: %v", err)
	}
}

// testPartialInvisible watches a Put that is half done: the key must not
// exist, in Stat, Get or List, until Put returns.
func testPartialInvisible(t *testing.T, open Opener) {
	s := open(t)
	b := NewBlob("p", 200_000)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.Put(ctx(t), b.Key, pr, int64(len(b.Data)), b.Sum) }()
	if _, err := pw.Write(b.Data[:150_000]); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, b.Key)
	wantEmpty(t, s)
	if _, err := pw.Write(b.Data[150_000:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Put: %v", err)
	}
	if !bytes.Equal(mustGet(t, s, b.Key), b.Data) {
		t.Fatal("bytes differ after a piped Put")
	}
}

func testConcurrentPuts(t *testing.T, open Opener) {
	s := open(t)
	b := NewBlob("c", 500_000)
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.Put(ctx(t), b.Key, bytes.NewReader(b.Data), int64(len(b.Data)), b.Sum) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrExists):
			t.Errorf("concurrent Put: %v, want nil or ErrExists", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d Puts succeeded, want exactly 1 (first writer wins)", wins)
	}
	if !bytes.Equal(mustGet(t, s, b.Key), b.Data) {
		t.Fatal("bytes differ after concurrent Puts")
	}
	if ks := keys(t, s, ""); !slices.Equal(ks, []string{b.Key}) {
		t.Fatalf("List = %v, want just %s", ks, b.Key)
	}
}

func testDeleteAndList(t *testing.T, open Opener) {
	s := open(t)
	var want []string
	for i := range 6 {
		b := NewBlob(fmt.Sprint("l", i), 1000+i)
		if err := s.Put(ctx(t), b.Key, bytes.NewReader(b.Data), int64(len(b.Data)), b.Sum); err != nil {
			t.Fatal(err)
		}
		want = append(want, b.Key)
	}
	slices.Sort(want)
	if got := keys(t, s, ""); !slices.Equal(got, want) {
		t.Fatalf("List(\"\") = %v, want %v (sorted)", got, want)
	}
	if got := keys(t, s, "blobs/sha1/"); len(got) != 0 {
		t.Fatalf("List(sha1) = %v, want nothing", got)
	}
	one := want[2]
	if got := keys(t, s, one[:len("blobs/sha256/")+2]); !slices.Contains(got, one) {
		t.Fatalf("List by fan-out prefix %q = %v, missing %s", one[:len("blobs/sha256/")+2], got, one)
	}
	if got := keys(t, s, one[:len(one)-3]); !slices.Equal(got, []string{one}) {
		t.Fatalf("List by a key's own prefix = %v, want [%s]", got, one)
	}
	// Stopping a List early must be allowed.
	for range s.List(ctx(t), "") {
		break
	}
	for _, k := range want {
		if err := s.Delete(ctx(t), k); err != nil {
			t.Fatalf("Delete(%s): %v", k, err)
		}
		wantNotFound(t, s, k)
	}
	wantEmpty(t, s)
}

func testUsagePrune(t *testing.T, open Opener) {
	s := open(t)
	var blobs []Blob
	for i := range 4 {
		if i > 0 {
			time.Sleep(20 * time.Millisecond) // distinct LastUsed even on coarse clocks
		}
		b := NewBlob(fmt.Sprint("u", i), 10_000)
		if err := s.Put(ctx(t), b.Key, bytes.NewReader(b.Data), 10_000, b.Sum); err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	if u, err := store.Usage(ctx(t), s); err != nil || u != 40_000 {
		t.Fatalf("Usage = %d, %v; want 40000", u, err)
	}
	removed, err := store.Prune(ctx(t), s, 25_000)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	var got []string
	for _, r := range removed {
		got = append(got, r.Key)
	}
	if want := []string{blobs[0].Key, blobs[1].Key}; !slices.Equal(got, want) {
		t.Fatalf("Prune removed %v, want the two least recently used %v", got, want)
	}
	if u, err := store.Usage(ctx(t), s); err != nil || u != 20_000 {
		t.Fatalf("Usage after Prune = %d, %v; want 20000", u, err)
	}
	if removed, err := store.Prune(ctx(t), s, 1<<40); err != nil || len(removed) != 0 {
		t.Fatalf("Prune under the limit removed %d, %v", len(removed), err)
	}
	if _, err := store.Prune(ctx(t), s, -1); err == nil {
		t.Fatal("Prune with a negative limit succeeded")
	}
}

func testStaged(t *testing.T, open Opener) {
	s := open(t)
	stager, ok := s.(store.Stager)
	if !ok {
		return // optional capability; the cache falls back to Put
	}
	b := NewBlob("st", 100_000)
	st, err := stager.Stage(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write(b.Data[:60_000]); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1000)
	if _, err := st.ReadAt(got, 59_000); err != nil || !bytes.Equal(got, b.Data[59_000:60_000]) {
		t.Fatalf("ReadAt of staged bytes: %v", err)
	}
	wantEmpty(t, s)
	if err := st.Commit(ctx(t), b.Key, int64(len(b.Data)), b.Sum); !errors.Is(err, store.ErrSizeMismatch) {
		t.Fatalf("Commit of a short staging file = %v, want ErrSizeMismatch", err)
	}
	if _, err := st.Write(b.Data[60_000:]); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx(t), b.Key, int64(len(b.Data)), b.Sum); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := st.ReadAt(got, 99_000); err != nil || !bytes.Equal(got, b.Data[99_000:]) {
		t.Fatalf("ReadAt after Commit: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close after Commit: %v", err)
	}
	if !bytes.Equal(mustGet(t, s, b.Key), b.Data) {
		t.Fatal("committed bytes differ")
	}
	st2, err := stager.Stage(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	st2.Write(b.Data)
	if err := st2.Commit(ctx(t), b.Key, int64(len(b.Data)), b.Sum); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Commit of a key = %v, want ErrExists", err)
	}
	st2.Close()
	st3, err := stager.Stage(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	st3.Write(b.Data[:10])
	st3.Close() // abandoned: must leave nothing
	if ks := keys(t, s, ""); !slices.Equal(ks, []string{b.Key}) {
		t.Fatalf("after an abandoned stage, List = %v", ks)
	}
}

// testCrash abandons a staged write without Commit or Close, as a killed
// process would, and reopens the location.
func testCrash(t *testing.T, open Opener) {
	s := open(t)
	b := NewBlob("crash", 80_000)
	if stager, ok := s.(store.Stager); ok {
		st, err := stager.Stage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		st.Write(b.Data[:40_000]) // never committed, never closed
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.Put(ctx(t), b.Key, pr, int64(len(b.Data)), b.Sum) }()
	pw.Write(b.Data[:30_000])
	s2 := open(t) // the restarted process
	wantNotFound(t, s2, b.Key)
	wantEmpty(t, s2)
	if err := s2.Put(ctx(t), b.Key, bytes.NewReader(b.Data), int64(len(b.Data)), b.Sum); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	pw.CloseWithError(errors.New("killed"))
	if err := <-done; err == nil {
		t.Fatal("the interrupted Put reported success")
	}
	if !bytes.Equal(mustGet(t, s2, b.Key), b.Data) {
		t.Fatal("bytes differ after restart")
	}
}

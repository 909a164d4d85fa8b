package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/store"
)

func TestFiftyReadersOneFetch(t *testing.T) {
	c, st := newCache(t, Options{})
	b := newBlob(1, 4<<20+123)
	// The upstream pauses half-way until every reader has opened, so all
	// fifty really join one cold fill, then trickles the rest.
	up := &fakeUpstream{body: b.data, chunk: 64 << 10, delay: time.Millisecond, pauseAt: 2 << 20, pause: make(chan struct{})}
	const readers = 50
	got := make([][]byte, readers)
	errs := make([]error, readers)
	var opened, wg sync.WaitGroup
	opened.Add(readers)
	for i := range readers {
		wg.Go(func() {
			r, err := c.Open(t.Context(), b.d, int64(len(b.data)), up.source(), nil)
			opened.Done()
			if err != nil {
				errs[i] = err
				return
			}
			defer r.Close()
			if r.FromStore() {
				errs[i] = errors.New("served from the store before the fill finished")
			}
			got[i], errs[i] = readAll(r)
		})
	}
	opened.Wait()
	close(up.pause)
	wg.Wait()
	for i := range readers {
		if errs[i] != nil || !bytes.Equal(got[i], b.data) {
			t.Fatalf("reader %d: err %v, %d bytes, equal %v", i, errs[i], len(got[i]), bytes.Equal(got[i], b.data))
		}
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("%d upstream fetches for %d concurrent readers, want 1", n, readers)
	}
	waitIdle(t, c)
	if keys := storedKeys(t, st); !slices.Equal(keys, []string{b.d.Key()}) {
		t.Fatalf("store holds %v, want the blob", keys)
	}
	r, err := c.Open(t.Context(), b.d, int64(len(b.data)), up.source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if data, err := readAll(r); err != nil || !bytes.Equal(data, b.data) || !r.FromStore() || r.File() == nil {
		t.Fatalf("second read: err %v, from store %v", err, r.FromStore())
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("a cached blob was fetched again (%d calls)", n)
	}
	if s := c.Stats(); s.Fills != 1 || s.Commits != 1 || s.Hits != 1 || s.Failures != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A client that hangs up does not stop the fill it started.
func TestCancelledReaderDoesNotStopFill(t *testing.T) {
	c, st := newCache(t, Options{})
	b := newBlob(2, 1<<20)
	up := &fakeUpstream{body: b.data, pauseAt: 300_000, pause: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	r, err := c.Open(ctx, b.d, int64(len(b.data)), up.source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100_000)
	if _, err := r.ReadAt(buf, 0); err != nil {
		t.Fatalf("reading the first bytes during the fill: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := r.ReadAt(buf, 500_000); done <- err }() // blocks: not there yet
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked read after cancel = %v, want context.Canceled", err)
	}
	r.Close()
	close(up.pause)
	waitIdle(t, c)
	if _, err := st.Stat(t.Context(), b.d.Key()); err != nil {
		t.Fatalf("the fill did not finish after its client left: %v", err)
	}
	if up.calls.Load() != 1 {
		t.Fatalf("%d fetches", up.calls.Load())
	}
}

// Ranges are served from a fill in progress as soon as their bytes arrive;
// the blob's last byte only once the blob is verified.
func TestRangeReadsDuringFill(t *testing.T) {
	c, _ := newCache(t, Options{})
	b := newBlob(3, 1<<20)
	size := int64(len(b.data))
	up := &fakeUpstream{body: b.data, pauseAt: len(b.data) - 10, pause: make(chan struct{})}
	r, err := c.Open(t.Context(), b.d, size, up.source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mid := make([]byte, 4096)
	if _, err := r.ReadAt(mid, 700_000); err != nil || !bytes.Equal(mid, b.data[700_000:704_096]) {
		t.Fatalf("range inside the staged part: %v", err)
	}
	tail := make([]byte, 100)
	got := make(chan error, 1)
	go func() { _, err := r.ReadAt(tail, size-100); got <- err }()
	select {
	case err := <-got:
		t.Fatalf("the last bytes were released before the fill finished (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	if err := r.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait during the fill = %v, want its context's deadline", err)
	}
	cancel()
	close(up.pause)
	if err := <-got; err != nil || !bytes.Equal(tail, b.data[size-100:]) {
		t.Fatalf("tail read after the fill: %v", err)
	}
	if err := r.Wait(t.Context()); err != nil {
		t.Fatalf("Wait after a good fill: %v", err)
	}
	// Past the end and straddling the end, as io.ReaderAt defines them.
	if n, err := r.ReadAt(tail, size); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt(size) = %d, %v; want 0, EOF", n, err)
	}
	if n, err := r.ReadAt(tail, size-40); n != 40 || err != io.EOF {
		t.Fatalf("ReadAt straddling the end = %d, %v; want 40, EOF", n, err)
	}
}

func TestCheckRefusalIsRememberedAndNotStored(t *testing.T) {
	c, st := newCache(t, Options{})
	b := newBlob(4, 200_000)
	up := &fakeUpstream{body: b.data}
	var checked []byte
	check := func(ctx context.Context, ra io.ReaderAt, size int64) error {
		checked = make([]byte, size)
		if _, err := ra.ReadAt(checked, 0); err != nil && err != io.EOF {
			return err
		}
		return errors.Join(ErrRefused, errors.New("pickle imports os.system"))
	}
	r, err := c.Open(t.Context(), b.d, int64(len(b.data)), up.source(), check)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(r); !errors.Is(err, ErrRefused) {
		t.Fatalf("reading a refused blob = %v, want ErrRefused", err)
	}
	r.Close()
	if !bytes.Equal(checked, b.data) {
		t.Fatal("the check did not see the verified bytes")
	}
	waitIdle(t, c)
	if _, err := c.Open(t.Context(), b.d, int64(len(b.data)), up.source(), check); !errors.Is(err, ErrRefused) {
		t.Fatalf("second Open of a refused blob = %v, want ErrRefused at once", err)
	}
	if up.calls.Load() != 1 {
		t.Fatalf("a refused blob was fetched %d times", up.calls.Load())
	}
	if keys := storedKeys(t, st); len(keys) != 0 {
		t.Fatalf("a refused blob was stored: %v", keys)
	}
}

// A check that fails (here: panics) without refusing is not remembered: the next Open tries again.
func TestCheckErrorIsNotRemembered(t *testing.T) {
	c, _ := newCache(t, Options{})
	b := newBlob(5, 1000)
	up := &fakeUpstream{body: b.data}
	fail := func(context.Context, io.ReaderAt, int64) error { panic("scanner bug") }
	r, _ := c.Open(t.Context(), b.d, 1000, up.source(), fail)
	if _, err := readAll(r); err == nil || errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "scanner bug") {
		t.Fatalf("read with a panicking check = %v, want a failed fill naming the panic", err)
	}
	r.Close()
	waitIdle(t, c)
	r, err := c.Open(t.Context(), b.d, 1000, up.source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if data, err := readAll(r); err != nil || !bytes.Equal(data, b.data) {
		t.Fatalf("retry after a check error: %v", err)
	}
}

func TestGitBlobDigestAndEmptyBlob(t *testing.T) {
	c, st := newCache(t, Options{})
	d, _ := store.ParseDigest("ce013625030ba8dba906f756967f9e9ca394464a") // git hash-object of "hello\n"
	up := &fakeUpstream{body: []byte("hello\n")}
	r, err := c.Open(t.Context(), d, 6, up.source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := readAll(r); err != nil || string(data) != "hello\n" {
		t.Fatalf("git blob: %q, %v", data, err)
	}
	r.Close()
	empty := newBlob(0, 0)
	r, err = c.Open(t.Context(), empty.d, 0, (&fakeUpstream{body: nil}).source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := readAll(r); err != nil || len(data) != 0 {
		t.Fatalf("empty blob: %d bytes, %v", len(data), err)
	}
	r.Close()
	waitIdle(t, c)
	if keys := storedKeys(t, st); len(keys) != 2 {
		t.Fatalf("store holds %v, want the git blob and the empty blob", keys)
	}
}

// An empty blob whose upstream sends bytes must fail, not read as empty.
func TestEmptyBlobWithBytesFails(t *testing.T) {
	c, _ := newCache(t, Options{})
	empty := newBlob(0, 0)
	r, err := c.Open(t.Context(), empty.d, 0, (&fakeUpstream{body: []byte("x")}).source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := readAll(r); !errors.Is(err, ErrMismatch) {
		t.Fatalf("empty blob with a 1-byte body = %v, want ErrMismatch", err)
	}
}

func TestEvictionKeepsUnderCap(t *testing.T) {
	c, st := newCache(t, Options{MaxBytes: 250_000})
	var blobs []blob
	for i := range 4 {
		b := newBlob(byte(10+i), 100_000)
		blobs = append(blobs, b)
		r, err := c.Open(t.Context(), b.d, 100_000, (&fakeUpstream{body: b.data}).source(), nil)
		if err != nil {
			t.Fatal(err)
		}
		readAll(r)
		r.Close()
		waitIdle(t, c)
		time.Sleep(20 * time.Millisecond) // distinct mtimes
	}
	u, _ := store.Usage(t.Context(), st)
	if u > 250_000 {
		t.Fatalf("usage %d over the 250000 cap", u)
	}
	keys := storedKeys(t, st)
	if len(keys) != 2 || !slices.Contains(keys, blobs[3].d.Key()) || !slices.Contains(keys, blobs[2].d.Key()) {
		t.Fatalf("store holds %v, want the two newest blobs", keys)
	}
}

func TestBadDigestAndSize(t *testing.T) {
	c, _ := newCache(t, Options{})
	if _, err := c.Open(t.Context(), store.Digest{Algo: "md5", Hex: "00"}, 1, nil, nil); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("bad digest = %v", err)
	}
	if _, err := c.Open(t.Context(), newBlob(1, 1).d, -1, nil, nil); err == nil {
		t.Fatal("negative size accepted")
	}
	if _, err := c.Open(t.Context(), newBlob(1, 1).d, 1, nil, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cache-only Open of a missing blob = %v, want ErrNotFound", err)
	}
	b := newBlob(2, 100_000)
	up := &fakeUpstream{body: b.data, pauseAt: 50_000, pause: make(chan struct{})}
	r, err := c.Open(t.Context(), b.d, 100_000, up.source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := c.Open(t.Context(), b.d, 99_999, up.source(), nil); !errors.Is(err, ErrMismatch) {
		t.Fatalf("joining a fill with another size = %v, want ErrMismatch", err)
	}
	r2, err := c.Open(t.Context(), b.d, 100_000, nil, nil) // cache-only joins a fill in progress
	if err != nil {
		t.Fatalf("cache-only Open during a fill: %v", err)
	}
	r2.Close()
	close(up.pause)
}

// Stale fallback staging files from a crash are removed when a Cache is
// created on a folder it owns.
func TestStagingDirCleanedAtNew(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "safehub-fill-123.part")
	os.WriteFile(stale, []byte("half"), 0o600)
	other := filepath.Join(dir, "keep.txt")
	os.WriteFile(other, []byte("not ours"), 0o600)
	st := &putOnly{Store: mustDisk(t)}
	c := New(st, Options{StagingDir: dir})
	defer c.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale staging file survived: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("a foreign file was removed: %v", err)
	}
}

// Every byte but the last is served as soon as it is staged; the last one
// waits for the digest and the check, so a refusal (or mismatch) found at
// the end still turns the response into an error, never a complete file.
func TestLastByteWaitsForVerdict(t *testing.T) {
	c, _ := newCache(t, Options{})
	b := newBlob(6, 300_000)
	size := int64(len(b.data))
	checking, verdict := make(chan struct{}), make(chan error)
	check := func(ctx context.Context, _ io.ReaderAt, _ int64) error {
		close(checking)
		select {
		case err := <-verdict:
			return err
		case <-ctx.Done(): // Close at the end of a failed test
			return ctx.Err()
		}
	}
	r, err := c.Open(t.Context(), b.d, size, (&fakeUpstream{body: b.data}).source(), check)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	<-checking // every byte is staged and verified now
	head := make([]byte, size-1)
	if _, err := r.ReadAt(head, 0); err != nil || !bytes.Equal(head, b.data[:size-1]) {
		t.Fatalf("all but the last byte: %v", err)
	}
	got := make(chan error, 1)
	go func() { _, err := r.ReadAt(make([]byte, 1), size-1); got <- err }()
	select {
	case err := <-got:
		t.Fatalf("the last byte was released before the verdict (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	verdict <- errors.Join(ErrRefused, errors.New("unsafe"))
	if err := <-got; !errors.Is(err, ErrRefused) {
		t.Fatalf("last byte after a refusal = %v, want ErrRefused", err)
	}
}

func TestWriteRangeAndAvailable(t *testing.T) {
	c, _ := newCache(t, Options{})
	b := newBlob(40, 700_000)
	size := int64(len(b.data))
	up := &fakeUpstream{body: b.data, pauseAt: 400_000, pause: make(chan struct{})}
	r, err := c.Open(t.Context(), b.d, size, up.source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	if n, err := WriteRange(&buf, r, 1000, 300_000); err != nil || n != 300_000 || !bytes.Equal(buf.Bytes(), b.data[1000:301_000]) {
		t.Fatalf("WriteRange inside the staged part: %d, %v", n, err)
	}
	// The fill runs on to the pause point at 400000 and must stop there.
	for deadline := time.Now().Add(5 * time.Second); r.Available() < 400_000 && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if a := r.Available(); a != 400_000 {
		t.Fatalf("Available during the fill = %d, want 400000", a)
	}
	close(up.pause)
	buf.Reset()
	if n, err := WriteRange(&buf, r, 0, size); err != nil || n != size || !bytes.Equal(buf.Bytes(), b.data) {
		t.Fatalf("WriteRange of the whole blob: %d, %v", n, err)
	}
	if a := r.Available(); a != size {
		t.Fatalf("Available after the fill = %d, want %d", a, size)
	}
	if _, err := WriteRange(&buf, r, size-10, 11); err == nil {
		t.Fatal("WriteRange past the end succeeded")
	}
	corrupt := newBlob(41, 200_000)
	bad := bytes.Clone(corrupt.data)
	bad[len(bad)-1] ^= 1
	r2, err := c.Open(t.Context(), corrupt.d, 200_000, (&fakeUpstream{body: bad}).source(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	buf.Reset()
	n, err := WriteRange(&buf, r2, 0, 200_000)
	if !errors.Is(err, ErrMismatch) || n >= 200_000 {
		t.Fatalf("WriteRange of a corrupt fill wrote %d bytes, err %v; want fewer than all and ErrMismatch", n, err)
	}
}

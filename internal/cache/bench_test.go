package cache

import (
	"runtime"
	"testing"
	"time"
)

const benchSize = 64 << 20

// BenchmarkReadFromStore reads a stored blob through the Reader (what a
// cache hit costs, above the disk itself).
func BenchmarkReadFromStore(b *testing.B) {
	c, _ := newCache(b, Options{})
	bl := newBlob(20, benchSize)
	r, err := c.Open(b.Context(), bl.d, benchSize, (&fakeUpstream{body: bl.data, chunk: 1 << 20}).source(), nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := readAll(r); err != nil {
		b.Fatal(err)
	}
	r.Close()
	waitIdle(b, c) // committed
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		r, err := c.Open(b.Context(), bl.d, benchSize, nil, nil)
		if err != nil || !r.FromStore() {
			b.Fatalf("not a hit: %v", err)
		}
		if _, err := readAll(r); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// BenchmarkReadDuringFill reads a cold blob while it fills from an
// in-memory upstream: staging write, sha256, commit (fsync) and the
// reader following the staging file.
func BenchmarkReadDuringFill(b *testing.B) {
	bl := newBlob(21, benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		b.StopTimer()
		c, _ := newCache(b, Options{})
		b.StartTimer()
		r, err := c.Open(b.Context(), bl.d, benchSize, (&fakeUpstream{body: bl.data, chunk: 1 << 20}).source(), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := readAll(r); err != nil {
			b.Fatal(err)
		}
		r.Close()
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
}

// Close ends fills and leaves no goroutine behind.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	c, _ := newCache(t, Options{})
	for i := range 5 {
		bl := newBlob(byte(30+i), 100_000)
		up := &fakeUpstream{body: bl.data, pauseAt: 50_000, pause: make(chan struct{})}
		r, err := c.Open(t.Context(), bl.d, 100_000, up.source(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	if _, err := c.Open(t.Context(), newBlob(1, 10).d, 10, nil, nil); err != ErrClosed {
		t.Fatalf("Open after Close = %v, want ErrClosed", err)
	}
}

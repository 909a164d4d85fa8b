package upstream

// The idle reader is what cuts a CDN that stalls mid-file (hubsim's "stall"
// fault). IdleTimeout is 30 s, too long for a unit test, so these tests
// build the reader with a short timeout over a real HTTP connection.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// stallingServer sends half of its body, then waits for release or the
// client to go away.
func stallingServer(t *testing.T, gap time.Duration, chunks int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		rc := http.NewResponseController(w)
		for i := 0; i < chunks; i++ {
			w.Write(make([]byte, 1000/chunks))
			rc.Flush()
			select {
			case <-time.After(gap):
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func idleGet(t *testing.T, url string, timeout time.Duration) (int, error, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	body := newIdleReader(resp.Body, timeout, cancel)
	defer body.Close()
	start := time.Now()
	b, err := io.ReadAll(body)
	return len(b), err, time.Since(start)
}

func TestIdleReaderCutsAStall(t *testing.T) {
	srv := stallingServer(t, time.Hour, 2) // half, then an hour of silence
	n, err, took := idleGet(t, srv.URL, 200*time.Millisecond)
	if err == nil {
		t.Fatalf("a stalled body ended cleanly after %d bytes", n)
	}
	if n >= 1000 {
		t.Errorf("read %d bytes of a body that stalled at 500", n)
	}
	if took > 5*time.Second {
		t.Errorf("a 200 ms idle timeout cut the stall only after %v", took)
	}
}

func TestIdleReaderLetsSteadySlowTransfersFinish(t *testing.T) {
	// Ten gaps of 60 ms: the whole transfer takes far longer than the
	// 250 ms idle timeout, but no single gap does.
	srv := stallingServer(t, 60*time.Millisecond, 10)
	n, err, _ := idleGet(t, srv.URL, 250*time.Millisecond)
	if err != nil || n != 1000 {
		t.Fatalf("steady transfer: %d bytes, %v", n, err)
	}
}

func TestIdleReaderCloseCancelsOnceAndStopsTimer(t *testing.T) {
	cancels := 0
	r := newIdleReader(io.NopCloser(nil), 50*time.Millisecond, func() { cancels++ })
	r.Close()
	r.Close()
	time.Sleep(150 * time.Millisecond) // a live timer would cancel again
	if cancels != 1 {
		t.Errorf("cancel ran %d times, want once", cancels)
	}
}

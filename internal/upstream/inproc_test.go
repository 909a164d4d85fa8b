package upstream

// HandlerTransport serves the local mirror in process. It must behave like
// a network transport where it matters to the gateway: stream rather than
// buffer, end a broken handler's body with an error, honour the request's
// context, and answer HEAD without a body.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func roundTrip(t *testing.T, h http.Handler, method string, ctx context.Context) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://mirror.invalid/org/m/resolve/main/f", nil)
	if err != nil {
		t.Fatal(err)
	}
	return HandlerTransport(h).RoundTrip(req)
}

func TestHandlerTransportStreams(t *testing.T) {
	second := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Repo-Commit", "c1")
		w.Header().Set("Content-Length", "10")
		w.Write([]byte("first"))
		<-second // the client must have the first part before this is released
		w.Write([]byte("-last"))
	})
	resp, err := roundTrip(t, h, "GET", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 10 || resp.Header.Get("X-Repo-Commit") != "c1" {
		t.Fatalf("status %d, length %d, header %v", resp.StatusCode, resp.ContentLength, resp.Header)
	}
	buf := make([]byte, 5)
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(resp.Body, buf); done <- err }()
	select {
	case err := <-done:
		if err != nil || string(buf) != "first" {
			t.Fatalf("first part: %q %v", buf, err)
		}
	case <-time.After(5 * time.Second):
		close(second)
		t.Fatal("the first part was not readable before the handler finished: the transport buffers")
	}
	close(second)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "-last" {
		t.Fatalf("rest: %q %v", rest, err)
	}
}

func TestHandlerTransportHeadHasNoBodyAndKeepsLength(t *testing.T) {
	wrote := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Header().Set("ETag", `"abc"`)
		w.WriteHeader(200)
		// A handler that ignores HEAD and writes anyway must not block.
		_, err := w.Write(make([]byte, 1<<20))
		wrote <- err
	})
	resp, err := roundTrip(t, h, "HEAD", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != 1000000 || resp.Header.Get("ETag") != `"abc"` {
		t.Errorf("HEAD: length %d, header %v", resp.ContentLength, resp.Header)
	}
	if b, _ := io.ReadAll(resp.Body); len(b) != 0 {
		t.Errorf("HEAD body of %d bytes", len(b))
	}
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("a handler writing a body to HEAD blocked forever")
	}
}

func TestHandlerTransportPanicAfterHeadersIsABodyError(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		panic("disk gone")
	})
	resp, err := roundTrip(t, h, "GET", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("body %q ended with %v, want the handler panic as an error", b, err)
	}
}

func TestHandlerTransportPassesRequestBodyAndStatus(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.WriteHeader(404)
		w.Write(b)
	})
	req, _ := http.NewRequest("POST", "http://mirror.invalid/api/models/org/m/paths-info/main", strings.NewReader("paths=a&paths=b"))
	resp, err := HandlerTransport(h).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 404 || string(b) != "paths=a&paths=b" || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
		t.Errorf("status %d body %q header %v", resp.StatusCode, b, resp.Header)
	}
}

// Regression (found in review, fixed): a handler that panics before writing headers yields a 200 (the
// deferred WriteHeader(200) runs after recover). A network transport gives
// an error there; the gateway then reads a 200 without metadata.
func TestRegression_HandlerTransportPanicBeforeHeadersIs200(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("bad mirror folder") })
	resp, err := roundTrip(t, h, "GET", context.Background())
	if err != nil {
		return // an error is right
	}
	defer resp.Body.Close()
	if resp.StatusCode < 500 {
		t.Errorf("a panicking handler answered %d; want an error or a 5xx", resp.StatusCode)
	}
}

// Regression (found in review, fixed): RoundTrip waits for the handler's first write without watching the
// request context, so a stuck mirror (slow disk, first hashing of a large
// folder) hangs ResolveMeta past HeaderTimeout: http.Client leaves
// cancellation to the transport.
func TestRegression_HandlerTransportIgnoresContextBeforeHeaders(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://mirror.invalid/org/m/resolve/main/f", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := HandlerTransport(h).RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("RoundTrip succeeded after its context ended")
		}
	case <-time.After(3 * time.Second):
		t.Error("RoundTrip still waiting 3 s after its context ended")
	}
}

// Regression (found in review, fixed): the idle reader cancels the request context, but the in-process
// body is an io.Pipe that does not watch that context, so a handler stuck
// mid-body (and not watching ctx itself) is never cut: the download hangs.
func TestRegression_IdleTimeoutCannotCutStuckInProcessBody(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		w.Write([]byte("half-"))
		<-release
	})
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := roundTrip(t, h, "GET", ctx)
	if err != nil {
		t.Fatal(err)
	}
	body := newIdleReader(resp.Body, 100*time.Millisecond, cancel)
	defer body.Close()
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(body); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a stalled body ended without an error")
		}
	case <-time.After(3 * time.Second):
		t.Error("a body stalled for 3 s was not cut by a 100 ms idle timeout")
	}
}

// Regression (minor) (found in review, fixed): a handler that sends fewer bytes than its Content-Length ends
// with a clean io.EOF; net/http reports io.ErrUnexpectedEOF. Today every
// caller counts bytes itself, so nothing is served short, but any future
// io.ReadAll user would take a short file for a whole one.
func TestRegression_HandlerTransportShortBodyEndsCleanly(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		w.Write([]byte("short"))
	})
	resp, err := roundTrip(t, h, "GET", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("5 of 10 announced bytes ended with %v (body %q), want io.ErrUnexpectedEOF", err, b)
	}
}

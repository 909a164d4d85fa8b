package upstream

// The upstream client's promises: the user's token goes to the configured
// upstream only, redirects are followed on the gateway's side with bounded
// hops, metadata comes from the right answer, and errors are clear without
// leaking presigned URLs or unrelated headers.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safehub/safehub/internal/hubapi"
)

// recorder is an httptest server that remembers each request's path,
// Authorization and Accept-Encoding, and answers with handle.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenReq
}

type seenReq struct{ method, path, auth, encoding, ua string }

func newRecorder(t *testing.T, handle http.HandlerFunc) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, seenReq{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Accept-Encoding"), r.Header.Get("User-Agent")})
		rec.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []seenReq {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenReq(nil), r.seen...)
}

func newClient(t *testing.T, base string) *Client {
	t.Helper()
	c, err := New(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const sha = "0123456789abcdef0123456789abcdef01234567"

func TestNewRejectsNonHTTPUpstreams(t *testing.T) {
	for _, base := range []string{"", "ftp://h", "file:///srv/models", "huggingface.co", "http://", "javascript:alert(1)"} {
		if _, err := New(base, nil); err == nil {
			t.Errorf("New(%q) accepted", base)
		}
	}
}

func TestResolveMetaFollowsLFSRedirectWithoutTokenOnCDN(t *testing.T) {
	cdn := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		w.Write([]byte("abc"))
	})
	sum := strings.Repeat("ab", 32)
	hub := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/org/old/"): // renamed repo: relative 307
			w.Header().Set("Location", strings.Replace(r.URL.Path, "/org/old/", "/org/m/", 1))
			w.WriteHeader(307)
		default: // LFS: 302 to the CDN with the metadata on the redirect
			w.Header().Set("Location", cdn.URL+"/blob/"+sum+"?X-Amz-Signature=s")
			w.Header().Set("X-Repo-Commit", sha)
			w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
			w.Header().Set("X-Linked-Size", "3")
			w.Header().Set("ETag", `"`+sum+`"`)
			w.WriteHeader(302)
		}
	})
	c := newClient(t, hub.URL)
	m, err := c.ResolveMeta(context.Background(), hubapi.Model, "org/old", "refs/pr/1", "dir/w.safetensors", "Bearer hf_tok",
		http.Header{"User-Agent": {"huggingface_hub/1.29"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Commit != sha || m.LinkedETag != sum || m.Size != 3 || !m.IsLFS() || m.Digest() != sum {
		t.Fatalf("meta %+v", m)
	}
	hubReqs := hub.requests()
	if len(hubReqs) != 2 {
		t.Fatalf("hub saw %d requests, want the HEAD and its rename hop: %+v", len(hubReqs), hubReqs)
	}
	if hubReqs[0].path != "/org/old/resolve/refs%2Fpr%2F1/dir/w.safetensors" {
		t.Errorf("upstream path %q does not encode the revision like the client", hubReqs[0].path)
	}
	for _, r := range hubReqs {
		if r.auth != "Bearer hf_tok" || r.encoding != "identity" || !strings.HasSuffix(r.ua, "; safehub") {
			t.Errorf("hub request %+v: want the token, identity encoding and the client's UA plus safehub", r)
		}
	}
	if n := len(cdn.requests()); n != 0 {
		t.Errorf("metadata on the 302 suffices, yet the CDN saw %d requests", n)
	}
	resp, err := c.FetchBytes(context.Background(), m, "Bearer hf_tok", "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "abc" {
		t.Errorf("bytes %q", b)
	}
	for _, r := range cdn.requests() {
		if r.auth != "" {
			t.Errorf("the user's token reached the CDN: %+v", r)
		}
	}
}

func TestTokenStaysOnTheUpstreamAcrossRedirects(t *testing.T) {
	other := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Repo-Commit", sha)
		w.Header().Set("ETag", `"`+sha+`"`)
		w.Header().Set("Content-Length", "2")
		w.Write([]byte("{}"))
	})
	hub := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/back/") { // the other host sent us back: token allowed again
			w.Header().Set("X-Repo-Commit", sha)
			w.Header().Set("ETag", `"`+sha+`"`)
			w.Header().Set("Content-Length", "2")
			w.Write([]byte("{}"))
			return
		}
		w.Header().Set("Location", other.URL+"/elsewhere")
		w.WriteHeader(308)
	})
	c := newClient(t, hub.URL)
	m, err := c.ResolveMeta(context.Background(), hubapi.Model, "org/m", "main", "config.json", "Bearer hf_tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.FetchBytes(context.Background(), m, "Bearer hf_tok", "bytes=0-1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, r := range other.requests() {
		if r.auth != "" {
			t.Errorf("token sent to another host: %+v", r)
		}
	}
	if len(other.requests()) < 2 {
		t.Errorf("other host saw %d requests, want the HEAD and the GET", len(other.requests()))
	}
	// Same host name and port, but plain http instead of the https upstream:
	// not the configured upstream either.
	u, _ := url.Parse(hub.URL)
	c2 := newClient(t, "https://"+u.Host)
	if c2.sameHost(&url.URL{Scheme: "http", Host: u.Host}) {
		t.Error("an http URL counts as the https upstream")
	}
	if !c2.sameHost(&url.URL{Scheme: "HTTPS", Host: strings.ToUpper(u.Host)}) {
		t.Error("case differences make the upstream a stranger")
	}
}

func TestResolveMetaRedirectFaults(t *testing.T) {
	hub := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch path := r.URL.Path; {
		case strings.Contains(path, "loop"):
			w.Header().Set("Location", path)
			w.WriteHeader(307)
		case strings.Contains(path, "noloc"):
			w.WriteHeader(302)
		case strings.Contains(path, "scheme"):
			w.Header().Set("Location", "gopher://h/x")
			w.WriteHeader(302)
		case strings.Contains(path, "bare"): // a 200 without metadata
			w.Header().Set("Content-Length", "2")
		case strings.Contains(path, "gated"):
			w.Header().Set("X-Error-Code", "GatedRepo")
			w.Header().Set("X-Error-Message", "Access restricted")
			w.Header().Set("Location", "https://cdn.example/leak")
			w.Header().Set("X-Xet-Hash", "h")
			w.Header().Set("Set-Cookie", "s=1")
			w.WriteHeader(401)
			w.Write([]byte(strings.Repeat("x", MaxErrorBody*2)))
		}
	})
	c := newClient(t, hub.URL)
	for _, f := range []string{"loop", "noloc", "scheme", "bare"} {
		_, err := c.ResolveMeta(context.Background(), hubapi.Model, "org/m", "main", f, "", nil)
		ue, ok := err.(*Error)
		if !ok || ue.Status != http.StatusBadGateway || ue.Msg == "" || ue.Header != nil {
			t.Errorf("%s: %#v, want a 502 *Error with a message", f, err)
		}
	}
	loops := 0
	for _, r := range hub.requests() {
		if strings.Contains(r.path, "loop") {
			loops++
		}
	}
	if loops > MaxRedirects+1 {
		t.Errorf("a redirect loop cost %d requests", loops)
	}
	_, err := c.ResolveMeta(context.Background(), hubapi.Model, "org/m", "main", "gated", "", nil)
	ue, ok := err.(*Error)
	if !ok || ue.Status != 401 || ue.Header.Get("X-Error-Code") != "GatedRepo" || ue.Header.Get("X-Error-Message") != "Access restricted" {
		t.Fatalf("gated: %#v", err)
	}
	for _, k := range []string{"Location", "X-Xet-Hash", "Set-Cookie"} {
		if ue.Header.Get(k) != "" {
			t.Errorf("error relays %s", k)
		}
	}
	if len(ue.Body) > MaxErrorBody {
		t.Errorf("error body of %d bytes kept", len(ue.Body))
	}
}

func TestTransportErrorsAreClearAndHideURLs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, "http://"+addr)
	cdn, _ := url.Parse("http://" + addr + "/blob?X-Amz-Signature=topsecret")
	start := time.Now()
	_, err = c.FetchBytes(context.Background(), &FileMeta{Size: 1, byteURL: cdn}, "", "")
	ue, ok := err.(*Error)
	if !ok || ue.Status != http.StatusBadGateway || !strings.Contains(ue.Msg, "unreachable") {
		t.Fatalf("connection refused: %#v", err)
	}
	if strings.Contains(ue.Error(), "topsecret") || strings.Contains(ue.Error(), "Signature") {
		t.Errorf("error %q leaks the presigned URL", ue.Error())
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("connection refused took %v", time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Do(ctx, Request{Method: "GET", Path: "/api/models/org/m"})
	if ue, ok := err.(*Error); !ok || ue.Status != 499 {
		t.Errorf("cancelled client: %#v, want status 499", err)
	}
}

func TestHeaderTimeoutIs504(t *testing.T) {
	block := make(chan struct{})
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer hub.Close()
	defer close(block)
	tr := newTransport()
	tr.ResponseHeaderTimeout = 200 * time.Millisecond
	c, err := New(hub.URL, tr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ResolveMeta(context.Background(), hubapi.Model, "org/m", "main", "f", "", nil)
	if ue, ok := err.(*Error); !ok || ue.Status != http.StatusGatewayTimeout || !strings.Contains(ue.Msg, "timed out") {
		t.Errorf("silent upstream: %#v, want a 504 saying it timed out", err)
	}
}

// Regression (found in review, fixed): metaFrom drops the ParseInt error of X-Linked-Size, so "12abc"
// becomes a size of 0 and the metadata counts as complete.
func TestRegression_MalformedLinkedSizeBecomesZero(t *testing.T) {
	for _, v := range []string{"12abc", "", "1e3", " 5"} {
		h := http.Header{}
		h.Set("X-Repo-Commit", sha)
		h.Set("ETag", `"`+sha+`"`)
		if v != "" {
			h.Set("X-Linked-Size", v)
		} else {
			h["X-Linked-Size"] = []string{""}
		}
		m, ok := metaFrom(&http.Response{StatusCode: 302, Header: h, ContentLength: -1})
		if ok {
			t.Errorf("X-Linked-Size %q accepted as size %d", v, m.Size)
		}
	}
}

func TestFetchBytesRelaysErrorsAndRanges(t *testing.T) {
	data := []byte("0123456789")
	hub := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "gone") {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(429)
			fmt.Fprint(w, "slow down")
			return
		}
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(data)))
	})
	c := newClient(t, hub.URL)
	u, _ := url.Parse(hub.URL + "/f")
	resp, err := c.FetchBytes(context.Background(), &FileMeta{Size: 10, byteURL: u}, "", "bytes=2-4")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(b) != "234" {
		t.Errorf("range: %d %q", resp.StatusCode, b)
	}
	u2, _ := url.Parse(hub.URL + "/gone")
	_, err = c.FetchBytes(context.Background(), &FileMeta{Size: 10, byteURL: u2}, "", "")
	if ue, ok := err.(*Error); !ok || ue.Status != 429 || ue.Header.Get("Retry-After") != "3" {
		t.Errorf("429: %#v", err)
	}
}

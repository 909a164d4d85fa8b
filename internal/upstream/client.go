// Package upstream talks to the Hub the gateway stands in front of: the real
// Hub over HTTPS, the test simulator, or a local mirror folder served in
// process. It follows the Hub's redirects itself, so no client is ever sent
// to a CDN or Xet host, and it never forwards a user's token to a host other
// than the configured upstream.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/safehub/safehub/internal/hubapi"
)

// Timeouts on every upstream call. Byte transfers have no total deadline
// (a 50 GB file takes long); they have an idle timeout instead (see idle.go).
const (
	DialTimeout    = 10 * time.Second
	HeaderTimeout  = 30 * time.Second // first response byte of any upstream call
	APITimeout     = 60 * time.Second // whole JSON call, body included
	IdleTimeout    = 30 * time.Second // longest gap between two reads of a byte stream
	MaxRedirects   = 5
	MaxErrorBody   = 64 << 10
	MaxJSONBody    = 64 << 20 // a repo listing page; more is an upstream fault
	userAgentExtra = "safehub"
)

// Client sends requests to one upstream. It is safe for concurrent use.
type Client struct {
	base *url.URL
	http *http.Client
}

// New returns a client for an upstream at base ("https://huggingface.co").
// rt may be nil for a default transport with the timeouts above.
func New(base string, rt http.RoundTripper) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q is not an http(s) URL or a folder", base)
	}
	if rt == nil {
		rt = newTransport()
	}
	return &Client{
		base: u,
		http: &http.Client{
			Transport: rt,
			// Redirects are followed by hand: the gateway decides per hop
			// whether the token may go along and where metadata comes from.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   DialTimeout,
		ResponseHeaderTimeout: HeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   64,
		// Model bytes are served uncompressed; Go's transparent gzip would
		// also drop Content-Length, which clients need.
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}
}

// Base is the upstream's base URL.
func (c *Client) Base() *url.URL { return c.base }

// Request describes one call to the upstream.
type Request struct {
	Method   string
	Path     string // escaped path, from hubapi's *Path helpers
	RawQuery string
	Auth     string      // the client's Authorization header, sent only to the upstream host
	Header   http.Header // extra headers (Content-Type, Range, User-Agent)
	Body     io.Reader
}

// Do sends r to the upstream and returns the response as is (redirects
// are not followed). A transport failure is an *Error with status 502/504.
func (c *Client) Do(ctx context.Context, r Request) (*http.Response, error) {
	u := *c.base
	u.RawPath = r.Path
	u.Path, _ = url.PathUnescape(r.Path)
	u.RawQuery = r.RawQuery
	return c.send(ctx, r.Method, &u, r.Auth, r.Header, r.Body)
}

func (c *Client) send(ctx context.Context, method string, u *url.URL, auth string, h http.Header, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, &Error{Status: http.StatusBadGateway, Msg: "building upstream request: " + err.Error()}
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Accept-Encoding", "identity")
	if ua := req.Header.Get("User-Agent"); ua != "" {
		req.Header.Set("User-Agent", ua+"; "+userAgentExtra)
	} else {
		req.Header.Set("User-Agent", userAgentExtra)
	}
	if auth != "" && c.sameHost(u) {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, u, err)
	}
	return resp, nil
}

// sameHost reports whether u is on the configured upstream (scheme, host and
// port): only there may the user's token go.
func (c *Client) sameHost(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host)
}

// Error is an upstream failure with the status the gateway should answer.
// For an upstream HTTP error, Header holds the Hub's error headers to relay
// and Body a bounded copy of its body.
type Error struct {
	Status int
	Msg    string
	Header http.Header
	Body   []byte
	// Foreign is set when the answer came from a host other than the
	// upstream (a CDN): its status and headers mean nothing to a Hub client.
	Foreign bool
}

func (e *Error) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("upstream answered %d", e.Status)
}

// relayedHeaders are the upstream error headers the client needs to raise
// the right exception (hub-protocol.md section 8) and to back off.
var relayedHeaders = []string{
	"X-Error-Code", "X-Error-Message", "X-Repo-Commit", "Retry-After",
	"RateLimit", "RateLimit-Policy", "Content-Type", "WWW-Authenticate",
}

// ErrorFrom turns an upstream error response into an *Error, draining and
// closing its body.
func (c *Client) ErrorFrom(resp *http.Response) *Error {
	e := errorFrom(resp)
	e.Foreign = resp.Request != nil && !c.sameHost(resp.Request.URL)
	return e
}

func errorFrom(resp *http.Response) *Error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
	h := http.Header{}
	for _, k := range relayedHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	return &Error{Status: resp.StatusCode, Header: h, Body: body}
}

func transportError(ctx context.Context, u *url.URL, err error) *Error {
	host := u.Host
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return &Error{Status: 499, Msg: "client went away"}
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return &Error{Status: http.StatusGatewayTimeout, Msg: "upstream " + host + " timed out"}
	}
	return &Error{Status: http.StatusBadGateway, Msg: "upstream " + host + " unreachable: " + shortErr(err)}
}

// shortErr keeps the cause and drops the URL, which Go puts in *url.Error
// and which may hold a presigned query.
func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// FileMeta is what a client needs to know about a file before its bytes:
// the commit it was resolved at, its etag and size, and where its bytes are.
type FileMeta struct {
	Type        hubapi.RepoType // the repo the upstream answered for, after renames
	Repo        string
	Commit      string
	ETag        string // the Hub's ETag, unquoted: git blob sha1, or sha256 for LFS files
	LinkedETag  string // sha256 of an LFS file, "" for plain git files
	Size        int64
	ContentType string
	byteURL     *url.URL
}

// HasSource reports whether m knows where its bytes are: metadata rebuilt
// from the gateway's index does not, and can only be served from a cache.
func (m *FileMeta) HasSource() bool { return m.byteURL != nil }

// IsLFS reports whether the file is stored in LFS/Xet (it has a sha256).
func (m *FileMeta) IsLFS() bool { return m.LinkedETag != "" }

// Digest is the content digest clients name the blob by: the sha256 for LFS
// files, the git blob sha1 otherwise.
func (m *FileMeta) Digest() string {
	if m.LinkedETag != "" {
		return m.LinkedETag
	}
	return m.ETag
}

func unquoteETag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	return strings.Trim(s, `"`)
}

// metaFrom reads the file metadata headers of a resolve answer.
func metaFrom(resp *http.Response) (*FileMeta, bool) {
	h := resp.Header
	m := &FileMeta{
		Commit:      h.Get("X-Repo-Commit"),
		ETag:        unquoteETag(h.Get("ETag")),
		LinkedETag:  unquoteETag(h.Get("X-Linked-Etag")),
		ContentType: h.Get("Content-Type"),
		Size:        -1,
	}
	if s := h.Get("X-Linked-Size"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			m.Size = n
		}
	} else if resp.StatusCode < 300 {
		m.Size = resp.ContentLength
	}
	if m.ETag == "" {
		m.ETag = m.LinkedETag
	}
	// The client turns the commit into snapshots/{commit} and the etag into
	// blobs/{etag} on disk: anything but hex from a broken or hostile
	// upstream could steer its writes, so it is not metadata at all.
	ok := isHex(m.Commit, 40, 40) && isHex(m.ETag, 32, 128) &&
		(m.LinkedETag == "" || isHex(m.LinkedETag, 64, 64)) && m.Size >= 0
	return m, ok
}

func isHex(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

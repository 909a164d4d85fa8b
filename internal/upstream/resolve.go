package upstream

import (
	"context"
	"net/http"
	"net/url"

	"github.com/safehub/safehub/internal/hubapi"
)

// ResolveMeta asks the upstream for a file's metadata with a HEAD on its
// resolve URL, following the Hub's redirects on the gateway's side:
// relative 307s to resolve-cache or a renamed repo (token kept), and the
// absolute 302 of an LFS file to its CDN, whose metadata is on the 302
// itself (hub-protocol.md section 6.1). The returned meta remembers where
// the bytes are; the user never sees that location.
func (c *Client) ResolveMeta(ctx context.Context, t hubapi.RepoType, repo, rev, path, auth string, h http.Header) (*FileMeta, error) {
	ctx, cancel := context.WithTimeout(ctx, HeaderTimeout)
	defer cancel()
	u := *c.base
	p := hubapi.ResolvePath(t, repo, rev, path)
	u.RawPath, u.Path = p, mustUnescape(p)
	for hop := 0; ; hop++ {
		resp, err := c.send(ctx, http.MethodHead, &u, auth, h, nil)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 400:
			return nil, c.ErrorFrom(resp)
		case resp.StatusCode >= 300:
			loc, err := location(&u, resp)
			if err != nil {
				return nil, err
			}
			// An LFS redirect carries the metadata; the bytes are at loc,
			// a content-addressed CDN URL.
			if m, ok := metaFrom(resp); ok && (resp.Header.Get("X-Linked-Etag") != "" || !c.sameHost(loc)) {
				m.Type, m.Repo = answeredFor(&u, t, repo)
				m.byteURL = loc
				return m, nil
			}
			if hop >= MaxRedirects {
				return nil, &Error{Status: http.StatusBadGateway, Msg: "upstream redirected too many times"}
			}
			u = *loc
		default:
			m, ok := metaFrom(resp)
			if !ok {
				return nil, &Error{Status: http.StatusBadGateway, Msg: "upstream answer for " + path + " lacks a valid X-Repo-Commit, ETag or size"}
			}
			m.Type, m.Repo = answeredFor(&u, t, repo)
			m.byteURL = pinned(&u, m.Commit)
			return m, nil
		}
	}
}

// answeredFor names the repo whose resolve URL answered: after a rename
// redirect it is not the one the client asked for, and the policy must
// judge the repo that actually serves the bytes.
func answeredFor(u *url.URL, t hubapi.RepoType, repo string) (hubapi.RepoType, string) {
	if rt, err := hubapi.Parse(http.MethodHead, u); err == nil && rt.IsFile() {
		return rt.Type, rt.Repo
	}
	return t, repo
}

// pinned rewrites a resolve URL on a branch to the commit it resolved to,
// so the bytes scanned and the bytes served are those the metadata
// describes even if the branch moves in between.
func pinned(u *url.URL, commit string) *url.URL {
	rt, err := hubapi.Parse(http.MethodGet, u)
	if err != nil || rt.Kind != hubapi.KindResolve || rt.Rev == commit {
		return u
	}
	p := *u
	p.RawPath = hubapi.ResolvePath(rt.Type, rt.Repo, commit, rt.Path)
	p.Path = mustUnescape(p.RawPath)
	return &p
}

// location resolves a redirect's Location against the URL that was asked.
func location(base *url.URL, resp *http.Response) (*url.URL, error) {
	l := resp.Header.Get("Location")
	if l == "" {
		return nil, &Error{Status: http.StatusBadGateway, Msg: "upstream redirect without Location"}
	}
	loc, err := base.Parse(l)
	if err != nil || (loc.Scheme != "http" && loc.Scheme != "https") {
		return nil, &Error{Status: http.StatusBadGateway, Msg: "upstream redirect to an unusable location"}
	}
	return loc, nil
}

func mustUnescape(p string) string {
	s, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	return s
}

// FetchBytes GETs a file's bytes from where ResolveMeta found them. rangeHdr
// ("bytes=a-b") may be empty. The token goes only to the upstream host, never
// to a CDN. The caller must close the body; reads stall-fail after
// IdleTimeout without progress.
func (c *Client) FetchBytes(ctx context.Context, m *FileMeta, auth, rangeHdr string) (*http.Response, error) {
	if m.byteURL == nil {
		return nil, &Error{Status: http.StatusBadGateway, Msg: "no upstream location for " + m.Repo + " at " + m.Commit + " (metadata from the index)"}
	}
	ctx, cancel := context.WithCancel(ctx)
	h := http.Header{}
	if rangeHdr != "" {
		h.Set("Range", rangeHdr)
	}
	u := *m.byteURL
	for hop := 0; ; hop++ {
		resp, err := c.send(ctx, http.MethodGet, &u, auth, h, nil)
		if err != nil {
			cancel()
			return nil, err
		}
		switch {
		case resp.StatusCode >= 400:
			e := c.ErrorFrom(resp) // read the body before cancelling its request
			cancel()
			return nil, e
		case resp.StatusCode >= 300:
			resp.Body.Close()
			loc, err := location(&u, resp)
			if err != nil || hop >= MaxRedirects {
				cancel()
				if err == nil {
					err = &Error{Status: http.StatusBadGateway, Msg: "upstream redirected too many times"}
				}
				return nil, err
			}
			u = *loc
		default:
			resp.Body = newIdleReader(resp.Body, IdleTimeout, cancel)
			return resp, nil
		}
	}
}

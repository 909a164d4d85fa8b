package upstream

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// maxReplayBody bounds a request body kept for replay across redirects
// (paths-info forms are small).
const maxReplayBody = 1 << 20

// DoFollow is Do for API calls: it follows the upstream's redirects that
// stay on the upstream host (a renamed repo answers with a relative 307),
// replaying the body, and returns the final response and the escaped path
// that answered, so the caller can judge the repo it ended at. A redirect
// to any other host is an error: API calls never leave the upstream.
func (c *Client) DoFollow(ctx context.Context, r Request) (*http.Response, string, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxReplayBody+1))
		if err != nil || len(b) > maxReplayBody {
			return nil, "", &Error{Status: http.StatusRequestEntityTooLarge, Msg: "request body too large to forward"}
		}
		body = b
	}
	u := *c.base
	u.RawPath, u.Path, u.RawQuery = r.Path, mustUnescape(r.Path), r.RawQuery
	method := r.Method
	for hop := 0; ; hop++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		resp, err := c.send(ctx, method, &u, r.Auth, r.Header, rd)
		if err != nil {
			return nil, "", err
		}
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || resp.Header.Get("Location") == "" {
			return resp, u.EscapedPath(), nil
		}
		resp.Body.Close()
		loc, err := location(&u, resp)
		if err != nil {
			return nil, "", err
		}
		if !c.sameHost(loc) {
			return nil, "", &Error{Status: http.StatusBadGateway, Msg: "upstream redirected an API call to another host"}
		}
		if hop >= MaxRedirects {
			return nil, "", &Error{Status: http.StatusBadGateway, Msg: "upstream redirected too many times"}
		}
		if resp.StatusCode == http.StatusSeeOther {
			method, body = http.MethodGet, nil
		}
		u = *loc
	}
}

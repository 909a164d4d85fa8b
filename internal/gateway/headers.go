package gateway

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/safehub/safehub/internal/upstream"
)

// hopByHop headers describe one connection, not the message (RFC 9110 7.6.1).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// passHeaders are upstream response headers a client may see on relayed
// API answers. Everything else is dropped: an allowlist cannot leak a Xet
// hint or a CDN location that a denylist forgot.
var passHeaders = []string{
	"Content-Type", "X-Error-Code", "X-Error-Message", "X-Repo-Commit",
	"X-Hf-Warning", "Retry-After", "RateLimit", "RateLimit-Policy",
	"Cache-Control", "Last-Modified", "Vary", "Link",
}

// copyAPIHeaders copies the allowed headers of an upstream API answer,
// rewriting Link to the gateway's origin and dropping Xet link relations.
func copyAPIHeaders(dst, src http.Header, up *url.URL, origin string) {
	for _, k := range passHeaders {
		vs := src.Values(k)
		if len(vs) == 0 {
			continue
		}
		if k == "Link" {
			if l := rewriteLink(strings.Join(vs, ", "), up, origin); l != "" {
				dst.Set("Link", l)
			}
			continue
		}
		dst[k] = vs
	}
	for _, k := range hopByHop {
		dst.Del(k)
	}
}

// stripFileHeaders removes any header that could send a client elsewhere
// or switch it to Xet. It runs on every file and error answer.
func stripFileHeaders(h http.Header) {
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-xet-") || lk == "location" || lk == "link" {
			delete(h, k)
		}
	}
}

// setFileHeaders writes the metadata huggingface_hub needs from a HEAD
// (hub-protocol.md 6.3): a 200 with commit, etags and size, never a redirect.
func setFileHeaders(h http.Header, m *upstream.FileMeta) {
	stripFileHeaders(h)
	h.Set("X-Repo-Commit", m.Commit)
	h.Set("ETag", `"`+m.ETag+`"`)
	if m.IsLFS() {
		h.Set("X-Linked-Etag", `"`+m.LinkedETag+`"`)
		h.Set("X-Linked-Size", strconv.FormatInt(m.Size, 10))
	}
	h.Set("Accept-Ranges", "bytes")
	ct := m.ContentType
	if ct == "" || strings.HasPrefix(ct, "text/html") {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
}

// rewriteLink keeps only rel="next" (paging) links and moves them from the
// upstream's origin to the gateway's. The client follows the next URL
// verbatim, so a link left on the Hub's origin would bypass the gateway and
// a relative one would fail (hub-protocol.md section 11).
func rewriteLink(v string, up *url.URL, origin string) string {
	var out []string
	for _, part := range splitLinks(v) {
		lt, gt := strings.IndexByte(part, '<'), strings.IndexByte(part, '>')
		if lt < 0 || gt < lt {
			continue
		}
		params := strings.ToLower(part[gt+1:])
		if !strings.Contains(params, `rel="next"`) && !strings.Contains(params, "rel=next") {
			continue
		}
		u, err := up.Parse(strings.TrimSpace(part[lt+1 : gt]))
		if err != nil || !strings.EqualFold(u.Host, up.Host) {
			continue // a next page on another host is not ours to pass on
		}
		out = append(out, "<"+origin+u.RequestURI()+`>; rel="next"`)
	}
	return strings.Join(out, ", ")
}

// splitLinks splits a Link header on the commas between elements, not on
// commas inside <...>.
func splitLinks(v string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, v[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, v[start:])
}

// origin is the gateway's own origin as the client addressed it. Behind a
// TLS-terminating proxy, X-Forwarded-Proto says the client spoke https;
// trusting it only changes the scheme of links given back to that client.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

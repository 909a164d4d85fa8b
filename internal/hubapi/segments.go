package hubapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits on what a request may name. The Hub's own limits are lower; these
// only keep hostile input from costing memory or reaching a storage key.
const (
	MaxPathBytes    = 8192 // the whole escaped path
	MaxSegmentBytes = 1024 // one decoded segment or path component
	MaxRepoNameLen  = 96   // the Hub's limit for each of org and name
	MaxRevisionLen  = 256
)

// Error is a request the gateway cannot serve, with the status to answer.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

func errNotFound(msg string) *Error { return &Error{Status: http.StatusNotFound, Msg: msg} }

// splitEscaped splits an escaped URL path on "/" and decodes each segment.
// Empty segments (a doubled or trailing slash) are errors, except that a
// single trailing slash is tolerated the way the Hub tolerates it.
func splitEscaped(raw string) ([]string, error) {
	raw = strings.TrimPrefix(raw, "/")
	raw = strings.TrimSuffix(raw, "/")
	if raw == "" {
		return nil, nil
	}
	parts := strings.Split(raw, "/")
	out := make([]string, len(parts))
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return nil, errf(http.StatusBadRequest, "malformed escape in path segment %d", i+1)
		}
		if s == "" {
			return nil, errf(http.StatusBadRequest, "empty path segment")
		}
		out[i] = s
	}
	return out, nil
}

// checkSegment rejects what must never become part of a file path or a
// storage key: dot segments, backslashes, control bytes, invalid UTF-8.
func checkSegment(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return errf(http.StatusBadRequest, "path segment %q is not allowed", s)
	case len(s) > MaxSegmentBytes:
		return errf(http.StatusBadRequest, "path segment longer than %d bytes", MaxSegmentBytes)
	case !utf8.ValidString(s):
		return errf(http.StatusBadRequest, "path segment is not valid UTF-8")
	case strings.ContainsRune(s, '\\'):
		return errf(http.StatusBadRequest, "backslash in path segment")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errf(http.StatusBadRequest, "control character in path segment")
		}
	}
	return nil
}

// checkComponents applies checkSegment to every "/"-separated component, so
// an encoded slash cannot smuggle a ".." past the segment check.
func checkComponents(s string) error {
	for _, c := range strings.Split(s, "/") {
		if err := checkSegment(c); err != nil {
			return err
		}
	}
	return nil
}

// repoID validates one- or two-segment repo ids with the Hub's character set.
func repoID(segs []string) (string, error) {
	for _, s := range segs {
		if !validRepoPart(s) {
			return "", errf(http.StatusBadRequest, "invalid repo id component %q", truncate(s, 64))
		}
	}
	return strings.Join(segs, "/"), nil
}

func validRepoPart(s string) bool {
	if s == "" || len(s) > MaxRepoNameLen || strings.Contains(s, "..") || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return s[0] != '.' && s[0] != '-' && s[len(s)-1] != '.'
}

// revision validates a decoded revision: a branch, tag, "refs/pr/1" or a sha.
func revision(s string) (string, error) {
	if len(s) > MaxRevisionLen {
		return "", errf(http.StatusBadRequest, "revision longer than %d bytes", MaxRevisionLen)
	}
	if err := checkComponents(s); err != nil {
		return "", errf(http.StatusBadRequest, "invalid revision: %v", err)
	}
	return s, nil
}

// filePath joins decoded segments into a repo file path and validates each
// component (segments may themselves hold decoded slashes).
func filePath(segs []string) (string, error) {
	p := strings.Join(segs, "/")
	if err := checkComponents(p); err != nil {
		return "", err
	}
	return p, nil
}

func escapeSegments(segs []string) string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = QuotePython(s, "")
	}
	return strings.Join(out, "/")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// QuotePython escapes s the way Python's urllib.parse.quote does: every byte
// outside A-Z a-z 0-9 "_.-~" and the bytes in safe becomes %XX. The Hub's
// clients encode this way, and upstream URLs must match what they would send.
func QuotePython(s, safe string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '.' || c == '-' || c == '~' || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

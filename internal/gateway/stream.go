package gateway

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/safehub/safehub/internal/upstream"
)

const (
	copyBuf      = 256 << 10
	writeTimeout = 60 * time.Second // one write to a client; a whole download has no limit
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBuf); return &b }}

// byteRange is an inclusive range [start, end] of a file.
type byteRange struct{ start, end int64 }

// requestedRange is the part of m the request asks for: its Range header's
// single range, or the whole file. ok is false when the range cannot be
// satisfied; the 416 answer has then been written.
func requestedRange(w http.ResponseWriter, r *http.Request, m *upstream.FileMeta) (rng byteRange, partial, ok bool) {
	rng, partial, err := parseRange(r.Header.Get("Range"), m.Size)
	if err != nil {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(m.Size, 10))
		writeError(w, http.StatusRequestedRangeNotSatisfiable, "", "safehub: "+err.Error(), m.Commit)
		return rng, false, false
	}
	if !partial {
		rng = byteRange{0, m.Size - 1}
	}
	return rng, partial, true
}

// parseRange reads a single-range "bytes=" header against size. ok=false
// with err=nil means "serve the whole file" (no header, or a form this
// gateway answers in full, which RFC 9110 allows); err means 416.
func parseRange(h string, size int64) (byteRange, bool, error) {
	if h == "" {
		return byteRange{}, false, nil
	}
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, nil
	}
	var r byteRange
	switch {
	case a == "": // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return r, false, fmt.Errorf("unsatisfiable range %q", h)
		}
		r = byteRange{max(size-n, 0), size - 1}
	default:
		s, err := strconv.ParseInt(a, 10, 64)
		if err != nil || s < 0 || s >= size {
			return r, false, fmt.Errorf("unsatisfiable range %q", h)
		}
		e := size - 1
		if b != "" {
			if e, err = strconv.ParseInt(b, 10, 64); err != nil || e < s {
				return r, false, fmt.Errorf("unsatisfiable range %q", h)
			}
			e = min(e, size-1)
		}
		r = byteRange{s, e}
	}
	return r, true, nil
}

// streamFile sends a file's bytes (or one range of them) from the upstream.
// A whole file is checked against its digest as it passes; the last chunk
// is held back until the digest matches, so a corrupted or truncated
// transfer never ends as a complete response: the connection is cut.
func (g *Gateway) streamFile(w http.ResponseWriter, r *http.Request, m *upstream.FileMeta, auth string, rec *requestLog) {
	rng, partial, ok := requestedRange(w, r, m)
	if !ok {
		return
	}
	n := rng.end - rng.start + 1
	if m.Size == 0 {
		// Nothing to fetch, but the etag still has to name the empty blob.
		if v := newVerifier(m); v != nil && !v.ok() {
			writeError(w, http.StatusBadGateway, "", "safehub: upstream announced an empty file whose etag names other content", m.Commit)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	upRange := ""
	if partial {
		upRange = fmt.Sprintf("bytes=%d-%d", rng.start, rng.end)
	}
	resp, err := g.up.FetchBytes(r.Context(), m, auth, upRange)
	if err != nil {
		rec.decision = "upstream-error"
		writeUpstreamError(w, err)
		return
	}
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	switch {
	case resp.StatusCode == http.StatusOK && resp.ContentLength >= 0 && resp.ContentLength != m.Size:
		rec.decision = "upstream-error"
		writeError(w, http.StatusBadGateway, "", fmt.Sprintf("safehub: upstream sent %d bytes for a file of %d", resp.ContentLength, m.Size), m.Commit)
		return
	case resp.StatusCode == http.StatusOK && partial: // upstream ignored Range
		if _, err := io.CopyN(io.Discard, body, rng.start); err != nil {
			writeError(w, http.StatusBadGateway, "", "safehub: upstream transfer failed", m.Commit)
			return
		}
	case resp.StatusCode == http.StatusPartialContent && !partial:
		writeError(w, http.StatusBadGateway, "", "safehub: upstream answered a partial file", m.Commit)
		return
	case resp.StatusCode == http.StatusPartialContent && !contentRangeIs(resp.Header.Get("Content-Range"), rng, m.Size):
		// Ranges are not digest-checked: the only guard for a resumed
		// download is that the upstream sent exactly the bytes asked for.
		writeError(w, http.StatusBadGateway, "", "safehub: upstream answered another range than the one asked for", m.Commit)
		return
	}
	h := w.Header()
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.end, m.Size))
		status = http.StatusPartialContent
	}
	var v *verifier
	if !partial {
		v = newVerifier(m)
	}
	started := false
	start := func() { started = true; w.WriteHeader(status) }
	sent, err := copyVerified(w, body, n, v, start)
	rec.bytes = sent
	if err != nil {
		rec.decision = "aborted"
		rec.reason = err.Error()
		g.log.Warn("transfer aborted", "repo", rec.route.Repo, "file", rec.route.Path, "sent", sent, "of", n, "err", err)
		if !started { // nothing sent yet: a clean, coded answer is still possible
			h.Del("Content-Range")
			writeError(w, http.StatusBadGateway, "", "safehub: upstream transfer failed: "+err.Error(), m.Commit)
			return
		}
		// Cut the connection: with Content-Length set, the client sees an
		// incomplete body, never a short file that looks complete.
		panic(http.ErrAbortHandler)
	}
}

// contentRangeIs reports whether a Content-Range header names exactly rng
// of a file of size total.
func contentRangeIs(h string, rng byteRange, total int64) bool {
	return strings.TrimSpace(h) == fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.end, total)
}

// copyVerified copies exactly n bytes, calling start before the first
// write so the status is sent only once there is a byte to follow it. When
// v is set, the final chunk is written only after the digest of all n
// bytes matched.
func copyVerified(w http.ResponseWriter, src io.Reader, n int64, v *verifier, start func()) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	rc := http.NewResponseController(w)
	var sent int64
	for sent < n {
		k := int(min(int64(len(buf)), n-sent))
		got, err := io.ReadFull(src, buf[:k])
		if v != nil {
			v.h.Write(buf[:got])
		}
		if err != nil {
			return sent, fmt.Errorf("upstream ended after %d of %d bytes: %w", sent+int64(got), n, err)
		}
		if sent+int64(got) == n && v != nil && !v.ok() {
			return sent, fmt.Errorf("digest mismatch: upstream bytes are not %s", v.want)
		}
		if sent == 0 {
			start()
		}
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		wn, err := w.Write(buf[:got])
		sent += int64(wn)
		if err != nil {
			return sent, fmt.Errorf("client write: %w", err)
		}
	}
	return sent, nil
}

// verifier hashes a whole file the way its etag names it: sha256 for LFS
// files, git's blob sha1 ("blob <size>\0" + bytes) for plain git files.
type verifier struct {
	h    hash.Hash
	want string
}

func newVerifier(m *upstream.FileMeta) *verifier {
	switch {
	case isHex(m.LinkedETag, 64):
		return &verifier{h: sha256.New(), want: m.LinkedETag}
	case isHex(m.ETag, 40):
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00", m.Size)
		return &verifier{h: h, want: m.ETag}
	case isHex(m.ETag, 64):
		return &verifier{h: sha256.New(), want: m.ETag}
	}
	return nil // an etag of no known scheme cannot be checked
}

func (v *verifier) ok() bool { return hex.EncodeToString(v.h.Sum(nil)) == strings.ToLower(v.want) }

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

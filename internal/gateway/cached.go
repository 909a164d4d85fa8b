package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/scan"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/upstream"
)

// rangeAheadOfFill is how far past a fill's progress a Range may start
// and still wait for the fill; further ahead, it is fetched from the
// upstream directly (a client gives a read 10 s).
const rangeAheadOfFill = 64 << 20

// waitWholeUpTo is the size up to which a fill is verified whole before
// the status line goes out (a few hundred milliseconds at most).
const waitWholeUpTo = 8 << 20

// serveCached answers a GET from the verified blob cache: a hit is served
// from disk, a miss joins or starts the single upstream fetch of that blob
// and streams while it fills. The fill verifies size and digest and scans
// the verified bytes again before the blob's last byte is released, so a
// transfer that goes wrong is cut, and nothing unverified is ever stored.
// The caller has already authorised this request with the upstream
// (ResolveMeta with the user's token), cached or not.
func (g *Gateway) serveCached(w http.ResponseWriter, r *http.Request, rt hubapi.Route, m *upstream.FileMeta, d store.Digest, auth string, rec *requestLog) {
	ctx := r.Context()
	src := g.fillSource(m, auth)
	bypassOnMiss := false
	switch {
	case !m.HasSource():
		src = nil // recalled from the index: serve only what is stored
	case g.diskFull():
		src, bypassOnMiss = nil, true // stored blobs still served; no new fills
	}
	rd, err := g.cache.Open(ctx, d, m.Size, src, g.fillCheck(rt))
	if err != nil && bypassOnMiss && errors.Is(err, store.ErrNotFound) {
		rec.cache = "bypass"
		g.streamFile(w, r, m, auth, rec)
		return
	}
	if err != nil {
		g.cacheError(w, r, rt, m, auth, err, rec)
		return
	}
	defer rd.Close()
	if rd.FromStore() {
		rec.cache = "hit"
		// ServeContent handles Range, If-Range and If-None-Match against the
		// ETag set by setFileHeaders, and uses sendfile.
		serveReader(w, r, rd, m.Size)
		return
	}
	rec.cache = "fill"
	rng, partial, ok := requestedRange(w, r, m)
	if !ok {
		return
	}
	if partial && rng.start > rd.Available()+rangeAheadOfFill {
		rec.cache = "bypass"
		g.streamFile(w, r, m, auth, rec) // the fill goes on without us
		return
	}
	// Wait before sending a status, so an upstream that fails still gets a
	// coded 502 instead of a cut connection (which clients report as a
	// network problem): for a small file, until it is verified whole; for a
	// large one, until its first byte is there.
	if m.Size <= waitWholeUpTo {
		if err := rd.Wait(ctx); err != nil {
			g.cacheError(w, r, rt, m, auth, err, rec)
			return
		}
	} else if _, err := rd.ReadAt(make([]byte, 1), rng.start); err != nil && !errors.Is(err, io.EOF) {
		g.cacheError(w, r, rt, m, auth, err, rec)
		return
	}
	n := rng.end - rng.start + 1
	h := w.Header()
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.end, m.Size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	sent, err := cache.WriteRange(deadlineWriter{w}, rd, rng.start, n)
	rec.bytes = sent
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			g.noteDiskFull(err)
		}
		rec.decision, rec.reason = "aborted", err.Error()
		g.log.Warn("transfer aborted", "repo", rt.Repo, "file", rt.Path, "sent", sent, "of", n, "err", err)
		panic(http.ErrAbortHandler) // the client sees a cut transfer, never a short file
	}
}

// fillSource fetches a whole blob from the upstream for the cache.
func (g *Gateway) fillSource(m *upstream.FileMeta, auth string) cache.Source {
	return func(ctx context.Context) (io.ReadCloser, error) {
		resp, err := g.up.FetchBytes(ctx, m, auth, "")
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK || (resp.ContentLength >= 0 && resp.ContentLength != m.Size) {
			resp.Body.Close()
			return nil, &upstream.Error{Status: http.StatusBadGateway,
				Msg: fmt.Sprintf("upstream answered %d with %d bytes for a file of %d", resp.StatusCode, resp.ContentLength, m.Size)}
		}
		return resp.Body, nil
	}
}

// fillCheck scans the verified bytes of a fill before its last byte is
// released: the verdict given before the first byte came from range reads
// that no digest covers. A refusal is remembered by digest, so the check
// is strict: pickle-bearing content is refused whatever the name.
func (g *Gateway) fillCheck(rt hubapi.Route) cache.Check {
	return func(ctx context.Context, r io.ReaderAt, size int64) error {
		res, err := scan.Scan(ctx, r, size, scan.Options{Profile: g.pol.ScanProfile(), NameHint: rt.Path, MaxInflate: maxScanInflate})
		if err != nil {
			return err
		}
		if d := g.pol.Content(repoType(rt.Type), rt.Repo, rt.Path, res); !d.Allow {
			return fmt.Errorf("%w: %s", cache.ErrRefused, d.Reason)
		}
		return nil
	}
}

// cacheError maps a cache failure to the answer a client should get.
func (g *Gateway) cacheError(w http.ResponseWriter, r *http.Request, rt hubapi.Route, m *upstream.FileMeta, auth string, err error, rec *requestLog) {
	rec.decision, rec.reason = "upstream-error", err.Error()
	switch {
	case errors.Is(err, cache.ErrRefused):
		rec.decision = "refuse"
		g.verdicts.markRefused(m.Digest(), rt.Path)
		d := rec.last
		d.Allow, d.Rule, d.Reason = false, "content", "its verified content is refused: "+err.Error()
		g.refuseFile(r.Context(), w, rt, auth, d, m.Commit)
	case errors.Is(err, syscall.ENOSPC):
		// Nothing was sent yet: serve this client straight from the
		// upstream (verified, not cached) rather than fail it.
		g.noteDiskFull(err)
		rec.decision, rec.reason, rec.cache = "allow", "cache disk full", "bypass"
		g.streamFile(w, r, m, auth, rec)
	case errors.Is(err, cache.ErrMismatch), errors.Is(err, cache.ErrStalled):
		writeError(w, http.StatusBadGateway, "", "safehub: upstream transfer failed: "+err.Error(), m.Commit)
	default:
		var ue *upstream.Error
		if errors.As(err, &ue) {
			g.writeFileUpstreamError(r.Context(), w, rt, auth, err)
			return
		}
		writeError(w, http.StatusBadGateway, "", "safehub: "+err.Error(), m.Commit)
	}
}

// deadlineWriter bounds each write to a client, so a client that stops
// reading cannot hold a fill reader forever.
type deadlineWriter struct{ w http.ResponseWriter }

func (d deadlineWriter) Write(p []byte) (int, error) {
	_ = http.NewResponseController(d.w).SetWriteDeadline(time.Now().Add(writeTimeout))
	return d.w.Write(p)
}

// diskFullBackoff is how long GETs bypass the cache after it hit a full
// disk: each would otherwise start a fill that fails part-way, cutting its
// client, and huggingface_hub's resume would hit the same wall.
const diskFullBackoff = time.Minute

// noteDiskFull starts (or extends) a bypass window and says so once per
// window in the log, with what to do.
func (g *Gateway) noteDiskFull(err error) {
	until := g.now().Add(diskFullBackoff).UnixNano()
	if old := g.fullUntil.Swap(until); old < g.now().UnixNano() {
		g.log.Error("cache disk is full: serving files straight from the upstream, uncached, for the next minute; free space under --cache-dir or lower --cache-max",
			"err", err)
	}
}

func (g *Gateway) diskFull() bool { return g.now().UnixNano() < g.fullUntil.Load() }

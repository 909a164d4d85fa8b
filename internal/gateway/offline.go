package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/scan"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/upstream"
)

// ErrCodeUpstreamUnreachable is the X-Error-Code of the answer for a file
// the gateway cannot serve because the upstream is down and the file is
// not in its cache (or its repo is not known to be public).
const ErrCodeUpstreamUnreachable = "UpstreamUnreachable"

// serveOffline stands in for an unreachable upstream (the server-side twin
// of HF_HUB_OFFLINE): a file of a repo the upstream served without a token
// is answered from the metadata index and the blob cache, at the commit
// the revision last resolved to. Anything else gets a plain coded error.
// Gated and private repos are never served offline: their access cannot be
// checked.
func (g *Gateway) serveOffline(w http.ResponseWriter, r *http.Request, rt hubapi.Route, upErr error, rec *requestLog) {
	ctx := r.Context()
	rec.decision, rec.reason = "upstream-error", upErr.Error()
	notServed := func(why string) {
		status := http.StatusBadGateway
		var ue *upstream.Error
		if errors.As(upErr, &ue) && ue.Status >= 500 && ue.Status != 499 {
			status = ue.Status
		}
		w.Header().Set("X-Error-Code", ErrCodeUpstreamUnreachable)
		writeErrorKeepCode(w, status, "safehub: the upstream is unreachable ("+upErr.Error()+") and "+
			rt.Repo+"/"+rt.Path+" at "+rt.Rev+" "+why+"; retry when the upstream is back")
	}
	if g.cache == nil {
		notServed("cannot be served without a cache")
		return
	}
	if public, _ := g.index.publicness(rt.Type, rt.Repo); !public {
		notServed("is not served offline: only files of repos the upstream served without a token are")
		return
	}
	commit := rt.Rev
	if !isCommit(commit) {
		rv, ok := g.index.rev(rt.Type, rt.Repo, rt.Rev)
		if !ok {
			notServed("is not cached (the gateway never resolved this revision)")
			return
		}
		commit = rv.Commit
	}
	m, ok := g.index.file(rt.Type, rt.Repo, commit, rt.Path)
	if !ok {
		notServed("is not cached")
		return
	}
	rec.commit, rec.cache = m.Commit, "offline"
	rd, err := g.openStored(ctx, m)
	if err != nil {
		notServed("is not cached (" + err.Error() + ")")
		return
	}
	defer rd.Close()
	t0 := time.Now()
	res, err := g.inspectLocal(ctx, rt, m, rd)
	rec.scanTime = time.Since(t0)
	if err != nil {
		rec.decision = "scan-error"
		writeError(w, http.StatusBadGateway, "", "safehub: the upstream is unreachable and the cached copy could not be checked: "+err.Error(), m.Commit)
		return
	}
	rec.decision = ""
	rec.verdict, rec.format = res.Verdict.String(), res.Format
	if !g.allowed(g.pol.Content(repoType(rt.Type), rt.Repo, rt.Path, res), rec) {
		writeError(w, http.StatusNotFound, "EntryNotFound", "safehub: "+rt.Path+" refused: "+rec.reason, m.Commit)
		return
	}
	setFileHeaders(w.Header(), m)
	w.Header().Set("X-Hf-Warning", "safehub: the upstream is unreachable; served from the gateway's cache at commit "+m.Commit)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	serveReader(w, r, rd, m.Size)
}

// writeErrorKeepCode is writeError for a code set on the header already.
func writeErrorKeepCode(w http.ResponseWriter, status int, msg string) {
	code := w.Header().Get("X-Error-Code")
	writeError(w, status, code, msg, "")
}

// openStored opens a stored blob, never reaching the upstream.
func (g *Gateway) openStored(ctx context.Context, m *upstream.FileMeta) (*cache.Reader, error) {
	d, err := store.ParseDigest(m.Digest())
	if err != nil {
		return nil, err
	}
	return g.cache.Open(ctx, d, m.Size, nil, nil)
}

// inspectLocal is inspect for a blob in the cache: the verdict by digest
// if known, else a scan of the stored bytes (a restart forgets verdicts).
// A blob still filling is scanned only once verified, so the verdict kept
// for good never comes from bytes no digest covered.
func (g *Gateway) inspectLocal(ctx context.Context, rt hubapi.Route, m *upstream.FileMeta, rd *cache.Reader) (*scan.Result, error) {
	key := verdictKey(m.Digest(), rt.Path)
	if res, ok := g.verdicts.get(key); ok {
		return res, nil
	}
	if err := rd.Wait(ctx); err != nil {
		return nil, err
	}
	if err := g.scanSlots.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	defer g.scanSlots.Release(1)
	sctx, cancel := context.WithTimeout(ctx, scanTimeout)
	defer cancel()
	res, err := scan.Scan(sctx, rd, m.Size, scan.Options{Profile: g.pol.ScanProfile(), NameHint: rt.Path, MaxInflate: maxScanInflate})
	if err != nil {
		return nil, err
	}
	g.verdicts.put(key, res, 0) // scanned from the verified stored blob
	return res, nil
}

// serveReader serves a stored blob with Range support: through its file
// when the store is on disk (sendfile), else through a section reader.
func serveReader(w http.ResponseWriter, r *http.Request, rd *cache.Reader, size int64) {
	if f := rd.File(); f != nil {
		http.ServeContent(w, r, "", time.Time{}, f)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(rd, 0, size))
}

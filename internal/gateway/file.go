package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/scan"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/upstream"
)

// MaxClientFileSize is where huggingface_hub stops downloading over HTTP
// (it demands Xet above 50 GB, which the gateway disables).
const MaxClientFileSize = 50_000_000_000

// serveFile answers HEAD and GET for one file: policy by repo and name,
// upstream metadata, content verdict, then headers and (for GET) bytes.
// Nothing about the file's bytes reaches the client before the verdict.
func (g *Gateway) serveFile(w http.ResponseWriter, r *http.Request, rt hubapi.Route, rec *requestLog) {
	ctx := r.Context()
	auth := r.Header.Get("Authorization")
	if !g.allowed(g.pol.Repo(repoType(rt.Type), rt.Repo), rec) {
		g.refuseRepo(w, rec.last)
		return
	}
	if !g.allowed(g.pol.File(repoType(rt.Type), rt.Repo, rt.Path), rec) {
		g.refuseFile(ctx, w, rt, auth, rec.last, "")
		return
	}
	// Within AuthMemoTTL of the upstream accepting this token for this
	// repo, a cached file at a known commit needs no upstream call.
	meta := g.recall(ctx, rt, auth)
	if meta == nil {
		t0 := time.Now()
		m, err := g.up.ResolveMeta(ctx, rt.Type, rt.Repo, rt.Rev, rt.Path, auth, clientHeaders(r))
		rec.upTime = time.Since(t0)
		if err != nil {
			if unreachable(err) {
				g.serveOffline(w, r, rt, err, rec)
				return
			}
			g.learnDenial(rt, auth, err)
			rec.decision = "upstream-error"
			g.writeFileUpstreamError(ctx, w, rt, auth, err)
			return
		}
		g.remember(rt, m, auth)
		meta = m
	}
	rec.commit = meta.Commit
	if meta.Repo != rt.Repo || meta.Type != rt.Type {
		// The upstream answered for another repo (a rename): the policy
		// judges the repo that really serves the file.
		rt.Type, rt.Repo = meta.Type, meta.Repo
		if !g.allowed(g.pol.Repo(repoType(rt.Type), rt.Repo), rec) {
			g.refuseRepo(w, rec.last)
			return
		}
		if !g.allowed(g.pol.File(repoType(rt.Type), rt.Repo, rt.Path), rec) {
			g.refuseFile(ctx, w, rt, auth, rec.last, meta.Commit)
			return
		}
	}
	if meta.Size > MaxClientFileSize {
		rec.decision, rec.rule = "refuse", "size-limit"
		writeError(w, http.StatusNotFound, "EntryNotFound",
			"safehub: "+rt.Path+" refused: it is larger than 50 GB, which huggingface_hub downloads only over Xet, and Xet is disabled by safehub", meta.Commit)
		return
	}
	t0 := time.Now()
	res, err := g.verdictOf(ctx, rt, meta, auth)
	rec.scanTime = time.Since(t0)
	if err != nil {
		rec.decision = "scan-error"
		g.writeFileUpstreamError(ctx, w, rt, auth, err)
		return
	}
	rec.verdict = res.Verdict.String()
	rec.format = res.Format
	if !g.allowed(g.pol.Content(repoType(rt.Type), rt.Repo, rt.Path, res), rec) {
		g.verdicts.markRefused(meta.Digest(), rt.Path)
		g.refuseFile(ctx, w, rt, auth, rec.last, meta.Commit)
		return
	}
	setFileHeaders(w.Header(), meta)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	if g.cache != nil {
		if d, err := store.ParseDigest(meta.Digest()); err == nil {
			g.serveCached(w, r, rt, meta, d, auth, rec)
			return
		}
	}
	g.streamFile(w, r, meta, auth, rec)
}

// allowed records a decision and reports whether to go on. In audit mode
// the policy allows and marks what it would have refused; that is logged.
func (g *Gateway) allowed(d policy.Decision, rec *requestLog) bool {
	rec.last = d
	switch {
	case !d.Allow:
		rec.decision, rec.rule, rec.reason = "refuse", d.Rule, d.Reason
		return false
	case d.Audit:
		rec.decision, rec.rule, rec.reason = "audit-refuse", d.Rule, d.Reason
	case rec.decision == "":
		rec.decision = "allow"
		if d.Rule != "" {
			rec.rule = d.Rule
		}
	}
	return true
}

// refuseRepo answers a repo the policy refuses as a whole, in the shape
// that makes huggingface_hub raise GatedRepoError with safehub's reason.
func (g *Gateway) refuseRepo(w http.ResponseWriter, d policy.Decision) {
	writeError(w, http.StatusForbidden, "GatedRepo", "safehub: this repo is refused by policy (rule "+d.Rule+"): "+d.Reason, "")
}

// refuseFile answers a refused file with the Hub's EntryNotFound, so
// clients raise RemoteEntryNotFoundError with safehub's reason and
// snapshot_download-style callers move on. It looks up the commit (needed
// by the client) and the repo's file list (to name the safe alternative)
// with the user's own token: a user who may not see the repo gets the
// upstream's error instead, and learns nothing about it.
func (g *Gateway) refuseFile(ctx context.Context, w http.ResponseWriter, rt hubapi.Route, auth string, d policy.Decision, commit string) {
	info, err := g.fetchRepoInfo(ctx, rt, auth)
	if err != nil {
		writeUpstreamError(w, err)
		return
	}
	if commit == "" {
		commit = info.sha
	}
	alt := policy.SafeAlternative(rt.Path, g.visibleFiles(rt, info.files))
	msg := policy.RefusalMessage(rt.Path, d, alt)
	w.Header().Set("X-Hf-Warning", headerSafe("safehub-"+rt.Repo+"/"+rt.Path+"; "+msg))
	writeError(w, http.StatusNotFound, "EntryNotFound", msg, commit)
}

// visibleFiles keeps the files the policy would list, so the alternative
// named in a refusal is one the user can actually download.
func (g *Gateway) visibleFiles(rt hubapi.Route, files []string) []string {
	out := files[:0:0]
	for _, f := range files {
		if d := g.pol.File(repoType(rt.Type), rt.Repo, f); d.Allow {
			out = append(out, f)
		}
	}
	return out
}

// clientHeaders are the request headers worth passing upstream besides the
// token: the client's identity, for the Hub's logs and rate limits.
func clientHeaders(r *http.Request) http.Header {
	h := http.Header{}
	for _, k := range []string{"User-Agent", "X-Request-Id", "X-Amzn-Trace-Id"} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h
}

// verdictOf is the content verdict of a file: through upstream range reads
// for metadata fresh from the upstream, from the stored blob for metadata
// recalled from the index (which knows no byte location).
func (g *Gateway) verdictOf(ctx context.Context, rt hubapi.Route, m *upstream.FileMeta, auth string) (*scan.Result, error) {
	if m.HasSource() {
		return g.inspect(ctx, rt, m, auth)
	}
	rd, err := g.openStored(ctx, m)
	if err != nil {
		return nil, &upstream.Error{Status: http.StatusServiceUnavailable, Msg: "the cached copy of this file was just evicted; retry"}
	}
	defer rd.Close()
	return g.inspectLocal(ctx, rt, m, rd)
}

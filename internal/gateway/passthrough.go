package gateway

import (
	"net/http"

	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/upstream"
)

// servePassthrough relays the read-only API calls clients make besides
// downloads (whoami-v2, commits, refs, discussions, repo lists). Only
// routes hubapi knows get here, so the gateway is never an open proxy.
// JSON answers get the same filtering as repo info (list endpoints can
// carry siblings).
func (g *Gateway) servePassthrough(w http.ResponseWriter, r *http.Request, rt hubapi.Route, rec *requestLog) {
	if rt.Repo != "" && !g.allowed(g.pol.Repo(repoType(rt.Type), rt.Repo), rec) {
		g.refuseRepo(w, rec.last)
		return
	}
	req := upstream.Request{Method: http.MethodGet, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery}
	if rt.Kind == hubapi.KindRepoAPI {
		req.Path = hubapi.RepoAPIPath(rt.Type, rt.Repo, rt.Rest)
	}
	g.relayJSON(w, r, rec, rt, req, g.filterRepoInfo)
}

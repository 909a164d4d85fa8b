// Package gateway is safehub's HTTP front: it speaks the Hub protocol to
// huggingface_hub clients, asks the policy about every file, checks the
// content of every file it lets through before the first byte leaves, hides
// refused files from listings, and keeps every byte on itself (no CDN
// redirect and no Xet hint ever reaches a client).
package gateway

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/upstream"
)

// Gateway is an http.Handler. It holds no per-request state.
type Gateway struct {
	up       *upstream.Client
	pol      *policy.Policy
	log      *slog.Logger
	verdicts *verdictCache
	// scanSlots bounds concurrent content checks (memory and upstream reads).
	scanSlots *semaphore.Weighted
	cache     *cache.Cache // nil: every GET streams from the upstream
	observers []Observer
}

// Config is what New needs. Policy, Logger and Cache may be nil.
type Config struct {
	Upstream *upstream.Client
	Policy   *policy.Policy
	Logger   *slog.Logger
	Cache    *cache.Cache
	// Observers receive one Event per request (audit log, metrics).
	Observers []Observer
}

// New returns a gateway in front of cfg.Upstream.
func New(cfg Config) (*Gateway, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("gateway: no upstream")
	}
	g := &Gateway{up: cfg.Upstream, pol: cfg.Policy, log: cfg.Logger, verdicts: newVerdictCache(maxVerdicts),
		scanSlots: semaphore.NewWeighted(maxParallelScan), cache: cfg.Cache, observers: cfg.Observers}
	if g.pol == nil {
		g.pol = policy.Default()
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g, nil
}

// ServeHTTP dispatches on hubapi.Parse: ServeMux cannot route Hub URLs.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &requestLog{start: time.Now()}
	w = &statusWriter{ResponseWriter: w}
	defer g.logRequest(w.(*statusWriter), r, rec)

	rt, err := hubapi.Parse(r.Method, r.URL)
	if err != nil {
		var he *hubapi.Error
		if errors.As(err, &he) {
			rec.decision = "bad-request"
			writeError(w, he.Status, "", "safehub: "+he.Msg, "")
			return
		}
		writeError(w, http.StatusBadRequest, "", "safehub: "+err.Error(), "")
		return
	}
	rec.route = rt
	switch rt.Kind {
	case hubapi.KindResolve, hubapi.KindResolveCache:
		g.serveFile(w, r, rt, rec)
	case hubapi.KindRepoInfo:
		g.serveRepoInfo(w, r, rt, rec)
	case hubapi.KindTree, hubapi.KindPathsInfo:
		g.serveListing(w, r, rt, rec)
	case hubapi.KindRepoAPI, hubapi.KindAPI:
		g.servePassthrough(w, r, rt, rec)
	case hubapi.KindXetToken:
		rec.decision = "refuse"
		rec.rule = "xet-disabled"
		writeError(w, http.StatusForbidden, "", "safehub: Xet is disabled by safehub; files are served over HTTP through the gateway (set HF_HUB_DISABLE_XET=1 and clear stale hub/*/trees/ caches if this persists)", "")
	case hubapi.KindGit:
		rec.decision = "refuse"
		rec.rule = "git-disabled"
		writeError(w, http.StatusForbidden, "", "safehub: git access is disabled; download with huggingface_hub through HF_ENDPOINT", "")
	case hubapi.KindTelemetry:
		w.WriteHeader(http.StatusOK)
	default:
		writeError(w, http.StatusNotFound, "", "safehub: no such route", "")
	}
}

// repoType converts between the protocol's and the policy's names (they
// share their values: "model", "dataset", "space").
func repoType(t hubapi.RepoType) policy.RepoType { return policy.RepoType(t) }

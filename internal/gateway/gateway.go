// Package gateway is safehub's HTTP front: it speaks the Hub protocol to
// huggingface_hub clients, asks the policy about every file, checks the
// content of every file it lets through before the first byte leaves, hides
// refused files from listings, and keeps every byte on itself (no CDN
// redirect and no Xet hint ever reaches a client).
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

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
	index     *metaIndex // file metadata by commit, branch commits, public repos
	memo      *authMemo  // upstream acceptances of tokens, per repo
	now       func() time.Time
	fullUntil atomic.Int64 // unix nanos: until then GETs bypass a full cache disk

	base        context.Context // cancelled by Close: ends background probes
	stop        context.CancelFunc
	probes      sync.WaitGroup
	probeFlight singleflight.Group
	listings    *listingStash // last listings, for offline snapshot_download
}

// Config is what New needs. Policy, Logger and Cache may be nil.
type Config struct {
	Upstream *upstream.Client
	Policy   *policy.Policy
	Logger   *slog.Logger
	Cache    *cache.Cache
	// Observers receive one Event per request (audit log, metrics).
	Observers []Observer
	// MetaDir holds the metadata index (index.jsonl), so a restart keeps
	// what the upstream said about files by commit, branches and public
	// repos, and cached public files can be served while the upstream is
	// unreachable. Empty: the index lives in memory only.
	MetaDir string
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// New returns a gateway in front of cfg.Upstream.
func New(cfg Config) (*Gateway, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("gateway: no upstream")
	}
	g := &Gateway{up: cfg.Upstream, pol: cfg.Policy, log: cfg.Logger, verdicts: newVerdictCache(maxVerdicts),
		scanSlots: semaphore.NewWeighted(maxParallelScan), cache: cfg.Cache, observers: cfg.Observers,
		memo: newAuthMemo(), now: cfg.Now}
	if g.pol == nil {
		g.pol = policy.Default()
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	ix, err := openMetaIndex(cfg.MetaDir, g.log)
	if err != nil {
		return nil, err
	}
	g.index = ix
	g.listings = newListingStash(cfg.MetaDir)
	g.base, g.stop = context.WithCancel(context.Background())
	return g, nil
}

// Close ends background work (public-repo probes) and closes the metadata
// index. Requests still running are not affected; call it after the HTTP
// server has shut down.
func (g *Gateway) Close() error {
	g.stop()
	g.probes.Wait()
	return g.index.close()
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

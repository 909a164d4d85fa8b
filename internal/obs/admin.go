package obs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/safehub/safehub/internal/policy"
)

// AdminConfig is what the admin listener shows. Only Monitor is required.
type AdminConfig struct {
	Monitor      *Monitor       // the Observer given to gateway.Config.Observers
	Cache        CacheInfo      // the blob cache's counters and size
	Policy       *policy.Policy // the policy in force (nil: the built-in default)
	Upstream     Probe          // reachability of the upstream, e.g. UpstreamProbe(client)
	UpstreamName string         // shown on the page; must hold no credentials
	Version      string         // safehub's version, shown in the page footer
	Log          *slog.Logger   // for failures while rendering; nil discards
}

// Admin is the admin listener's http.Handler:
//
//	/          status page (HTML): refusals, repos, cache, policy
//	/metrics   Prometheus metrics
//	/healthz   200 while the process runs
//	/readyz    200 when the upstream or the cache can serve, else 503
type Admin struct {
	cfg      AdminConfig
	mux      *http.ServeMux
	usage    *usageCache
	upstream *cachedProbe
	log      *slog.Logger
}

// NewAdmin builds the handler and registers the cache collector on the
// Monitor's registry. Call it once per Monitor.
func NewAdmin(cfg AdminConfig) (*Admin, error) {
	if cfg.Monitor == nil || cfg.Monitor.Metrics == nil {
		return nil, errors.New("obs.NewAdmin: no Monitor; create one with obs.NewMonitor and pass it to gateway.Config.Observers too")
	}
	if cfg.Policy == nil {
		cfg.Policy = policy.Default()
	}
	a := &Admin{cfg: cfg, mux: http.NewServeMux(), usage: &usageCache{fn: cfg.Cache.Usage}, log: cfg.Log}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.upstream = &cachedProbe{probe: cfg.Upstream, onRun: cfg.Monitor.Metrics.setUpstreamUp}
	reg := cfg.Monitor.Metrics.Registry()
	if err := reg.Register(newCacheCollector(cfg.Cache, a.usage)); err != nil {
		return nil, fmt.Errorf("obs.NewAdmin: registering the cache metrics: %w (NewAdmin was called twice for one Monitor)", err)
	}
	// InstrumentMetricHandler adds promhttp_metric_handler_requests_total,
	// so a scraper's own traffic is visible too.
	a.mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError, // one failing collector must not hide the rest
		Registry:          reg,                      // promhttp's own scrape counters
		EnableOpenMetrics: true,
	})))
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	a.mux.HandleFunc("GET /readyz", a.serveReady)
	a.mux.HandleFunc("GET /{$}", a.serveStatus)
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The page shows token hashes and client addresses: keep it out of
	// caches and frames, and let it load nothing from anywhere.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	a.mux.ServeHTTP(w, r)
}

func (a *Admin) serveReady(w http.ResponseWriter, r *http.Request) {
	rd := a.readiness(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !rd.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready")
	} else {
		fmt.Fprintln(w, "ready")
	}
	fmt.Fprintf(w, "upstream: %s\ncache: %s\n", okWord(rd.Upstream), okWord(rd.Cache))
	if !rd.Ready {
		fmt.Fprintln(w, "next: check that the upstream (--upstream) is reachable from this host, or let the cache fill while it is")
	}
}

func okWord(c CheckResult) string {
	if c.OK {
		return "ok, " + c.Detail
	}
	return "not ok, " + c.Detail
}

// ListenAndServe runs h on addr until ctx ends, then shuts it down within
// grace. It returns once the listener is closed; a failure to listen is
// returned at once, so serve can stop with a clear message.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, log *slog.Logger, grace time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin listener: %w (pick a free address with --admin-listen, e.g. 127.0.0.1:9090)", err)
	}
	return Serve(ctx, ln, h, log, grace)
}

// Serve is ListenAndServe on an open listener.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, grace time.Duration) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // pages and scrapes are small
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

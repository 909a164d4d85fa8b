package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/safehub/safehub/internal/audit"
	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/config"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/mirror"
	"github.com/safehub/safehub/internal/obs"
	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/internal/upstream"
)

const (
	mirrorBase    = "http://mirror.safehub.invalid" // never dialled: served in process
	shutdownGrace = 15 * time.Second
)

func newServeCmd() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Hub gateway that users reach with HF_ENDPOINT",
		Long: `Run a Hugging Face Hub gateway. Point users at it with HF_ENDPOINT; it
forwards to the upstream Hub (or serves a local mirror folder), hides and
refuses pickle-based files, checks the content of every file it passes,
caches what it verified, and keeps every byte on itself (no CDN redirect,
no Xet).

--upstream may be an http(s) URL or a folder laid out as
models|datasets|spaces/<org>/<name>/<files>.

Settings come from, in order: built-in defaults, the config file
(--config, or /etc/safehub/config.yaml when it exists), the environment
(SAFEHUB_LISTEN, SAFEHUB_UPSTREAM), then the flags given.`,
		Example: `  safehub serve --listen 0.0.0.0:8080
  safehub serve --upstream ./examples/mirror --policy /etc/safehub/policy.yaml
  safehub serve --config /etc/safehub/config.yaml --admin-listen 127.0.0.1:9090
  HF_ENDPOINT=http://127.0.0.1:8080 hf download org/model config.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Resolve(configFile, cmd.Flags())
			if err != nil {
				return withCode(ExitError, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, cfg, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "config file (YAML); default "+config.DefaultPath+" when it exists")
	// Flag defaults are the built-in ones: only flags actually given
	// override the config file and the environment.
	f.String("listen", config.DefaultListen, "address to listen on")
	f.String("upstream", config.DefaultUpstream, "upstream Hub URL, or a local mirror folder")
	f.String("cache-dir", config.DefaultCacheDir(), "folder for the verified blob cache (created if missing)")
	f.String("cache-max", "", "cap on the cache's size (e.g. 500G); least recently used blobs go first; empty: no cap")
	f.String("policy", "", "policy file (YAML); the built-in default when empty")
	f.String("admin-listen", "", "address for /metrics, /healthz, /readyz and the status page (keep it private); empty: off")
	f.String("audit-log", "", "audit log file, one JSON line per decision; empty: off")
	f.String("audit-log-max-size", "", "rotate the audit log past this size (e.g. 100M)")
	f.Int("audit-log-max-files", 0, "audit log files to keep, the live one included")
	return cmd
}

// defaultCacheDir is where serve and the cache commands look by default.
func defaultCacheDir() string { return config.DefaultCacheDir() }

func runServe(ctx context.Context, cfg *config.Config, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	pol := policy.Default()
	if cfg.Policy != "" {
		var err error
		if pol, err = policy.Load(cfg.Policy); err != nil {
			return withCode(ExitError, err)
		}
	}
	if cfg.CacheDir == "" {
		return withCode(ExitError, errors.New("no cache folder: set --cache-dir or cache_dir in the config file"))
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return withCode(ExitError, fmt.Errorf("cache dir: %w (set --cache-dir to a writable folder)", err))
	}
	st, err := disk.Open(filepath.Join(cfg.CacheDir, "store"), disk.Options{})
	if err != nil {
		return withCode(ExitError, err)
	}
	blobs := cache.New(st, cache.Options{MaxBytes: int64(cfg.CacheMax), Log: log})
	defer blobs.Close()
	up, desc, err := openUpstream(ctx, cfg.Upstream, cfg.CacheDir, log)
	if err != nil {
		return withCode(ExitError, err)
	}

	mon := obs.NewMonitor(obs.DefaultRecentRefusals)
	observers := []gateway.Observer{mon}
	var auditLog *audit.Log
	if cfg.AuditLog.Path != "" {
		if auditLog, err = audit.Open(cfg.AuditLog.Path, int64(cfg.AuditLog.MaxSize), cfg.AuditLog.MaxFiles, audit.WithLogger(log)); err != nil {
			return withCode(ExitError, err)
		}
		observers = append(observers, auditLog)
	}
	gw, err := gateway.New(gateway.Config{Upstream: up, Policy: pol, Logger: log, Cache: blobs,
		MetaDir: filepath.Join(cfg.CacheDir, "meta"), Observers: observers})
	if err != nil {
		return withCode(ExitError, err)
	}
	defer gw.Close()

	// Listeners first, so a taken port stops start-up with a clear error.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return withCode(ExitError, fmt.Errorf("listen on %s: %w (pick another address with --listen)", cfg.Listen, err))
	}
	adminDone := make(chan struct{})
	if cfg.AdminListen != "" {
		admin, err := obs.NewAdmin(obs.AdminConfig{
			Monitor: mon,
			Cache: obs.CacheInfo{
				Stats:    blobs.Stats,
				Usage:    func(ctx context.Context) (int64, error) { return store.Usage(ctx, st) },
				MaxBytes: int64(cfg.CacheMax),
			},
			Policy:       pol,
			Upstream:     obs.UpstreamProbe(up),
			UpstreamName: desc,
			Version:      Version,
			Log:          log,
		})
		if err != nil {
			return withCode(ExitError, err)
		}
		aln, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			return withCode(ExitError, fmt.Errorf("admin listener on %s: %w (pick another address with --admin-listen)", cfg.AdminListen, err))
		}
		go func() { defer close(adminDone); obs.Serve(ctx, aln, admin, log, shutdownGrace) }()
	} else {
		close(adminDone)
	}

	srv := gateway.NewServer(gw, log)
	log.Info("safehub serving", "listen", ln.Addr().String(), "upstream", desc, "admin", cfg.AdminListen,
		"config", cfg.Source, "policy", policySource(cfg.Policy), "mode", pol.Mode(), "cache", cfg.CacheDir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return withCode(ExitError, err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close() // downloads still running after the grace period are cut
	}
	<-adminDone
	if auditLog != nil {
		if err := auditLog.Close(); err != nil {
			log.Error("closing the audit log", "err", err)
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return withCode(ExitError, err)
	}
	return nil
}

// openUpstream returns a client for a URL, or for a mirror folder served
// in process. desc names it for the log without any credentials. A mirror
// hashes its files in the background from start-up, so no client's first
// HEAD waits for a large file's sha256; the digests survive restarts in
// the cache dir.
func openUpstream(ctx context.Context, spec, cacheDir string, log *slog.Logger) (*upstream.Client, string, error) {
	if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
		c, err := upstream.New(spec, nil)
		if err != nil {
			return nil, "", err
		}
		u := *c.Base()
		u.User = nil
		return c, u.String(), nil
	}
	st, err := os.Stat(spec)
	if err != nil || !st.IsDir() {
		return nil, "", fmt.Errorf("upstream %q is neither an http(s) URL nor a folder", spec)
	}
	opts := []mirror.Option{mirror.WithWarmup(ctx, func(err error) {
		if err != nil && ctx.Err() == nil {
			log.Warn("mirror warm-up failed", "err", err)
		} else if err == nil {
			log.Info("mirror files hashed", "folder", spec)
		}
	})}
	if cacheDir != "" {
		opts = append(opts, mirror.WithDigestFile(filepath.Join(cacheDir, "mirror-digests.jsonl")))
	}
	h, err := mirror.New(spec, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("mirror %s: %w", spec, err)
	}
	c, err := upstream.New(mirrorBase, upstream.HandlerTransport(h))
	if err != nil {
		return nil, "", err
	}
	return c, "folder " + spec, nil
}

func policySource(f string) string {
	if f == "" {
		return "built-in default"
	}
	return f
}

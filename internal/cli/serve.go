package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/mirror"
	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/internal/upstream"
)

const (
	defaultListen   = "127.0.0.1:8080"
	defaultUpstream = "https://huggingface.co"
	mirrorBase      = "http://mirror.safehub.invalid" // never dialled: served in process
	shutdownGrace   = 15 * time.Second
)

type serveOptions struct {
	listen, upstream, cacheDir, policyFile, cacheMax string
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Hub gateway that users reach with HF_ENDPOINT",
		Long: `Run a Hugging Face Hub gateway. Point users at it with HF_ENDPOINT; it
forwards to the upstream Hub (or serves a local mirror folder), hides and
refuses pickle-based files, checks the content of every file it passes, and
keeps every byte on itself (no CDN redirect, no Xet).

--upstream may be an http(s) URL or a folder laid out as
models|datasets|spaces/<org>/<name>/<files>. SAFEHUB_UPSTREAM and
SAFEHUB_LISTEN set the defaults of --upstream and --listen.`,
		Example: `  safehub serve --listen 0.0.0.0:8080
  safehub serve --upstream ./examples/mirror --policy /etc/safehub/policy.yaml
  HF_ENDPOINT=http://127.0.0.1:8080 hf download org/model config.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", envOr("SAFEHUB_LISTEN", defaultListen), "address to listen on")
	f.StringVar(&o.upstream, "upstream", envOr("SAFEHUB_UPSTREAM", defaultUpstream), "upstream Hub URL, or a local mirror folder")
	f.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "folder for the verified blob cache (created if missing)")
	f.StringVar(&o.cacheMax, "cache-max", "", "cap on the cache's size (e.g. 500G); least recently used blobs go first; empty: no cap")
	f.StringVar(&o.policyFile, "policy", "", "policy file (YAML); the built-in default when empty")
	return cmd
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func runServe(ctx context.Context, o serveOptions, stderr interface{ Write([]byte) (int, error) }) error {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	pol := policy.Default()
	if o.policyFile != "" {
		var err error
		if pol, err = policy.Load(o.policyFile); err != nil {
			return withCode(ExitError, err)
		}
	}
	blobs, err := openCache(o, log)
	if err != nil {
		return withCode(ExitError, err)
	}
	defer blobs.Close()
	up, desc, err := openUpstream(ctx, o.upstream, o.cacheDir, log)
	if err != nil {
		return withCode(ExitError, err)
	}
	gw, err := gateway.New(gateway.Config{Upstream: up, Policy: pol, Logger: log, Cache: blobs})
	if err != nil {
		return withCode(ExitError, err)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withCode(ExitError, fmt.Errorf("listen: %w", err))
	}
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second, // slow-header clients
		ReadTimeout:       60 * time.Second, // request bodies are small (paths-info forms)
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// No WriteTimeout: it would cut multi-GB downloads. Each write has
		// its own deadline in the gateway instead.
	}
	log.Info("safehub serving", "listen", ln.Addr().String(), "upstream", desc,
		"policy", policySource(o.policyFile), "mode", pol.Mode())
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
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return withCode(ExitError, err)
	}
	return nil
}

// openUpstream returns a client for a URL, or for a mirror folder served
// in process. desc names it for the log without any credentials. A mirror
// hashes its files in the background from start-up, so no client's first
// HEAD waits for a large file's sha256; with a cache dir the digests
// survive restarts.
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

// defaultCacheDir is the user's cache folder (root: /root/.cache/safehub).
func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "safehub")
	}
	return ""
}

// openCache opens the verified blob cache under the cache dir.
func openCache(o serveOptions, log *slog.Logger) (*cache.Cache, error) {
	if o.cacheDir == "" {
		return nil, errors.New("no --cache-dir given and no user cache folder to default to")
	}
	if err := os.MkdirAll(o.cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	max, err := parseSize(o.cacheMax)
	if err != nil {
		return nil, fmt.Errorf("--cache-max: %w", err)
	}
	st, err := disk.Open(filepath.Join(o.cacheDir, "store"), disk.Options{})
	if err != nil {
		return nil, err
	}
	return cache.New(st, cache.Options{MaxBytes: max, Log: log}), nil
}

// parseSize reads "500G", "20GiB", "1T", "123456" (bytes); "" is 0 (no cap).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I"))
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'K':
		mult = 1 << 10
	case 'M':
		mult = 1 << 20
	case 'G':
		mult = 1 << 30
	case 'T':
		mult = 1 << 40
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 500G", s)
	}
	return n * mult, nil
}

func policySource(f string) string {
	if f == "" {
		return "built-in default"
	}
	return f
}

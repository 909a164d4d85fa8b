package obs_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/safehub/safehub/internal/cache"
	"github.com/safehub/safehub/internal/gateway"
	"github.com/safehub/safehub/internal/obs"
	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
	"github.com/safehub/safehub/internal/upstream"
)

// Example_serve is how `safehub serve --admin-listen ADDR` wires the admin
// listener: one Monitor observes the gateway and feeds the admin handler.
func Example_serve() {
	ctx := context.Background()
	log := slog.Default()
	pol := policy.Default()
	st, _ := disk.Open(filepath.Join("/var/cache/safehub", "store"), disk.Options{})
	blobs := cache.New(st, cache.Options{MaxBytes: 500 << 30})
	up, _ := upstream.New("https://huggingface.co", nil)

	mon := obs.NewMonitor(obs.DefaultRecentRefusals)
	gw, _ := gateway.New(gateway.Config{Upstream: up, Policy: pol, Cache: blobs, Logger: log,
		Observers: []gateway.Observer{mon}}) // plus the audit log's observer
	_ = gw // served on --listen as before

	admin, err := obs.NewAdmin(obs.AdminConfig{
		Monitor: mon,
		Cache: obs.CacheInfo{
			Stats:    blobs.Stats,
			Usage:    func(ctx context.Context) (int64, error) { return store.Usage(ctx, st) },
			MaxBytes: 500 << 30,
		},
		Policy:       pol,
		Upstream:     obs.UpstreamProbe(up),
		UpstreamName: "https://huggingface.co",
		Version:      "v1.0.0",
		Log:          log,
	})
	if err != nil {
		log.Error("admin", "err", err)
		return
	}
	// Listen before serving users, so a taken port stops start-up with a
	// clear error; Serve returns when ctx ends.
	ln, err := net.Listen("tcp", "127.0.0.1:9090")
	if err != nil {
		log.Error("admin listener: pick a free address with --admin-listen", "err", err)
		return
	}
	go obs.Serve(ctx, ln, admin, log, 15*time.Second)
}

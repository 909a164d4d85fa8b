package gateway

import (
	"context"
	"net/http"
	"path"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/scan"
	"github.com/safehub/safehub/internal/upstream"
)

const (
	maxVerdicts = 200_000
	// A scan holds at most one decompressed member in memory (archive
	// wrappers such as .tar.gz); these bound what concurrent scans can
	// take together. A file past the cap is unknown, and refused.
	maxScanInflate  = 512 << 20
	maxParallelScan = 4
)

// inspect returns the content verdict of a file, scanning it through HTTP
// range reads if no verdict is cached. A verdict depends on the bytes
// (named by their digest, which the upstream vouches for) and on the
// file's extension (which decides how loosely pickles are sniffed), so
// that pair is the cache key. Concurrent requests for the same blob share
// one scan.
func (g *Gateway) inspect(ctx context.Context, rt hubapi.Route, m *upstream.FileMeta, auth string) (*scan.Result, error) {
	key := verdictKey(m.Digest(), rt.Path)
	if res, ok := g.verdicts.get(key); ok {
		return res, nil
	}
	ch := g.verdicts.flight.DoChan(key, func() (any, error) {
		// The scan outlives a client that hangs up: the next one reuses it.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), scanTimeout)
		defer cancel()
		if err := g.scanSlots.Acquire(sctx, 1); err != nil {
			return nil, &upstream.Error{Status: http.StatusServiceUnavailable, Msg: "content checks are saturated; retry shortly"}
		}
		defer g.scanSlots.Release(1)
		ra := newRangeReader(sctx, g.up, m, auth)
		res, err := scan.Scan(sctx, ra, m.Size, scan.Options{Profile: g.pol.ScanProfile(), NameHint: rt.Path, MaxInflate: maxScanInflate})
		if err != nil {
			return nil, err
		}
		g.verdicts.put(key, res)
		return res, nil
	})
	select {
	case <-ctx.Done():
		return nil, &upstream.Error{Status: 499, Msg: "client went away during the content check"}
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*scan.Result), nil
	}
}

func verdictKey(digest, name string) string {
	return digest + "|" + strings.ToLower(path.Ext(name))
}

// verdictCache remembers scan results by blob, bounded in entries. It also
// remembers which blobs were refused by content, so listings can hide them
// and agree with what a direct request would get.
type verdictCache struct {
	mu      sync.Mutex
	max     int
	results map[string]*scan.Result
	order   []string // insertion order, for eviction
	refused map[string]bool
	flight  singleflight.Group
}

func newVerdictCache(max int) *verdictCache {
	return &verdictCache{max: max, results: map[string]*scan.Result{}, refused: map[string]bool{}}
}

func (c *verdictCache) get(key string) (*scan.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.results[key]
	return r, ok
}

func (c *verdictCache) put(key string, r *scan.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.results[key]; ok {
		return
	}
	if len(c.order) >= c.max {
		old := c.order[0]
		c.order = c.order[1:]
		delete(c.results, old)
	}
	c.results[key] = r
	c.order = append(c.order, key)
}

func (c *verdictCache) markRefused(digest, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.refused) < c.max {
		c.refused[verdictKey(digest, name)] = true
	}
}

func (c *verdictCache) isRefused(digest, name string) bool {
	if digest == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused[verdictKey(digest, name)]
}

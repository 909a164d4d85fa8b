package gateway

import (
	"context"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/safehub/safehub/internal/hubapi"
	"github.com/safehub/safehub/internal/scan"
	"github.com/safehub/safehub/internal/scan/finding"
	"github.com/safehub/safehub/internal/upstream"
)

const (
	maxVerdicts = 200_000
	// A scan holds at most one decompressed member in memory (archive
	// wrappers such as .tar.gz); these bound what concurrent scans can
	// take together. A file past the cap is unknown, and refused.
	maxScanInflate  = 512 << 20
	maxParallelScan = 4
	// A file up to this size that the scan would refuse is read whole and
	// checked against its digest first: range reads carry no digest, and a
	// corrupt upstream must read as a failed transfer, not as a refusal.
	verifyRefusalsUpTo = 16 << 20
	// Larger files cannot be verified that cheaply; a doubtful verdict on
	// them is kept for a while only, so a transient upstream fault cannot
	// make a blob refused for the life of the process.
	unverifiedVerdictTTL = 10 * time.Minute
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
		ttl := time.Duration(0) // for good
		if doubtful := res.Verdict != finding.Safe || res.PickleBearing; doubtful {
			if m.Size > verifyRefusalsUpTo {
				ttl = unverifiedVerdictTTL
			} else if err := verifyWhole(ra, m); err != nil {
				return nil, err
			}
		}
		g.verdicts.put(key, res, ttl)
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

// verifyWhole reads a small file through its range reader and checks it
// against the digest the upstream announced.
func verifyWhole(ra io.ReaderAt, m *upstream.FileMeta) error {
	v := newVerifier(m)
	if v == nil {
		return nil
	}
	if _, err := io.Copy(v.h, io.NewSectionReader(ra, 0, m.Size)); err != nil {
		return &upstream.Error{Status: http.StatusBadGateway, Msg: "reading the file for its digest check: " + err.Error()}
	}
	if !v.ok() {
		return &upstream.Error{Status: http.StatusBadGateway, Msg: "the upstream's bytes do not match the file's digest " + v.want}
	}
	return nil
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
	results map[string]verdictEntry
	order   []string // insertion order, for eviction
	refused map[string]bool
	flight  singleflight.Group
}

func newVerdictCache(max int) *verdictCache {
	return &verdictCache{max: max, results: map[string]verdictEntry{}, refused: map[string]bool{}}
}

// verdictEntry is a cached result; expires is zero for a verdict kept
// for good.
type verdictEntry struct {
	res     *scan.Result
	expires time.Time
}

func (c *verdictCache) get(key string) (*scan.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.results[key]
	if ok && !e.expires.IsZero() && time.Now().After(e.expires) {
		delete(c.results, key) // its slot in order is reclaimed on eviction
		return nil, false
	}
	return e.res, ok
}

// put keeps r under key, for ttl (0: until evicted).
func (c *verdictCache) put(key string, r *scan.Result, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.results[key]; ok {
		return
	}
	for len(c.order) >= c.max {
		old := c.order[0]
		c.order = c.order[1:]
		delete(c.results, old)
	}
	e := verdictEntry{res: r}
	if ttl > 0 {
		e.expires = time.Now().Add(ttl)
	}
	c.results[key] = e
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

package obs

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/safehub/safehub/internal/cache"
)

// usageTTL is how long a cache size reading is reused. Disk keeps a running
// total, but other backends list every blob to answer, and a scrape every
// few seconds must not do that each time.
const usageTTL = 10 * time.Second

// CacheInfo says where the admin side reads the blob cache's numbers. Any
// field may be nil (no cache configured).
type CacheInfo struct {
	Stats    func() cache.Stats                       // (*cache.Cache).Stats
	Usage    func(ctx context.Context) (int64, error) // e.g. store.Usage(ctx, st)
	MaxBytes int64                                    // the --cache-max cap, 0 for none
}

// CacheView is a snapshot of the cache for the status page.
type CacheView struct {
	Configured bool
	Stats      cache.Stats
	Size       int64
	SizeErr    string
	MaxBytes   int64
	HitRate    float64 // hits / (hits + fills), 0..1
	HasHitRate bool    // false until a cached file was asked for
}

// usageCache reuses one Usage reading for usageTTL.
type usageCache struct {
	fn  func(ctx context.Context) (int64, error)
	mu  sync.Mutex
	at  time.Time
	n   int64
	err error
}

func (u *usageCache) get(ctx context.Context) (int64, error) {
	if u == nil || u.fn == nil {
		return 0, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.at.IsZero() && time.Since(u.at) < usageTTL {
		return u.n, u.err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u.n, u.err = u.fn(ctx)
	u.at = time.Now()
	return u.n, u.err
}

func (ci CacheInfo) view(ctx context.Context, u *usageCache) CacheView {
	v := CacheView{Configured: ci.Stats != nil || ci.Usage != nil, MaxBytes: ci.MaxBytes}
	if ci.Stats != nil {
		v.Stats = ci.Stats()
		if total := v.Stats.Hits + v.Stats.Fills; total > 0 {
			v.HitRate, v.HasHitRate = float64(v.Stats.Hits)/float64(total), true
		}
	}
	if ci.Usage != nil {
		n, err := u.get(ctx)
		v.Size = n
		if err != nil {
			v.SizeErr = err.Error()
		}
	}
	return v
}

// cacheCollector turns (*cache.Cache).Stats and the store's usage into
// series at scrape time, so the counters are exactly the cache's own.
type cacheCollector struct {
	info  CacheInfo
	usage *usageCache

	hits, fills, failures, commits, commitErrors, size, max *prometheus.Desc
}

func newCacheCollector(info CacheInfo, usage *usageCache) *cacheCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &cacheCollector{
		info: info, usage: usage,
		hits:         d("safehub_cache_hits_total", "Blob opens served from the cache's store (cache.Stats.Hits)."),
		fills:        d("safehub_cache_fills_total", "Upstream fetches started to fill the cache: the misses (cache.Stats.Fills)."),
		failures:     d("safehub_cache_fill_failures_total", "Fills that failed: digest mismatch, content refusal, upstream error."),
		commits:      d("safehub_cache_commits_total", "Verified fills kept in the store."),
		commitErrors: d("safehub_cache_commit_errors_total", "Verified fills the store could not keep (disk full, permissions)."),
		size:         d("safehub_cache_stored_bytes", "Bytes held by the blob store."),
		max:          d("safehub_cache_max_bytes", "The configured cap on the store (--cache-max); absent when there is none."),
	}
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.fills, c.failures, c.commits, c.commitErrors, c.size, c.max} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	if c.info.Stats != nil {
		s := c.info.Stats()
		for _, m := range []struct {
			d *prometheus.Desc
			v int64
		}{{c.hits, s.Hits}, {c.fills, s.Fills}, {c.failures, s.Failures}, {c.commits, s.Commits}, {c.commitErrors, s.CommitErrors}} {
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
		}
	}
	if c.info.Usage != nil {
		// A failed reading is left out rather than reported as 0 bytes,
		// which an alert on "cache emptied" would misread.
		if n, err := c.usage.get(context.Background()); err == nil {
			ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(n))
		}
	}
	if c.info.MaxBytes > 0 {
		ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(c.info.MaxBytes))
	}
}

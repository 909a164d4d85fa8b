package cache

import "sync/atomic"

// Stats are counters since New, for metrics and tests.
type Stats struct {
	Hits         int64 // Opens served from the store
	Fills        int64 // upstream fetches started
	Failures     int64 // fills that failed (mismatch, refusal, upstream error, Close)
	Commits      int64 // fills committed (or already present)
	CommitErrors int64 // verified fills the store could not keep
}

type counters struct {
	hits, fills, failures, commits, commitErrors atomic.Int64
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits:         c.stats.hits.Load(),
		Fills:        c.stats.fills.Load(),
		Failures:     c.stats.failures.Load(),
		Commits:      c.stats.commits.Load(),
		CommitErrors: c.stats.commitErrors.Load(),
	}
}

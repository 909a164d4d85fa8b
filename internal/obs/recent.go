package obs

import (
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/safehub/safehub/internal/gateway"
)

const (
	// DefaultRecentRefusals is how many refused requests the status page keeps.
	DefaultRecentRefusals = 50
	// maxTrackedRepos bounds the per-repo table: a scan of many repos by one
	// client must not grow it without end. Requests for repos seen after the
	// table is full are only counted in OtherRepoRequests.
	maxTrackedRepos = 10000
	// maxTextLen bounds every string kept from an Event (reasons may quote
	// scanner findings; paths come from clients).
	maxTextLen = 300
)

// Refusal is one refused (or, in audit mode, would-be refused) request as
// the status page lists it.
type Refusal struct {
	Time      time.Time
	RepoType  string
	Repo      string
	File      string
	Rule      string
	Reason    string
	Verdict   string
	TokenHash string
	Client    string
	Audit     bool // audit mode: served, but would have been refused
}

// RepoCount is one row of the most-requested-repos table.
type RepoCount struct {
	RepoType string
	Repo     string
	Requests int64
	Refused  int64 // refused or would-be refused
	Bytes    int64
}

// Totals are counts since start.
type Totals struct {
	Requests          int64
	Refused           int64
	AuditRefused      int64
	Errors            int64 // 5xx answers
	Bytes             int64
	OtherRepoRequests int64 // requests for repos past maxTrackedRepos
}

// Recent keeps what the status page shows: the last refusals in a ring
// buffer, request counts per repo and totals. A nil *Recent records
// nothing. Safe for concurrent use; Observe holds a mutex for a few map
// operations only.
type Recent struct {
	mu      sync.Mutex
	started time.Time
	ring    []Refusal
	next    int // where the next refusal goes
	full    bool
	repos   map[string]*RepoCount
	totals  Totals
}

// NewRecent keeps the last n refusals (DefaultRecentRefusals when n <= 0).
func NewRecent(n int) *Recent {
	if n <= 0 {
		n = DefaultRecentRefusals
	}
	return &Recent{started: time.Now(), ring: make([]Refusal, n), repos: make(map[string]*RepoCount)}
}

// Observe records one gateway Event.
func (r *Recent) Observe(ev gateway.Event) {
	if r == nil {
		return
	}
	mode := refusalMode(ev.Decision)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.totals.Requests++
	r.totals.Bytes += max(ev.Bytes, 0)
	if ev.Status >= 500 {
		r.totals.Errors++
	}
	switch mode {
	case "enforce":
		r.totals.Refused++
	case "audit":
		r.totals.AuditRefused++
	}
	if ev.Repo != "" {
		key := ev.RepoType + "\x00" + ev.Repo
		rc := r.repos[key]
		if rc == nil && len(r.repos) < maxTrackedRepos {
			rc = &RepoCount{RepoType: clip(ev.RepoType), Repo: clip(ev.Repo)}
			r.repos[key] = rc
		}
		if rc == nil {
			r.totals.OtherRepoRequests++
		} else {
			rc.Requests++
			rc.Bytes += max(ev.Bytes, 0)
			if mode != "" {
				rc.Refused++
			}
		}
	}
	if mode == "" {
		return
	}
	r.ring[r.next] = Refusal{
		Time: ev.Time, RepoType: clip(ev.RepoType), Repo: clip(ev.Repo), File: clip(ev.File),
		Rule: clip(ev.Rule), Reason: clip(ev.Reason), Verdict: clip(ev.Verdict),
		TokenHash: clip(ev.TokenHash), Client: clip(ev.Client), Audit: mode == "audit",
	}
	r.next = (r.next + 1) % len(r.ring)
	if r.next == 0 {
		r.full = true
	}
}

// Refusals returns the kept refusals, newest first.
func (r *Recent) Refusals() []Refusal {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.ring)
	}
	out := make([]Refusal, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.ring[(r.next-i+len(r.ring))%len(r.ring)])
	}
	return out
}

// TopRepos returns the n most requested repos, most requested first (ties
// by name, so the page does not reshuffle between refreshes).
func (r *Recent) TopRepos(n int) []RepoCount {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	all := make([]RepoCount, 0, len(r.repos))
	for _, rc := range r.repos {
		all = append(all, *rc)
	}
	r.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].Requests != all[j].Requests {
			return all[i].Requests > all[j].Requests
		}
		if all[i].Repo != all[j].Repo {
			return all[i].Repo < all[j].Repo
		}
		return all[i].RepoType < all[j].RepoType
	})
	if len(all) > n {
		all = all[:n]
	}
	return all
}

// Totals returns the counts since start.
func (r *Recent) Totals() Totals {
	if r == nil {
		return Totals{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.totals
}

// Started is when r began counting.
func (r *Recent) Started() time.Time {
	if r == nil {
		return time.Time{}
	}
	return r.started
}

// clip makes client-supplied text safe to keep and show: invalid UTF-8
// (a decoded path may hold any bytes) becomes U+FFFD, and it is cut to
// maxTextLen bytes on a character boundary.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxTextLen {
		return s
	}
	cut := maxTextLen
	for cut > 0 && !utf8.RuneStart(s[cut]) { // never split a character
		cut--
	}
	return s[:cut] + "…"
}

package audit

import (
	"cmp"
	"slices"
	"time"
)

// Count is how often one thing (a rule, a repo, a file) was refused.
type Count struct {
	Key          string `json:"key"`
	Refused      int    `json:"refused"`
	AuditRefused int    `json:"audit_refused"` // audit mode: would have been refused
}

// Total is Refused plus AuditRefused.
func (c Count) Total() int { return c.Refused + c.AuditRefused }

// FileCount is how often one file of one repo was refused.
type FileCount struct {
	Repo string `json:"repo"` // as in RepoKey
	File string `json:"file"`
	Count
}

// DayCount is one UTC day's traffic.
type DayCount struct {
	Day          string `json:"day"` // YYYY-MM-DD, UTC
	Events       int    `json:"events"`
	Refused      int    `json:"refused"`
	AuditRefused int    `json:"audit_refused"`
}

// Summary is what 'safehub audit summary' reports.
type Summary struct {
	Since        time.Time   `json:"since,omitzero"`
	First        time.Time   `json:"first,omitzero"` // oldest event counted
	Last         time.Time   `json:"last,omitzero"`  // newest event counted
	Events       int         `json:"events"`
	Allowed      int         `json:"allowed"`
	Refused      int         `json:"refused"`
	AuditRefused int         `json:"audit_refused"`
	Errors       int         `json:"errors"` // upstream errors, scan errors, aborted and bad requests
	BytesServed  int64       `json:"bytes_served"`
	Dropped      int64       `json:"dropped"`       // events the gateway could not log (queue full)
	Damaged      int         `json:"damaged_lines"` // lines that were not records
	ByRule       []Count     `json:"by_rule"`
	ByRepo       []Count     `json:"by_repo"`
	ByDay        []DayCount  `json:"by_day"`
	TopFiles     []FileCount `json:"top_files"`
	MoreRepos    int         `json:"more_repos,omitempty"` // refused repos left out of ByRepo
	MoreFiles    int         `json:"more_files,omitempty"` // refused files left out of TopFiles
}

// RepoKey names a repo as its Hub URL does: "org/m" for a model,
// "datasets/org/d", "spaces/org/s".
func RepoKey(repoType, repo string) string {
	switch repoType {
	case "", "model":
		return repo
	}
	return repoType + "s/" + repo
}

// Summarizer builds a Summary from records added in any order.
type Summarizer struct {
	sum   Summary
	top   int
	rules map[string]*Count
	repos map[string]*Count
	days  map[string]*DayCount
	files map[[2]string]*FileCount
}

// NewSummarizer keeps the top most refused repos and files (all rules and
// days are kept).
func NewSummarizer(since time.Time, top int) *Summarizer {
	return &Summarizer{sum: Summary{Since: since}, top: top, rules: map[string]*Count{},
		repos: map[string]*Count{}, days: map[string]*DayCount{}, files: map[[2]string]*FileCount{}}
}

// Add counts one record.
func (s *Summarizer) Add(rec Record) {
	if rec.Decision == DecisionDropped {
		s.sum.Dropped += rec.Dropped
		return
	}
	s.sum.Events++
	if s.sum.First.IsZero() || rec.Time.Before(s.sum.First) {
		s.sum.First = rec.Time
	}
	if rec.Time.After(s.sum.Last) {
		s.sum.Last = rec.Time
	}
	dayKey := rec.Time.UTC().Format(time.DateOnly)
	day := s.days[dayKey]
	if day == nil {
		day = &DayCount{Day: dayKey}
		s.days[dayKey] = day
	}
	day.Events++
	switch rec.Decision {
	case DecisionAllow:
		s.sum.Allowed++
		s.sum.BytesServed += rec.Bytes
	case DecisionRefuse, DecisionAuditRefuse:
		// counted below
	default:
		s.sum.Errors++
	}
	if !rec.Refused() {
		return
	}
	audit := rec.Decision == DecisionAuditRefuse
	if audit {
		s.sum.AuditRefused++
		s.sum.BytesServed += rec.Bytes
		day.AuditRefused++
	} else {
		s.sum.Refused++
		day.Refused++
	}
	rule := rec.Rule
	if rule == "" {
		rule = "(no rule)"
	}
	bump(count(s.rules, rule), audit)
	if rec.Repo != "" {
		repo := RepoKey(rec.RepoType, rec.Repo)
		bump(count(s.repos, repo), audit)
		if rec.File != "" {
			k := [2]string{repo, rec.File}
			fc := s.files[k]
			if fc == nil {
				fc = &FileCount{Repo: repo, File: rec.File, Count: Count{Key: repo + ": " + rec.File}}
				s.files[k] = fc
			}
			bump(&fc.Count, audit)
		}
	}
}

func count(m map[string]*Count, key string) *Count {
	c := m[key]
	if c == nil {
		c = &Count{Key: key}
		m[key] = c
	}
	return c
}

func bump(c *Count, audit bool) {
	if audit {
		c.AuditRefused++
	} else {
		c.Refused++
	}
}

// Summary returns the totals and groups, most refused first (ties by name),
// days oldest first.
func (s *Summarizer) Summary() Summary {
	out := s.sum
	out.ByRule = sortedCounts(s.rules)
	out.ByRepo = sortedCounts(s.repos)
	if s.top > 0 && len(out.ByRepo) > s.top {
		out.MoreRepos = len(out.ByRepo) - s.top
		out.ByRepo = out.ByRepo[:s.top]
	}
	out.ByDay = make([]DayCount, 0, len(s.days))
	for _, d := range s.days {
		out.ByDay = append(out.ByDay, *d)
	}
	slices.SortFunc(out.ByDay, func(a, b DayCount) int { return cmp.Compare(a.Day, b.Day) })
	out.TopFiles = make([]FileCount, 0, len(s.files))
	for _, f := range s.files {
		out.TopFiles = append(out.TopFiles, *f)
	}
	slices.SortFunc(out.TopFiles, func(a, b FileCount) int { return byTotal(a.Count, b.Count) })
	if s.top > 0 && len(out.TopFiles) > s.top {
		out.MoreFiles = len(out.TopFiles) - s.top
		out.TopFiles = out.TopFiles[:s.top]
	}
	return out
}

func sortedCounts(m map[string]*Count) []Count {
	out := make([]Count, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, byTotal)
	return out
}

func byTotal(a, b Count) int {
	if c := cmp.Compare(b.Total(), a.Total()); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}

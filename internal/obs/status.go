package obs

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/safehub/safehub/internal/humanize"
	"github.com/safehub/safehub/internal/policy"
)

//go:embed status.html
var statusHTML string

// topRepos is how many rows the most-requested-repos table shows.
const topRepos = 15

var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"bytes":   humanize.Bytes,
	"count":   humanCount,
	"percent": humanPercent,
	"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"ago":     func(t time.Time) string { return humanAge(time.Since(t)) },
	"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":    strings.Join,
}).Parse(statusHTML))

// statusPage is everything the template shows.
type statusPage struct {
	Now      time.Time
	Started  time.Time
	Version  string
	Upstream string
	Ready    Readiness
	Totals   Totals
	Refusals []Refusal
	Capacity int // how many refusals the ring keeps
	Repos    []RepoCount
	Cache    CacheView
	Policy   policyView
}

type policyView struct {
	Source       string
	Mode         string
	Audit        bool
	BuiltinNames bool
	PickleNames  []string
	WeightsOnly  bool
	Profile      string
	Rules        []string
	Warnings     []string
}

func viewPolicy(p *policy.Policy) policyView {
	v := policyView{
		Source: p.Source(), Mode: p.Mode(), Audit: p.Mode() == policy.ModeAudit,
		BuiltinNames: p.Defaults(), PickleNames: policy.DefaultPickleNames,
		WeightsOnly: p.WeightsOnlyPickles(), Profile: p.ScanProfile(),
		Rules: p.RuleNames(), Warnings: p.Warnings(),
	}
	if v.Source == "" {
		v.Source = "built-in default"
	}
	if v.Profile == "" {
		v.Profile = "default"
	}
	return v
}

func (a *Admin) serveStatus(w http.ResponseWriter, r *http.Request) {
	rec := a.cfg.Monitor.Recent
	page := statusPage{
		Now: time.Now(), Started: rec.Started(), Version: a.cfg.Version, Upstream: a.cfg.UpstreamName,
		Ready: a.readiness(r.Context()), Totals: rec.Totals(), Refusals: rec.Refusals(),
		Repos: rec.TopRepos(topRepos), Cache: a.cfg.Cache.view(r.Context(), a.usage),
		Policy: viewPolicy(a.cfg.Policy),
	}
	if rec != nil {
		page.Capacity = len(rec.ring)
	}
	// Render to a buffer first: a template error then becomes a clean 500
	// instead of half a page.
	var buf bytes.Buffer
	if err := statusTmpl.Execute(&buf, page); err != nil {
		a.log.Error("status page", "err", err)
		http.Error(w, "status page failed to render; the error is in safehub's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// humanPercent writes 0.25 as "25.0%".
func humanPercent(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// humanCount writes 1234567 as "1,234,567".
func humanCount(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// humanAge writes a duration as "just now", "42s ago", "5m ago", "3h ago", "2d ago".
func humanAge(d time.Duration) string {
	switch {
	case d < 2*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

package obs

import "github.com/safehub/safehub/internal/gateway"

// Monitor is the gateway.Observer that serve installs: every Event goes to
// the Prometheus metrics and to the status page's state. A nil *Monitor is
// a valid Observer that records nothing.
type Monitor struct {
	Metrics *Metrics
	Recent  *Recent
}

// NewMonitor creates metrics on their own registry and status state that
// keeps the last recentRefusals refusals (DefaultRecentRefusals when <= 0).
func NewMonitor(recentRefusals int) *Monitor {
	return &Monitor{Metrics: NewMetrics(), Recent: NewRecent(recentRefusals)}
}

var _ gateway.Observer = (*Monitor)(nil)

// Observe implements gateway.Observer.
func (m *Monitor) Observe(ev gateway.Event) {
	if m == nil {
		return
	}
	m.Metrics.Observe(ev)
	m.Recent.Observe(ev)
}

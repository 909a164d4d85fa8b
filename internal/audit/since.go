package audit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultPath is where 'safehub audit' looks when given no --log and no
// SAFEHUB_AUDIT_LOG; 'safehub setup' configures serve to write there.
const DefaultPath = "/var/log/safehub/audit.jsonl" // where `safehub setup` points the service

// ParseSince turns a --since value into a start time: a duration back from
// now ("90m", "24h", "7d", "1d12h") or a UTC date or time ("2026-11-25",
// "2026-11-25T08:00:00Z").
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var days int64
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil || n < 0 {
			return time.Time{}, sinceError(s)
		}
		days, s = n, s[i+1:]
	}
	var d time.Duration
	if s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 0 {
			return time.Time{}, sinceError(s)
		}
	} else if days == 0 {
		return time.Time{}, sinceError(s)
	}
	return now.Add(-(time.Duration(days)*24*time.Hour + d)), nil
}

func sinceError(s string) error {
	return fmt.Errorf("--since %q: want a duration such as 24h, 7d or 1d12h, or a date such as 2026-11-25", s)
}

package audit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/safehub/safehub/internal/humanize"
)

// Pretty formats a record as one line of text for people reading the log:
//
//	2026-11-26 12:04:08Z refuse       404 HEAD org/m@main pytorch_model.bin  rule=name:*.bin  "pickle-based weights ..."  client=10.0.0.5 token=1a2b3c4d
//
// Values come from the network (file names, reasons), so control
// characters are shown escaped: a file name cannot forge a second line.
func Pretty(r Record) string {
	var b strings.Builder
	b.WriteString(r.Time.UTC().Format("2006-01-02 15:04:05Z"))
	fmt.Fprintf(&b, " %-12s", clean(r.Decision))
	if r.Decision == DecisionDropped {
		fmt.Fprintf(&b, " %d events were not logged (the audit queue was full: the disk was too slow)", r.Dropped)
		return b.String()
	}
	if r.Status != 0 {
		fmt.Fprintf(&b, " %d", r.Status)
	}
	if r.Method != "" {
		b.WriteString(" " + clean(r.Method))
	}
	if r.Repo != "" {
		b.WriteString(" " + clean(RepoKey(r.RepoType, r.Repo)))
		if r.Revision != "" {
			b.WriteString("@" + clean(r.Revision))
		}
	}
	switch {
	case r.Route == "resolve" || r.Route == "resolve-cache":
		b.WriteString(" " + clean(r.File))
	case r.Route != "":
		what := r.Route
		if r.File != "" {
			what += " " + r.File
		}
		b.WriteString(" [" + clean(what) + "]")
	}
	for _, kv := range [][2]string{{"rule", r.Rule}, {"verdict", r.Verdict}, {"format", r.Format}, {"cache", r.Cache}} {
		if kv[1] != "" {
			b.WriteString("  " + kv[0] + "=" + clean(kv[1]))
		}
	}
	if r.Bytes > 0 {
		b.WriteString("  " + humanize.Bytes(r.Bytes))
	}
	if r.Reason != "" {
		b.WriteString("  " + strconv.Quote(r.Reason))
	}
	if r.Client != "" {
		b.WriteString("  client=" + clean(r.Client))
	}
	if r.TokenHash != "" {
		b.WriteString(" token=" + clean(r.TokenHash))
	}
	return b.String()
}

// clean escapes control characters and quotes (but keeps other text, such
// as non-ASCII file names, as it is).
func clean(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

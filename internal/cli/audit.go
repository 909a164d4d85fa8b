package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/safehub/safehub/internal/audit"
	"github.com/safehub/safehub/internal/humanize"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the gateway's audit log: recent decisions, refusal summaries",
		Long: `Read the audit log that 'safehub serve --audit-log PATH' writes: one JSON line
per file request, listing and refusal, with the client address and a short
hash of the user's token (never the token itself). Rotated files (PATH.1,
PATH.2, ...) are read too.

The log is found with --log, else $SAFEHUB_AUDIT_LOG, else ` + audit.DefaultPath + `.`,
		Example: `  safehub audit tail --refused
  safehub audit tail -f --log /var/log/safehub/audit.jsonl
  safehub audit summary --since 7d`,
	}
	cmd.AddCommand(newAuditTailCmd(), newAuditSummaryCmd())
	requireSubcommand(cmd)
	return cmd
}

// auditLogPath applies the --log, $SAFEHUB_AUDIT_LOG, default order.
func auditLogPath(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("SAFEHUB_AUDIT_LOG"); env != "" {
		return env
	}
	return audit.DefaultPath
}

func newAuditTailCmd() *cobra.Command {
	var (
		logPath string
		n       int
		follow  bool
		refused bool
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "tail [--log PATH] [-n N] [-f] [--refused] [--json]",
		Short: "Show the last decisions, one line each",
		Long: `Show the last N decisions of the audit log, oldest first, one line each:
time (UTC), decision, HTTP status, method, repo@revision and file, then the
rule, content verdict, format, cache use, bytes, reason, client address and
token hash. With --follow, keep printing decisions as they are written,
across rotations, until interrupted.

Decisions: allow, refuse, audit-refuse (audit mode: would have been
refused, was served), upstream-error, scan-error, aborted, bad-request;
"dropped" lines mark events the gateway could not log in time.`,
		Example: `  safehub audit tail
  safehub audit tail -n 100 --refused
  safehub audit tail -f --refused --log /var/log/safehub/audit.jsonl
  safehub audit tail --json | jq 'select(.rule == "name:*.bin") | .repo'`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 0 {
				return withCode(ExitError, fmt.Errorf("-n %d: want 0 or more lines", n))
			}
			path := auditLogPath(logPath)
			filter := audit.Filter{RefusedOnly: refused}
			out := cmd.OutOrStdout()
			show := func(e audit.Entry) error {
				var err error
				if asJSON {
					_, err = fmt.Fprintf(out, "%s\n", e.Line)
				} else {
					_, err = fmt.Fprintln(out, audit.Pretty(e.Record))
				}
				return err
			}
			entries, offset, err := audit.Last(path, n, filter)
			if err != nil {
				return withCode(ExitError, err)
			}
			for _, e := range entries {
				if err := show(e); err != nil {
					return withCode(ExitError, err)
				}
			}
			if !follow {
				return nil
			}
			if err := audit.Follow(cmd.Context(), path, offset, filter, 250*time.Millisecond, show); err != nil {
				return withCode(ExitError, fmt.Errorf("following %s: %w", path, err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&logPath, "log", "", "audit log `PATH` (default $SAFEHUB_AUDIT_LOG or "+audit.DefaultPath+")")
	cmd.Flags().IntVarP(&n, "lines", "n", 20, "show the last `N` decisions")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new decisions as they are written")
	cmd.Flags().BoolVar(&refused, "refused", false, "only refusals (refuse and audit-refuse)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the log's JSON lines as they are")
	return cmd
}

func newAuditSummaryCmd() *cobra.Command {
	var (
		logPath string
		since   string
		top     int
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "summary [--log PATH] [--since DURATION] [--top N] [--json]",
		Short: "Count refusals by rule, repo, day and file",
		Long: `Summarise the audit log and its rotated files: totals (allowed, refused,
would be refused in audit mode, errors, bytes served), then refusals by
rule, by repo, by UTC day, and the most refused files. Run it after a week
in audit mode to see what enforce mode would refuse, and for whom.

--since takes a duration back from now (90m, 24h, 7d, 1d12h) or a UTC date
(2026-11-25) or time (2026-11-25T08:00:00Z).`,
		Example: `  safehub audit summary
  safehub audit summary --since 7d --top 20
  safehub audit summary --since 2026-11-01 --json > refusals.json`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var from time.Time
			if since != "" {
				var err error
				if from, err = audit.ParseSince(since, time.Now()); err != nil {
					return withCode(ExitError, err)
				}
			}
			if top < 1 {
				return withCode(ExitError, fmt.Errorf("--top %d: want 1 or more", top))
			}
			path := auditLogPath(logPath)
			files, err := audit.Files(path)
			if err != nil {
				return withCode(ExitError, err)
			}
			s := audit.NewSummarizer(from, top)
			damaged, err := audit.Each(path, audit.Filter{Since: from}, func(r audit.Record, _ []byte) error {
				s.Add(r)
				return nil
			})
			if err != nil {
				return withCode(ExitError, err)
			}
			sum := s.Summary()
			sum.Damaged = damaged
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(sum)
			}
			printSummary(cmd.OutOrStdout(), path, len(files), sum)
			return nil
		},
	}
	cmd.Flags().StringVar(&logPath, "log", "", "audit log `PATH` (default $SAFEHUB_AUDIT_LOG or "+audit.DefaultPath+")")
	cmd.Flags().StringVar(&since, "since", "", "only decisions since `DURATION` ago (24h, 7d) or a date (2026-11-25)")
	cmd.Flags().IntVar(&top, "top", 10, "show the `N` most refused repos and files")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

const summaryTime = "2006-01-02 15:04Z"

func printSummary(w io.Writer, path string, files int, s audit.Summary) {
	fmt.Fprintf(w, "audit log %s (%d file%s)", path, files, plural(files))
	if !s.First.IsZero() {
		fmt.Fprintf(w, ", %s .. %s", s.First.UTC().Format(summaryTime), s.Last.UTC().Format(summaryTime))
	}
	fmt.Fprintln(w)
	if !s.Since.IsZero() {
		fmt.Fprintf(w, "since %s\n", s.Since.UTC().Format(summaryTime))
	}
	fmt.Fprintf(w, "%d decisions: %d allowed, %d refused, %d would be refused (audit mode), %d errors; %s served\n",
		s.Events, s.Allowed, s.Refused, s.AuditRefused, s.Errors, humanize.Bytes(s.BytesServed))
	if s.Dropped > 0 {
		fmt.Fprintf(w, "warning: %d decisions were not logged (the gateway's audit queue was full: is the disk slow?)\n", s.Dropped)
	}
	if s.Damaged > 0 {
		fmt.Fprintf(w, "warning: %d damaged lines skipped\n", s.Damaged)
	}
	if s.Refused+s.AuditRefused == 0 {
		fmt.Fprintln(w, "\nno refusals")
		return
	}
	counts := func(title, col string, cs []audit.Count, more int) {
		fmt.Fprintf(w, "\n%s\n  %7s %7s  %s\n", title, "REFUSED", "AUDIT", col)
		for _, c := range cs {
			fmt.Fprintf(w, "  %7d %7d  %s\n", c.Refused, c.AuditRefused, c.Key)
		}
		if more > 0 {
			fmt.Fprintf(w, "  ... and %d more (--top)\n", more)
		}
	}
	counts("Refusals by rule", "RULE", s.ByRule, 0)
	counts("Refusals by repo", "REPO", s.ByRepo, s.MoreRepos)
	fmt.Fprintf(w, "\nBy day (UTC)\n  %-10s %9s %7s %7s\n", "DAY", "DECISIONS", "REFUSED", "AUDIT")
	for _, d := range s.ByDay {
		fmt.Fprintf(w, "  %-10s %9d %7d %7d\n", d.Day, d.Events, d.Refused, d.AuditRefused)
	}
	top := make([]audit.Count, len(s.TopFiles))
	for i, f := range s.TopFiles {
		top[i] = f.Count
	}
	counts("Most refused files", "REPO: FILE", top, s.MoreFiles)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

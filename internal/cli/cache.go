package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/safehub/safehub/internal/config"
	"github.com/safehub/safehub/internal/humanize"
	"github.com/safehub/safehub/internal/store"
	"github.com/safehub/safehub/internal/store/disk"
)

// keepAllStaging makes disk.Open leave every staging file alone. The cache
// command may run while `safehub serve` fills blobs into the same store;
// with the default grace of zero, opening the store would delete those
// live fills. Stale staging files are serve's to clean, at its start-up.
const keepAllStaging = 100 * 365 * 24 * time.Hour

// newCacheCmd is `safehub cache ls|prune`: the admin's view of the verified
// blob cache that `safehub serve --cache-dir` fills.
func newCacheCmd() *cobra.Command {
	var cacheDir string
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "List or prune the gateway's verified blob cache",
		Long: `Inspect and trim the verified blob cache that 'safehub serve' keeps in
--cache-dir (blobs are named by their sha256 or git blob id).

Both subcommands are safe while 'safehub serve' runs on the same folder:
blobs being filled are in a staging area that is never listed or pruned,
and a pruned blob that a client is still downloading stays readable until
that download ends. The gateway fetches a pruned blob again on next use.`,
		Example: `  safehub cache ls
  safehub cache ls --json --cache-dir /srv/safehub
  safehub cache prune --max 200G
  safehub cache prune --older-than 30d --dry-run`,
	}
	requireSubcommand(cmd)
	cmd.PersistentFlags().StringVar(&cacheDir, "cache-dir", defaultCacheDir(), "the --cache-dir of 'safehub serve'")
	cmd.AddCommand(newCacheLsCmd(&cacheDir), newCachePruneCmd(&cacheDir))
	return cmd
}

func newCacheLsCmd(cacheDir *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List cached blobs, least recently used first, with the total",
		Long: `List every cached blob with its digest, size and last use, least
recently used first (the order in which 'safehub cache prune' removes them),
then the total. Last use is recorded at most once a minute per blob.
Listing does not count as a use.`,
		Example: `  safehub cache ls
  safehub cache ls --json | jq '.total_bytes'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openCacheStore(*cacheDir)
			if err != nil {
				return withCode(ExitError, err)
			}
			blobs, err := listByLastUse(cmd.Context(), st)
			if err != nil {
				return withCode(ExitError, err)
			}
			if asJSON {
				return writeCacheJSON(cmd.OutOrStdout(), *cacheDir, st.Root(), blobs)
			}
			return writeCacheTable(cmd.OutOrStdout(), st.Root(), blobs, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: {cache_dir, store, count, total_bytes, blobs: [{digest, key, size, last_used}]}")
	return cmd
}

type pruneOptions struct {
	max, olderThan string
	all, dryRun    bool
}

func newCachePruneCmd(cacheDir *string) *cobra.Command {
	var o pruneOptions
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove cached blobs, least recently used first",
		Long: `Remove cached blobs, least recently used first, until the cache holds at
most --max bytes; or remove every blob not used for --older-than; or all
of them with --all. --max and --older-than may be combined. --dry-run shows
what would go and removes nothing.

SIZE is bytes or a number with K, M, G or T (powers of 1024: 500G, 20GiB).
DURATION is a Go duration (90m, 36h) or whole days or weeks (30d, 2w).`,
		Example: `  safehub cache prune --max 200G
  safehub cache prune --older-than 30d
  safehub cache prune --max 1T --older-than 12w --dry-run
  safehub cache prune --all --cache-dir /srv/safehub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sel, err := o.selector(cmd, time.Now())
			if err != nil {
				return withCode(ExitError, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, err := openCacheStore(*cacheDir)
			if err != nil {
				return withCode(ExitError, err)
			}
			return runPrune(ctx, cmd.OutOrStdout(), st, sel, o.dryRun)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.max, "max", "", "keep at most SIZE bytes (e.g. 200G), removing least recently used blobs first")
	f.StringVar(&o.olderThan, "older-than", "", "remove blobs not used for DURATION (e.g. 30d, 36h)")
	f.BoolVar(&o.all, "all", false, "remove every cached blob")
	f.BoolVar(&o.dryRun, "dry-run", false, "only print what would be removed")
	return cmd
}

// pruneSelector says which blobs a prune removes.
type pruneSelector struct {
	all      bool
	maxBytes int64 // -1: no size limit
	cutoff   time.Time
}

// selector checks the flag combination and parses the values.
func (o pruneOptions) selector(cmd *cobra.Command, now time.Time) (pruneSelector, error) {
	sel := pruneSelector{all: o.all, maxBytes: -1}
	hasMax, hasAge := cmd.Flags().Changed("max"), cmd.Flags().Changed("older-than")
	switch {
	case o.all && (hasMax || hasAge):
		return sel, errors.New("--all removes everything: give it alone, without --max or --older-than")
	case !o.all && !hasMax && !hasAge:
		return sel, errors.New("say what to remove: --max SIZE, --older-than DURATION or --all (see 'safehub cache prune --help')")
	}
	if hasMax {
		n, err := config.ParseSize(o.max)
		if err != nil || strings.TrimSpace(o.max) == "" {
			return sel, fmt.Errorf("--max %q is not a size: use bytes or a number with K, M, G or T, such as 200G", o.max)
		}
		sel.maxBytes = int64(n)
	}
	if hasAge {
		d, err := parseAge(o.olderThan)
		if err != nil {
			return sel, fmt.Errorf("--older-than: %w", err)
		}
		sel.cutoff = now.Add(-d)
	}
	return sel, nil
}

// parseAge reads a Go duration ("36h", "90m") or whole days or weeks
// ("30d", "2w"), which Go's parser lacks and admins think in.
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a duration such as 30d, 2w or 36h", s)
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		v, err := strconv.ParseInt(s[:n-1], 10, 64)
		unit := 24 * time.Hour
		if s[n-1] == 'w' {
			unit *= 7
		}
		if err != nil || v < 0 || v > int64(keepAllStaging/unit) {
			return 0, bad
		}
		return time.Duration(v) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}

// plan picks the blobs to remove from blobs sorted least recently used
// first: everything with --all, anything last used before the cutoff, and
// then the least recently used until the rest fits in maxBytes.
func (sel pruneSelector) plan(blobs []store.Info) []store.Info {
	var remaining int64
	for _, b := range blobs {
		remaining += b.Size
	}
	var out []store.Info
	for _, b := range blobs {
		old := !sel.cutoff.IsZero() && b.LastUsed.Before(sel.cutoff)
		over := sel.maxBytes >= 0 && remaining > sel.maxBytes
		if sel.all || old || over {
			out = append(out, b)
			remaining -= b.Size
		}
	}
	return out
}

// runPrune removes what sel picks and reports each blob and the totals.
// A blob that disappears meanwhile (serve's own eviction) is not an error.
func runPrune(ctx context.Context, w io.Writer, st *disk.Disk, sel pruneSelector, dryRun bool) error {
	blobs, err := listByLastUse(ctx, st)
	if err != nil {
		return withCode(ExitError, err)
	}
	var total int64
	for _, b := range blobs {
		total += b.Size
	}
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	var gone int
	var goneBytes int64
	for _, b := range sel.plan(blobs) {
		if !dryRun {
			switch err := st.Delete(ctx, b.Key); {
			case errors.Is(err, store.ErrNotFound):
				total -= b.Size
				continue
			case err != nil:
				return withCode(ExitError, fmt.Errorf("removing %s: %w (%d blobs removed so far; run the command again once the cause is fixed)", digestOf(b), err, gone))
			}
		}
		fmt.Fprintf(w, "%s %s  %s  last used %s\n", verb, digestOf(b), humanize.Bytes(b.Size), b.LastUsed.UTC().Format(time.RFC3339))
		gone++
		goneBytes += b.Size
	}
	fmt.Fprintf(w, "%s %d blobs, %s; %d blobs, %s remain in %s\n", verb, gone, humanize.Bytes(goneBytes),
		len(blobs)-gone, humanize.Bytes(total-goneBytes), st.Root())
	if dryRun {
		fmt.Fprintln(w, "dry run: nothing was removed")
	}
	return nil
}

// openCacheStore opens the store of an existing cache dir without creating
// one (a typo in --cache-dir should say so, not list an empty new cache)
// and without touching fills in progress.
func openCacheStore(cacheDir string) (*disk.Disk, error) {
	if cacheDir == "" {
		return nil, errors.New("no --cache-dir given and no user cache folder to default to: pass the --cache-dir of 'safehub serve'")
	}
	root := filepath.Join(cacheDir, "store") // the layout openCache in serve.go creates
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("no safehub cache in %s (no %s folder): pass the --cache-dir that 'safehub serve' uses; serve creates the cache when it starts", cacheDir, root)
	}
	return disk.Open(root, disk.Options{StagingGrace: keepAllStaging})
}

// listByLastUse returns every blob, least recently used first (ties by key,
// so the order is stable from one run to the next).
func listByLastUse(ctx context.Context, st store.Store) ([]store.Info, error) {
	var blobs []store.Info
	for info, err := range st.List(ctx, "") {
		if err != nil {
			return nil, fmt.Errorf("listing the cache: %w", err)
		}
		blobs = append(blobs, info)
	}
	slices.SortFunc(blobs, func(a, b store.Info) int {
		if c := a.LastUsed.Compare(b.LastUsed); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return blobs, nil
}

// digestOf names a blob as "sha256:<hex>" (or "sha1:<hex>" for git blobs).
func digestOf(b store.Info) string {
	if d, err := store.ParseKey(b.Key); err == nil {
		return d.String()
	}
	return b.Key
}

func writeCacheTable(w io.Writer, root string, blobs []store.Info, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DIGEST\tSIZE\tLAST USED\t")
	var total int64
	for _, b := range blobs {
		total += b.Size
		fmt.Fprintf(tw, "%s\t%s\t%s (%s ago)\t\n", digestOf(b), humanize.Bytes(b.Size),
			b.LastUsed.UTC().Format(time.RFC3339), now.Sub(b.LastUsed).Round(time.Second))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d blobs, %s (%d bytes) in %s\n", len(blobs), humanize.Bytes(total), total, root)
	return err
}

type cacheListing struct {
	CacheDir   string      `json:"cache_dir"`
	Store      string      `json:"store"`
	Count      int         `json:"count"`
	TotalBytes int64       `json:"total_bytes"`
	Blobs      []cacheBlob `json:"blobs"` // least recently used first
}

type cacheBlob struct {
	Digest   string    `json:"digest"` // sha256:<hex> or sha1:<hex>
	Key      string    `json:"key"`
	Size     int64     `json:"size"`
	LastUsed time.Time `json:"last_used"`
}

func writeCacheJSON(w io.Writer, cacheDir, root string, blobs []store.Info) error {
	out := cacheListing{CacheDir: cacheDir, Store: root, Count: len(blobs), Blobs: []cacheBlob{}}
	for _, b := range blobs {
		out.TotalBytes += b.Size
		out.Blobs = append(out.Blobs, cacheBlob{Digest: digestOf(b), Key: b.Key, Size: b.Size, LastUsed: b.LastUsed.UTC()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/safehub/safehub/internal/policy"
	"github.com/safehub/safehub/internal/scan"
	"github.com/safehub/safehub/internal/scan/finding"
)

const (
	scanWorkers       = 2
	progressThreshold = 20 // files; fewer finish before a bar is worth drawing
)

type scanCmdOptions struct {
	json       bool
	policyFile string
	profile    string
}

func newScanCmd() *cobra.Command {
	var o scanCmdOptions
	cmd := &cobra.Command{
		Use:   "scan [--json] [--policy FILE] [--profile NAME] PATH...",
		Short: "Scan model files on disk for pickled code",
		Long: `Scan files and directories (a Hugging Face cache included) with the same
content scanner the gateway uses. The format is identified from the bytes,
never from the name.

One line per file: VERDICT  FORMAT  PATH  reason. In a Hugging Face cache
(models--org--name/snapshots/<rev>/... linking into blobs/) each blob is
scanned once and every snapshot path naming it is reported.

Exit status: 0 all safe, 1 something unsafe or unknown, 2 usage or I/O error.`,
		Example: `  safehub scan ~/.cache/huggingface/hub
  safehub scan --json pytorch_model.bin model.safetensors
  safehub scan --profile torch-numpy rng_state.pth`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print a JSON array of results")
	f.StringVar(&o.policyFile, "policy", "", "policy file whose pickle profile to use")
	f.StringVar(&o.profile, "profile", "", "pickle profile: torch-weights-only (default), torch-numpy, joblib")
	return cmd
}

// scanItem is one file to scan: a blob on disk and every path naming it.
type scanItem struct {
	real  string   // resolved path, scanned once
	paths []string // reported paths
	res   *scan.Result
	err   error
}

type scanJSON struct {
	Path          string            `json:"path"`
	Format        string            `json:"format,omitempty"`
	Verdict       string            `json:"verdict,omitempty"`
	PickleBearing bool              `json:"pickle_bearing"`
	Reason        string            `json:"reason,omitempty"`
	Findings      []finding.Finding `json:"findings"`
	Error         string            `json:"error,omitempty"`
}

func runScan(ctx context.Context, stdout, stderr io.Writer, args []string, o scanCmdOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	opts := scan.Options{Profile: o.profile}
	if o.policyFile != "" {
		p, err := policy.Load(o.policyFile)
		if err != nil {
			return withCode(ExitError, fmt.Errorf("--policy: %w", err))
		}
		if opts.Profile == "" {
			opts.Profile = p.ScanProfile()
		}
	}
	if err := scan.ValidateProfile(opts.Profile); err != nil {
		return withCode(ExitError, err)
	}
	items, walkErrs := collectScanItems(args)
	for _, err := range walkErrs {
		fmt.Fprintln(stderr, "safehub: scan:", err)
	}
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && len(items) >= progressThreshold && isatty.IsTerminal(f.Fd()) {
		bar = progressbar.NewOptions(len(items), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("scanning"), progressbar.OptionClearOnFinish(), progressbar.OptionShowCount())
	}
	scanAll(ctx, items, opts, bar)
	if bar != nil {
		_ = bar.Finish()
	}
	exit := ExitOK
	if len(walkErrs) > 0 {
		exit = ExitError
	}
	var rows []scanJSON
	for _, it := range items {
		for _, p := range it.paths {
			row := scanJSON{Path: p, Findings: []finding.Finding{}}
			if it.err != nil {
				row.Error = it.err.Error()
				exit = ExitError
				fmt.Fprintf(stderr, "safehub: scan %s: %v\n", p, it.err)
			} else {
				row.Format, row.Verdict, row.PickleBearing = it.res.Format, it.res.Verdict.String(), it.res.PickleBearing
				row.Reason, row.Findings = it.res.ReasonFor(filepath.Base(p)), it.res.Findings
				if it.res.Verdict == finding.Safe && it.res.PickleBearing {
					// Safe here means weights-only; say why a policy may still refuse it.
					row.Reason = "pickle-based, only allowlisted globals (the default policy still refuses pickle files)"
				}
				if it.res.Verdict != finding.Safe && exit == ExitOK {
					exit = ExitFindings
				}
			}
			rows = append(rows, row)
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []scanJSON{}
		}
		if err := enc.Encode(rows); err != nil {
			return withCode(ExitError, err)
		}
	} else {
		printScanText(stdout, rows)
	}
	if exit == ExitOK {
		return nil
	}
	return withCode(exit, nil)
}

func printScanText(w io.Writer, rows []scanJSON) {
	fw := 0
	for _, r := range rows {
		fw = max(fw, len(r.Format))
	}
	for _, r := range rows {
		if r.Error != "" {
			continue // already on stderr
		}
		line := fmt.Sprintf("%-7s  %-*s  %s", r.Verdict, fw, r.Format, r.Path)
		if r.Reason != "" {
			line += "  " + r.Reason
		}
		fmt.Fprintln(w, line)
	}
}

// scanAll scans every item with a small worker pool.
func scanAll(ctx context.Context, items []*scanItem, opts scan.Options, bar *progressbar.ProgressBar) {
	work := make(chan *scanItem)
	var wg sync.WaitGroup
	for range scanWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				o := opts
				o.NameHint = filepath.Base(it.paths[0])
				it.res, it.err = scan.ScanFile(ctx, it.real, o)
				if bar != nil {
					_ = bar.Add(1)
				}
			}
		}()
	}
	for _, it := range items {
		if ctx.Err() != nil {
			it.err = ctx.Err()
			continue
		}
		work <- it
	}
	close(work)
	wg.Wait()
}

// collectScanItems expands the arguments into files, resolving symlinks so
// that a blob named by several snapshot paths is scanned once. Blobs of a
// Hugging Face cache are reported by their snapshot paths when some
// snapshot names them, by their own path otherwise.
func collectScanItems(args []string) ([]*scanItem, []error) {
	var errs []error
	byReal := map[string]*scanItem{}
	var order []*scanItem
	add := func(p string) {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			errs = append(errs, err)
			return
		}
		st, err := os.Stat(real)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if !st.Mode().IsRegular() {
			return
		}
		it := byReal[real]
		if it == nil {
			it = &scanItem{real: real}
			byReal[real] = it
			order = append(order, it)
		}
		it.paths = append(it.paths, p)
	}
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !st.IsDir() {
			add(arg)
			continue
		}
		root := arg
		if lst, err := os.Lstat(arg); err == nil && lst.Mode()&os.ModeSymlink != 0 {
			root = arg + string(os.PathSeparator) // walk the directory a symlinked argument names
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			if d.IsDir() {
				if d.Name() == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			add(p) // regular files and symlinks (directory symlinks are not followed: loops)
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, it := range order {
		it.paths = preferSnapshotPaths(it.paths)
	}
	return order, errs
}

// preferSnapshotPaths drops cache blob paths when a snapshot path names
// the same blob: users know files by their snapshot names.
func preferSnapshotPaths(paths []string) []string {
	var named []string
	for _, p := range paths {
		if !isCacheBlobPath(p) {
			named = append(named, p)
		}
	}
	if len(named) == 0 {
		named = paths
	}
	sort.Strings(named)
	return dedupe(named)
}

func isCacheBlobPath(p string) bool {
	parts := strings.Split(filepath.ToSlash(p), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i+1] == "blobs" && strings.Contains(parts[i], "--") {
			return true
		}
	}
	return false
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

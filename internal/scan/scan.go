// Package scan identifies a model file's real format from its bytes and
// grades it: safe, unknown or unsafe (scanner-notes.md sections 5, 6, 9).
// It opens containers the way the real loaders do (miniz for torch zips,
// tarfile for legacy torch, numpy, joblib, keras, llama.cpp) and hands every
// pickle it finds to internal/scan/pickle.
//
// Reads go through an io.ReaderAt and are kept few and small, because the
// gateway backs it with HTTP Range requests: headers, directories and pickle
// members only, never tensor data.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safehub/safehub/internal/scan/finding"
	"github.com/safehub/safehub/internal/scan/pickle"
)

// Archive limits (scanner-notes.md section 8). Hitting one gives Unknown.
const (
	DefaultMaxDepth    = 4
	DefaultMaxMembers  = 100_000
	DefaultMaxInflate  = 1 << 30
	DefaultMaxRatio    = 100
	DefaultWallTime    = 60 * time.Second
	maxZipDirBytes     = 64 << 20  // central directory read in one piece
	maxInMemoryMember  = 256 << 20 // larger stored pickle members are scanned in place
	prefixReadBytes    = 64 << 10  // first read of every file: magic, safetensors header, pickle head
	maxSafetensorsHead = 100_000_000
)

// Options configure one scan. The zero value scans with the defaults.
type Options struct {
	Profile  string        // pickle profile name; "" = torch-weights-only
	NameHint string        // the file's name: loose pickle sniffing for loader extensions, and Reason's wording
	Limits   pickle.Limits // zero value = pickle.DefaultLimits()

	MaxDepth   int           // archive and nested-payload depth; 0 = 4
	MaxMembers int           // archive members per file; 0 = 100k
	MaxInflate int64         // decompressed bytes per member or wrapper; 0 = 1 GiB
	MaxRatio   int64         // decompressed:compressed ratio; 0 = 100
	WallTime   time.Duration // per file; 0 = 60 s
}

// Result is the verdict on one file.
type Result struct {
	Format        string            `json:"format"`
	Verdict       finding.Verdict   `json:"verdict"`
	Findings      []finding.Finding `json:"findings"`
	PickleBearing bool              `json:"pickle_bearing"` // loading it runs a pickle
	BytesRead     int64             `json:"bytes_read"`     // bytes actually read from r

	nameHint string // Options.NameHint, for Reason's "X, not safetensors" wording
	profile  string // Options.Profile, for Reason
}

func profileName(p string) string {
	if p == "" {
		return "torch-weights-only"
	}
	return p
}

// Scan identifies the format from the bytes (never the name) and scans. err
// is only for I/O errors from r; malformed content is a verdict.
func Scan(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Result, error) {
	if size < 0 {
		return nil, fmt.Errorf("scan: negative size %d", size)
	}
	s, err := newScanner(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer s.cancel()
	cr := &countingReader{r: r, size: size}
	out := s.scanTarget(target{r: cr, size: size, name: opts.NameHint, loose: loaderExt(opts.NameHint)})
	if s.ctx.Err() != nil && ctx.Err() == nil {
		out.add(finding.Finding{Verdict: finding.Unknown, Reason: fmt.Sprintf("scan stopped at the wall-time limit (%s)", s.wall)})
	}
	if ioErr := cr.ioError(); ioErr != nil {
		return nil, ioErr
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return &Result{
		Format:        out.format,
		Verdict:       out.verdict,
		Findings:      nonNil(out.findings),
		PickleBearing: out.pickle,
		BytesRead:     cr.read.Load(),
		nameHint:      opts.NameHint,
		profile:       opts.Profile,
	}, nil
}

// ScanFile scans the file at path (symlinks followed).
func ScanFile(ctx context.Context, p string, opts Options) (*Result, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	if opts.NameHint == "" {
		opts.NameHint = filepath.Base(p)
	}
	return Scan(ctx, f, st.Size(), opts)
}

// Reason is one short human sentence for a refusal, "" for a safe file that
// bears no pickle. Its wording depends on Options.NameHint; see ReasonFor.
func (r *Result) Reason() string { return r.ReasonFor(r.nameHint) }

// ReasonFor words Reason for a file named name, for callers that cache one
// result per blob and serve it under several names.
func (r *Result) ReasonFor(name string) string {
	if r.PickleBearing {
		if promised := promisedFormat(name); promised != "" {
			return fmt.Sprintf("it is a %s, not %s", kindWord(r.Format), promised)
		}
	}
	for _, f := range r.Findings {
		if f.Verdict != finding.Unsafe {
			continue
		}
		switch {
		case f.Callable != "" && f.Chain != "" && r.PickleBearing:
			return "its pickle calls " + f.Chain // "dill.loads → subprocess.getoutput"
		case f.Callable != "" && r.PickleBearing:
			return "its pickle calls " + f.Callable
		case f.Callable != "":
			return "loading it would call " + f.Callable
		}
		return "it is unsafe: " + f.Reason
	}
	for _, f := range r.Findings {
		if f.Verdict != finding.Unknown {
			continue
		}
		switch {
		case r.PickleBearing && f.Callable != "":
			return fmt.Sprintf("its pickle uses %s, which is not on the %s allowlist", f.Callable, profileName(r.profile))
		case r.PickleBearing:
			return "it holds pickled code that could not be proven safe: " + f.Reason
		}
		return "it could not be proven safe: " + f.Reason
	}
	if r.PickleBearing {
		return fmt.Sprintf("it holds pickled code (%s)", r.Format)
	}
	return ""
}

// ValidateProfile reports whether name is a pickle profile ("" is the
// default), so that a command can refuse a misspelt --profile up front.
func ValidateProfile(name string) error {
	_, err := loadProfile(name)
	return err
}

// scanner holds what one Scan call shares across nested targets.
type scanner struct {
	ctx     context.Context
	cancel  context.CancelFunc
	wall    time.Duration
	opts    Options
	profile *pickle.Profile
	limits  pickle.Limits
	members int // archive members seen so far, across all nesting levels
}

func newScanner(ctx context.Context, opts Options) (*scanner, error) {
	prof, err := loadProfile(opts.Profile)
	if err != nil {
		return nil, err
	}
	if opts.Limits == (pickle.Limits{}) {
		opts.Limits = pickle.DefaultLimits()
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxMembers <= 0 {
		opts.MaxMembers = DefaultMaxMembers
	}
	if opts.MaxInflate <= 0 {
		opts.MaxInflate = DefaultMaxInflate
	}
	if opts.MaxRatio <= 0 {
		opts.MaxRatio = DefaultMaxRatio
	}
	if opts.WallTime <= 0 {
		opts.WallTime = DefaultWallTime
	}
	cctx, cancel := context.WithTimeout(ctx, opts.WallTime)
	return &scanner{ctx: cctx, cancel: cancel, wall: opts.WallTime, opts: opts, profile: prof, limits: opts.Limits}, nil
}

// profiles caches parsed profiles by name. Profiles are immutable once
// loaded, and re-parsing the allowlist JSON per file would dominate the cost
// of scanning a directory of small files.
var profiles sync.Map

func loadProfile(name string) (*pickle.Profile, error) {
	if name == "" {
		name = "torch-weights-only"
	}
	if p, ok := profiles.Load(name); ok {
		return p.(*pickle.Profile), nil
	}
	p, err := pickle.LoadProfile(name)
	if err != nil {
		return nil, fmt.Errorf("pickle profile %q: %w", name, err)
	}
	profiles.Store(name, p)
	return p, nil
}

// target is one byte range to identify and scan: the file itself, an
// archive member or a nested payload.
type target struct {
	r      io.ReaderAt
	size   int64
	name   string // file or member name, for loose sniffing only
	member string // member path reported in findings ("" = the file)
	chain  string // nested-payload sink chain
	depth  int
	loose  bool // a pickle loader would open it: accept protocol 0/1 by trial parse

	torch       bool // a torch zip member: persistent ids are storages
	forcePickle bool // the loader unpickles it whatever it looks like (torch's *.pkl records)
}

// outcome accumulates the verdict of one target. add is the only way to
// raise the verdict, so every non-safe verdict has a finding that says why.
type outcome struct {
	format   string
	verdict  finding.Verdict
	findings []finding.Finding
	pickle   bool
	storages []pickle.StorageRef // torch zip: storages data.pkl declares
}

func (o *outcome) add(fs ...finding.Finding) {
	for _, f := range fs {
		o.verdict = finding.Worst(o.verdict, f.Verdict)
		o.findings = append(o.findings, f)
	}
}

// merge folds a nested outcome into o (members, wrapped payloads).
func (o *outcome) merge(in *outcome) {
	o.add(in.findings...)
	o.pickle = o.pickle || in.pickle
}

// note records a finding at the target's member and chain.
func (t target) note(v finding.Verdict, offset int64, format string, args ...any) finding.Finding {
	return finding.Finding{Verdict: v, Reason: fmt.Sprintf(format, args...), Member: t.member, Offset: offset, Chain: t.chain}
}

// child describes a member of t.
func (t target) child(r io.ReaderAt, size int64, name string) target {
	m := name
	if t.member != "" {
		m = t.member + "!" + name
	}
	return target{r: r, size: size, name: name, member: m, chain: t.chain, depth: t.depth + 1, loose: true}
}

// countingReader counts bytes read and remembers the first real I/O error,
// so that Scan can tell "r failed" (an error) from "the content is short"
// (a verdict).
type countingReader struct {
	r    io.ReaderAt
	size int64
	read atomic.Int64
	mu   sync.Mutex
	err  error
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read.Add(int64(n))
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *countingReader) ioError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func nonNil(fs []finding.Finding) []finding.Finding {
	if fs == nil {
		return []finding.Finding{}
	}
	return fs
}

// loaderExt reports whether a pickle loader would open a file of this name,
// which licenses loose (protocol 0/1) pickle sniffing.
func loaderExt(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".dill", ".joblib", ".dat", ".data", ".npy", ".npz", ".tar", ".nemo", ".model":
		return true
	}
	return false
}

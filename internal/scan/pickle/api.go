// Package pickle emulates the Python pickle machine (protocols 0-5) over
// untrusted bytes without executing anything. It reports every global a
// loader would import and every place a loader would call Python code, and
// grades them against an exact allowlist profile (scanner-notes.md 2-5, 7, 8).
package pickle

import (
	"context"
	"io"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Limits bound the memory and time one stream may cost. Hitting any limit
// makes the verdict at least Unknown with the limit named (fail closed).
type Limits struct {
	MaxOpcodes        int   // opcodes per stream
	MaxStreams        int   // streams per ScanStreams call
	MaxStackItems     int   // stack plus mark-stack items
	MaxMemo           int   // memo entries
	MaxContainerItems int   // items kept per container value (counting continues)
	MaxInlineString   int   // longest string kept for names and nested folding
	MaxNestDepth      int   // nested pickle depth
	MaxInflate        int64 // bytes copied into memory for one nested payload
	MaxFindings       int   // findings kept per stream (the verdict still counts the rest)
}

// DefaultLimits returns the defaults of scanner-notes.md section 8.
func DefaultLimits() Limits {
	return Limits{
		MaxOpcodes:        50_000_000,
		MaxStreams:        100_000,
		MaxStackItems:     1_000_000,
		MaxMemo:           4_000_000,
		MaxContainerItems: 16,
		MaxInlineString:   256,
		MaxNestDepth:      4,
		MaxInflate:        1 << 30,
		MaxFindings:       1000,
	}
}

// Context says which loader reads the stream, which decides what a
// persistent id means and whether raw data follows certain opcodes.
type Context int

const (
	Plain       Context = iota // plain pickle.load: PERSID is unknown
	TorchZip                   // data.pkl in a torch zip: persistent ids are ("storage", cls, key, location, numel)
	TorchLegacy                // legacy multi-pickle / tar: int or ("storage"/"module", ...) ids
	Joblib                     // joblib stream: raw array bytes follow NumpyArrayWrapper BUILDs; skip them exactly
)

// NestedFunc scans bytes found at a call site that are not themselves a
// pickle (e.g. a zip or legacy torch file inside BINBYTES). Supplied by
// internal/scan; may be nil.
type NestedFunc func(ctx context.Context, data []byte, chain string, depth int) []finding.Finding

// Options configure one scan. A zero Limits means DefaultLimits; a nil
// Profile means the "torch-weights-only" profile.
type Options struct {
	Profile *Profile
	Limits  Limits
	Context Context
	Member  string // archive member path, copied into findings
	Depth   int    // nesting depth of this stream (0 = top)
	Chain   string // sink chain so far, e.g. "dill.loads"
	Nested  NestedFunc
}

// StorageRef is a torch storage named by a persistent id, used by the zip
// layer to check that data/<Key> holds at least Numel*ElemSize bytes
// (ElemSize 0 when the class is unknown).
type StorageRef struct {
	Key, Class string
	ElemSize   int
	Numel      int64
}

// StreamResult is the outcome of scanning one stream, or several merged.
type StreamResult struct {
	Verdict  finding.Verdict
	Findings []finding.Finding
	End      int64 // offset just past STOP, or where parsing stopped
	Complete bool  // reached STOP with no error
	Protocol int   // highest PROTO seen
	Opcodes  int
	Storages []StorageRef
	Globals  []string // every distinct canonical global path the stream imports (for reports)
	Streams  int      // number of streams scanned (ScanStreams)
}

// ScanStream emulates ONE pickle stream starting at off, never reading at or
// past end. It reads through a fixed-size window over r, never reads raw
// payload beyond what it must sniff, and never panics on any input.
func ScanStream(ctx context.Context, r io.ReaderAt, off, end int64, opts Options) StreamResult {
	return scanOne(ctx, r, off, end, normalize(opts), 0)
}

// ScanStreams scans consecutive streams from off until end, a byte that
// cannot start a pickle, or the streams limit; this is what plain pickle
// files and appended streams need. The per-stream results are merged.
func ScanStreams(ctx context.Context, r io.ReaderAt, off, end int64, opts Options) StreamResult {
	return scanMany(ctx, r, off, end, normalize(opts))
}

func normalize(opts Options) Options {
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits()
	}
	if opts.Profile == nil {
		opts.Profile = defaultProfile()
	}
	return opts
}

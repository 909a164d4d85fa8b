package pickle

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/safehub/safehub/internal/scan/finding"
)

// scanMany scans consecutive streams: pickle.load stops at the first STOP
// and looping loaders (or attackers' appended streams) read on.
func scanMany(ctx context.Context, r io.ReaderAt, off, end int64, opts Options) StreamResult {
	total := StreamResult{End: off}
	for i := 0; off < end; i++ {
		if i >= opts.Limits.MaxStreams {
			total.Verdict = finding.Worst(total.Verdict, finding.Unknown)
			total.Complete = false
			total.Findings = append(total.Findings, finding.Finding{Verdict: finding.Unknown, Member: opts.Member,
				Offset: off, Reason: fmt.Sprintf("limit hit: more than %d pickle streams", opts.Limits.MaxStreams)})
			break
		}
		strict := true
		if i > 0 {
			var pre [16]byte
			n, _ := r.ReadAt(pre[:min(int64(len(pre)), end-off)], off)
			strict = Sniff(pre[:n], false)
			if !strict && (n == 0 || !(protocol01Start(pre[0]) || pre[0] == opPROTO)) {
				total.Findings = append(total.Findings, trailingNote(opts, off, end))
				break
			}
		}
		res := scanOne(ctx, r, off, end, opts, i)
		if !strict && !res.Complete && !hasCallable(res.Findings) {
			// Bytes after the last stream that do not parse as one: no
			// loader reaches code there.
			total.Findings = append(total.Findings, trailingNote(opts, off, end))
			break
		}
		mergeResult(&total, res)
		if !res.Complete {
			break
		}
		off = res.End
	}
	if total.Streams == 0 && len(total.Findings) == 0 {
		// pickle.load raises EOFError on empty input: nothing proves it safe.
		total.Verdict = finding.Unknown
		total.Findings = append(total.Findings, finding.Finding{Verdict: finding.Unknown, Member: opts.Member,
			Offset: off, Reason: "no pickle data (empty input)"})
	}
	return total
}

func trailingNote(opts Options, off, end int64) finding.Finding {
	return finding.Finding{Verdict: finding.Safe, Member: opts.Member, Offset: off,
		Reason: fmt.Sprintf("%d bytes after the last pickle stream are not a pickle", end-off)}
}

func mergeResult(total *StreamResult, res StreamResult) {
	first := total.Streams == 0
	total.Verdict = finding.Worst(total.Verdict, res.Verdict)
	total.Findings = append(total.Findings, res.Findings...)
	total.End = res.End
	total.Complete = res.Complete && (first || total.Complete)
	total.Protocol = max(total.Protocol, res.Protocol)
	total.Opcodes += res.Opcodes
	total.Streams++
	total.Storages = append(total.Storages, res.Storages...)
	seen := make(map[string]bool, len(total.Globals))
	for _, g := range total.Globals {
		seen[g] = true
	}
	for _, g := range res.Globals {
		if !seen[g] {
			total.Globals = append(total.Globals, g)
		}
	}
}

// Sniff reports whether prefix starts like a pickle: PROTO 2..5, or (when
// loose) a protocol 0/1 opcode (or PROTO 0/1) that a trial parse of the
// prefix accepts, i.e. it reaches STOP or runs out of prefix without an
// error. Loose mode is for files a pickle loader would open (.bin .pt .pth
// .ckpt .pkl ...), so README-like text is not called a pickle elsewhere.
func Sniff(prefix []byte, loose bool) bool {
	if len(prefix) >= 2 && prefix[0] == opPROTO && prefix[1] >= 2 && prefix[1] <= 5 {
		return true
	}
	if !loose || len(prefix) == 0 {
		return false
	}
	if !protocol01Start(prefix[0]) && !(prefix[0] == opPROTO && len(prefix) >= 2 && prefix[1] <= 1) {
		return false
	}
	opts := normalize(Options{})
	m := newMachineBuf(context.Background(), bytes.NewReader(prefix), 0, int64(len(prefix)), opts, 0, 64)
	m.run()
	return m.res.Complete || (m.truncated && m.opcodes > 1)
}

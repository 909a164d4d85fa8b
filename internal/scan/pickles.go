package scan

import (
	"bytes"
	"context"
	"io"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
	"github.com/safehub/safehub/internal/scan/pickle"
)

// pickleOpts builds the pickle machine's options for target t.
func (s *scanner) pickleOpts(t target, kind pickle.Context, prof *pickle.Profile) pickle.Options {
	if prof == nil {
		prof = s.profile
	}
	return pickle.Options{
		Profile: prof,
		Limits:  s.limits,
		Context: kind,
		Member:  t.member,
		Depth:   t.depth,
		Chain:   t.chain,
		Nested:  s.nested,
	}
}

// nested scans bytes found at a pickle call site that are not themselves a
// pickle (a torch zip, a legacy file): the pickle machine calls back here.
func (s *scanner) nested(ctx context.Context, data []byte, chain string, depth int) []finding.Finding {
	t := target{r: bytes.NewReader(data), size: int64(len(data)), chain: chain, depth: depth, loose: true}
	return s.scanTarget(t).findings
}

// addStream folds a pickle result into out.
func addStream(out *outcome, res pickle.StreamResult) {
	out.add(res.Findings...)
	if res.Verdict > out.verdict {
		// The machine graded worse than its listed findings say (findings
		// capped by MaxFindings): keep the grade, with a reason.
		out.add(finding.Finding{Verdict: res.Verdict, Reason: "more findings than the report keeps"})
	}
}

// scanPickleFile scans a file that starts with PROTO 2..5: a legacy torch
// file when pickle #1 is torch's magic number, a joblib dump when the head
// names joblib's array wrapper, otherwise a plain pickle with every
// appended stream scanned.
func (s *scanner) scanPickleFile(t target, head []byte, out *outcome) {
	out.pickle = true
	switch {
	case bytes.HasPrefix(head, legacyTorchMagic):
		out.format = "pytorch-legacy"
		s.scanLegacyStreams(t, out)
	case isJoblibHead(head):
		out.format = "joblib"
		s.scanJoblibStream(t, t.r, t.size, out)
		// pickle.load and torch.load read the "array bytes" joblib skips as
		// opcodes. That reading of real array data is garbage, so only a
		// denied callable it reaches counts (random bytes do not spell one).
		plain := pickle.ScanStreams(s.ctx, t.r, 0, t.size, s.pickleOpts(t, pickle.Plain, nil))
		for _, f := range plain.Findings {
			if f.Callable != "" && f.Verdict == finding.Unsafe {
				f.Reason += " (read as a plain pickle, past the array bytes joblib skips)"
				out.add(f)
			}
		}
	default:
		out.format = "pickle"
		s.scanPlainPickle(t, out)
	}
}

// scanPlainPickle scans every stream of a pickle file or member; torch zip
// members get the torch context, whose persistent ids are storages.
func (s *scanner) scanPlainPickle(t target, out *outcome) {
	kind := pickle.Plain
	if t.torch {
		kind = pickle.TorchZip
	}
	out.format, out.pickle = "pickle", true
	res := pickle.ScanStreams(s.ctx, t.r, 0, t.size, s.pickleOpts(t, kind, nil))
	out.storages = append(out.storages, res.Storages...)
	addStream(out, res)
}

// isJoblibHead: joblib dumps reference their wrapper class early.
func isJoblibHead(head []byte) bool {
	return bytes.Contains(head, []byte("joblib.numpy_pickle")) || bytes.Contains(head, []byte("NumpyArrayWrapper"))
}

// scanJoblibStream scans a (decompressed) joblib pickle under the joblib
// profile unless the caller chose a profile, in the Joblib context that
// skips raw array bytes exactly.
func (s *scanner) scanJoblibStream(t target, r io.ReaderAt, size int64, out *outcome) {
	prof := s.profile
	if s.opts.Profile == "" {
		if p, err := loadProfile("joblib"); err == nil {
			prof = p
		}
	}
	out.pickle = true
	addStream(out, pickle.ScanStreams(s.ctx, r, 0, size, s.pickleOpts(t, pickle.Joblib, prof)))
}

// scanLegacyStreams scans the five pickles of a legacy torch file with the
// full policy (pickle #1 runs before torch checks the magic) and stops at
// the raw storage records that follow.
func (s *scanner) scanLegacyStreams(t target, out *outcome) {
	off := int64(0)
	for i := 0; i < 5 && off < t.size; i++ {
		res := pickle.ScanStream(s.ctx, t.r, off, t.size, s.pickleOpts(t, pickle.TorchLegacy, nil))
		for j := range res.Findings {
			res.Findings[j].Stream = i
		}
		addStream(out, res)
		if !res.Complete {
			return
		}
		off = res.End
	}
}

// tryLoosePickle handles pickles without a PROTO opcode (protocol 0/1).
// Where a pickle loader would open the bytes, a plausible start is enough
// and partial findings count; elsewhere the first stream must parse
// completely, so that text is never taken for a pickle.
func (s *scanner) tryLoosePickle(t target, head []byte, out *outcome) bool {
	if t.forcePickle {
		s.scanPlainPickle(t, out)
		return true
	}
	sniff := pickle.Sniff(head, true)
	if !sniff && !t.loose {
		return false
	}
	if sniff && t.loose && !looksLikeText(head) {
		s.scanPlainPickle(t, out)
		return true
	}
	// Text-like bytes, or a loader's file that does not sniff as a pickle:
	// a trial parse decides. Where a loader would unpickle the bytes,
	// imported globals are evidence enough even if the stream breaks later
	// (payload first, garbage after).
	first := pickle.ScanStream(s.ctx, t.r, 0, t.size, s.pickleOpts(t, pickle.Plain, nil))
	if !(first.Complete && first.Opcodes >= 2) && !(t.loose && ranCode(first)) {
		return false
	}
	s.scanPlainPickle(t, out)
	return true
}

// ranCode reports whether a broken stream still did what only a pickle
// does before it broke: import a denied module or call something. Text
// such as "can\nyou\n" parses as an import of can.you and then breaks;
// that alone is not taken for a pickle.
func ranCode(res pickle.StreamResult) bool {
	if res.Verdict == finding.Unsafe {
		return true
	}
	for _, f := range res.Findings {
		switch f.Opcode {
		case "REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD":
			return true
		}
	}
	return false
}

// scanPolyglotTail: Python's zipfile (used by numpy and keras) accepts an
// end-of-central-directory record anywhere in the last 64 KiB, so a file
// that is a pickle at its head may also be a zip at its tail. Scan both.
func (s *scanner) scanPolyglotTail(t target, out *outcome) {
	n := min(t.size, int64(eocdSearch))
	tail, err := readAt(t.r, t.size-n, n)
	if err != nil || !bytes.Contains(tail, magicZipEmpty) {
		return
	}
	dir, err := readZipDir(t.r, t.size, s.opts.MaxMembers-s.members)
	if err != nil {
		return // no readable directory: no loader would open it as a zip either
	}
	z := &outcome{}
	s.scanZipDir(t, dir, z)
	out.add(t.note(finding.Unknown, 0, "polyglot: the file is also a %s archive at its tail", z.format))
	out.merge(z)
	if strings.HasPrefix(out.format, "pickle") && z.pickle {
		out.pickle = true
	}
}

package scan

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
	"github.com/safehub/safehub/internal/scan/pickle"
)

// scanTorchZip scans a PyTorch zip the way caffe2's inline_container (on
// miniz) reads it: records are prefix/<name>, looked up ASCII
// case-insensitively; torch.load runs prefix/data.pkl, whose persistent ids
// name prefix/data/<key>. Every other member that could be a pickle is
// scanned too (a second data.pkl under another spelling is still code).
// Tensor records data/* are never read: their central-directory sizes are
// checked against the storages data.pkl declares.
func (s *scanner) scanTorchZip(t target, dir *zipDir, out *outcome) {
	out.format = "pytorch-zip"
	out.pickle = true
	prefix, _ := torchPrefix(dir)
	lp := strings.ToLower(prefix) + "/"
	records := map[string][]*zipEntry{} // lower-case relative name -> entries
	for i := range dir.Entries {
		e := &dir.Entries[i]
		if !strings.HasPrefix(e.Name, prefix+"/") {
			out.add(t.note(finding.Unknown, 0, "zip anomaly: member %q lies outside the archive prefix %q (torch refuses it; other loaders may not)", e.Name, prefix))
		}
		if low := strings.ToLower(e.Name); strings.HasPrefix(low, lp) {
			records[low[len(lp):]] = append(records[low[len(lp):]], e)
		}
	}
	if len(records["constants.pkl"]) > 0 {
		out.format = "torchscript"
		out.add(t.note(finding.Unknown, 0, "TorchScript archive: torch.load hands it to torch.jit.load, which runs its code (CVE-2025-32434)"))
	}
	if len(records[".data/extern_modules"]) > 0 {
		out.format = "torch-package"
		out.add(t.note(finding.Unknown, 0, "torch.package archive: it ships Python source that runs on import"))
	}
	main := records["data.pkl"]
	switch {
	case len(main) == 0 && out.format == "pytorch-zip":
		out.add(t.note(finding.Unknown, 0, "PyTorch zip without %sdata.pkl", lp))
	case len(main) > 1:
		out.add(t.note(finding.Unknown, 0, "%d members answer torch's case-insensitive lookup of data.pkl; which one runs is unpredictable (all scanned)", len(main)))
	}
	if len(records["version"]) == 0 && len(records[".data/version"]) == 0 && out.format == "pytorch-zip" {
		out.add(t.note(finding.Unknown, 0, "PyTorch zip without a version record (torch refuses it)"))
	}
	var storages []pickle.StorageRef
	for i := range dir.Entries {
		e := &dir.Entries[i]
		if s.ctx.Err() != nil {
			return
		}
		low := strings.ToLower(e.Name)
		rel := strings.TrimPrefix(low, lp)
		// Tensor bytes: sizes checked below, never read. A member named
		// *.npy is the exception: np.load reads the same zip as an .npz and
		// unpickles such a member's object array (torch names records by
		// number, so this costs nothing on real checkpoints).
		if rel != low && strings.HasPrefix(rel, "data/") && !strings.HasSuffix(e.Name, ".npy") {
			continue
		}
		if strings.HasSuffix(e.Name, "/") && e.Size == 0 {
			continue
		}
		runs := rel != low && rel == "data.pkl"
		in := s.scanTorchMember(t, dir, e, runs)
		storages = append(storages, in.storages...)
		if !runs && in.pickle {
			for j := range in.findings {
				in.findings[j].Reason += " (torch.load does not run this member)"
			}
		}
		out.merge(in)
	}
	s.checkStorages(t, records, storages, out)
}

// scanTorchMember scans one non-tensor member: .pkl names and anything
// that sniffs as a pickle are scanned in the torch context; nested
// archives by content; small text records (version, byteorder) pass.
func (s *scanner) scanTorchMember(t target, dir *zipDir, e *zipEntry, runs bool) *outcome {
	whole := strings.HasSuffix(strings.ToLower(e.Name), ".pkl") || e.CompSize <= prefixReadBytes
	r, size, fs := s.openMember(t, dir, e, whole)
	out := &outcome{}
	out.add(fs...)
	if r == nil || size == 0 {
		return out
	}
	c := t.child(r, size, e.Name)
	c.torch = true
	if strings.HasSuffix(strings.ToLower(e.Name), ".pkl") {
		head, err := readAt(r, 0, min(size, 16))
		if err == nil && !(len(head) >= 2 && head[0] == 0x80) && !pickle.Sniff(head, true) {
			// A .pkl record that is not a pickle cannot run; torch fails on it.
			out.add(t.note(finding.Unknown, 0, "member %q is named .pkl but is not a pickle", e.Name))
			return out
		}
		c.forcePickle = true
	}
	in := s.scanTarget(c)
	out.merge(in)
	out.storages = in.storages
	if runs && !in.pickle {
		out.add(t.note(finding.Unknown, 0, "member %q (run by torch.load) is not a pickle", e.Name))
	}
	return out
}

// checkStorages applies the storage bound of scanner-notes.md section 4:
// data/<key> must exist and hold numel × element size bytes. A record too
// small for its tensor is the out-of-bounds class of CVE-2026-24747.
func (s *scanner) checkStorages(t target, records map[string][]*zipEntry, storages []pickle.StorageRef, out *outcome) {
	seen := map[string]bool{}
	for _, st := range storages {
		if seen[st.Key] {
			continue
		}
		seen[st.Key] = true
		recs := records["data/"+strings.ToLower(st.Key)]
		if len(recs) == 0 {
			out.add(t.note(finding.Unknown, 0, "storage %q named by data.pkl has no data/%s record", st.Key, st.Key))
			continue
		}
		if st.ElemSize <= 0 || st.Numel < 0 {
			continue
		}
		hi, need := bits.Mul64(uint64(st.Numel), uint64(st.ElemSize))
		for _, r := range recs {
			if hi != 0 || r.Size < need {
				out.add(finding.Finding{Verdict: finding.Unsafe, Member: joinMember(t.member, r.Name), Chain: t.chain,
					Reason: fmt.Sprintf("storage record holds %d bytes but its %s tensor needs %d × %d (out-of-bounds view, CVE-2026-24747 class)", r.Size, st.Class, st.Numel, st.ElemSize)})
			}
		}
	}
}

func joinMember(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "!" + name
}

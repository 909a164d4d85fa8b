package scan

import (
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// scanZip reads the archive directory and scans it as the loader that
// would open it: torch (miniz), numpy (.npz), keras, or any zip.
func (s *scanner) scanZip(t target, out *outcome) {
	out.format = "zip"
	dir, err := readZipDir(t.r, t.size, s.opts.MaxMembers-s.members)
	if err != nil {
		out.add(t.note(finding.Unknown, 0, "unreadable zip archive: %v", err))
		return
	}
	s.scanZipDir(t, dir, out)
}

// scanZipDir scans an archive whose directory has been read.
func (s *scanner) scanZipDir(t target, dir *zipDir, out *outcome) {
	out.format = "zip"
	s.members += len(dir.Entries)
	for _, a := range dir.Anomalies {
		out.add(t.note(finding.Unknown, 0, "zip anomaly: %s", a))
	}
	for _, e := range dir.Entries {
		if e.Method != 0 && e.Size > minRatioFloor && e.Size/max(e.CompSize, 1) > uint64(s.opts.MaxRatio) {
			out.add(t.note(finding.Unknown, 0, "zip anomaly: member %q claims a %d:1 compression ratio (limit %d:1)", e.Name, e.Size/max(e.CompSize, 1), s.opts.MaxRatio))
		}
	}
	switch kind := classifyZip(dir); kind {
	case "pytorch-zip":
		s.scanTorchZip(t, dir, out)
	case "npz", "keras":
		out.format = kind
		s.scanZipMembers(t, dir, out)
	default:
		s.scanZipMembers(t, dir, out)
	}
}

// classifyZip names the loader's view of an archive from its member names.
func classifyZip(dir *zipDir) string {
	if prefix, ok := torchPrefix(dir); ok {
		for _, e := range dir.Entries {
			rel := strings.ToLower(strings.TrimPrefix(strings.ToLower(e.Name), strings.ToLower(prefix)+"/"))
			if rel == "data.pkl" || rel == "constants.pkl" {
				return "pytorch-zip"
			}
		}
	}
	files, npy, config := 0, 0, false
	for _, e := range dir.Entries {
		if strings.HasSuffix(e.Name, "/") {
			continue
		}
		files++
		if strings.HasSuffix(strings.ToLower(e.Name), ".npy") {
			npy++
		}
		if e.Name == "config.json" {
			config = true
		}
	}
	switch {
	case files > 0 && npy == files:
		return "npz"
	case config:
		// keras.saving reads a root config.json whatever else the archive
		// holds; walking a config that is not Keras's costs nothing.
		return "keras"
	}
	return "zip"
}

// scanZipMembers scans every member by content (npz, keras, plain zips).
func (s *scanner) scanZipMembers(t target, dir *zipDir, out *outcome) {
	for i := range dir.Entries {
		e := &dir.Entries[i]
		if strings.HasSuffix(e.Name, "/") && e.Size == 0 {
			continue
		}
		if bad := unsafeMemberPath(e.Name); bad != "" {
			out.add(t.note(finding.Unknown, 0, "zip member %q %s (an extracting tool would write outside its folder)", e.Name, bad))
		}
		if s.ctx.Err() != nil {
			return
		}
		if out.format == "keras" && e.Name == "config.json" {
			s.scanKerasMember(t, dir, e, out)
			continue
		}
		out.merge(s.scanMember(t, dir, e, e.CompSize <= prefixReadBytes))
	}
}

// scanMember opens e and scans its content as a nested target.
func (s *scanner) scanMember(t target, dir *zipDir, e *zipEntry, whole bool) *outcome {
	r, size, fs := s.openMember(t, dir, e, whole)
	out := &outcome{}
	out.add(fs...)
	if r == nil {
		return out
	}
	in := s.scanTarget(t.child(r, size, e.Name))
	out.merge(in)
	out.format = in.format
	if inf, ok := r.(*inflater); ok && inf.failure() != nil {
		out.add(t.note(finding.Unknown, 0, "member %q: decompression stopped: %v", e.Name, inf.failure()))
	}
	return out
}

// openMember returns a reader over e's uncompressed bytes. Small or
// wanted-whole stored members are read in one round trip together with
// their local header and checked against their CRC; larger stored members
// are read in place; compressed ones are inflated lazily under the caps.
func (s *scanner) openMember(t target, dir *zipDir, e *zipEntry, whole bool) (io.ReaderAt, int64, []finding.Finding) {
	var fs []finding.Finding
	bad := func(v finding.Verdict, format string, args ...any) {
		fs = append(fs, t.note(v, 0, "member %q: %s", e.Name, fmt.Sprintf(format, args...)))
	}
	want := int64(0)
	if whole && e.Method == 0 && e.CompSize <= maxInMemoryMember {
		want = int64(e.CompSize)
	}
	dataOff, head, anomalies, err := dir.memberData(e, want)
	for _, a := range anomalies {
		bad(finding.Unknown, "zip anomaly: %s", a)
	}
	if err != nil {
		bad(finding.Unknown, "unreadable: %v", err)
		return nil, 0, fs
	}
	comp := io.NewSectionReader(dir.r, dataOff, int64(e.CompSize))
	switch e.Method {
	case 0:
		if e.Size != e.CompSize {
			bad(finding.Unknown, "zip anomaly: stored member declares %d bytes but holds %d", e.Size, e.CompSize)
		}
		if want == 0 {
			return comp, int64(e.CompSize), fs
		}
		if int64(len(head)) < want {
			if head, err = readAt(dir.r, dataOff, want); err != nil {
				bad(finding.Unknown, "unreadable: %v", err)
				return nil, 0, fs
			}
		}
		if crc32.ChecksumIEEE(head) != e.CRC {
			bad(finding.Unknown, "zip anomaly: CRC mismatch (loaders read it anyway)")
		}
		return bytes.NewReader(head), int64(len(head)), fs
	case 8:
		return newInflater(flate.NewReader(comp), s.inflateLimit(int64(e.CompSize))), int64(min(e.Size, uint64(s.opts.MaxInflate))), fs
	case 12:
		return newInflater(bzip2.NewReader(comp), s.inflateLimit(int64(e.CompSize))), int64(min(e.Size, uint64(s.opts.MaxInflate))), fs
	}
	bad(finding.Unknown, "compression method %d is not supported by the scanner", e.Method)
	return nil, 0, fs
}

// unsafeMemberPath says why an archive member name escapes its folder.
func unsafeMemberPath(name string) string {
	switch {
	case strings.HasPrefix(name, "/") || (len(name) > 1 && name[1] == ':'):
		return "has an absolute path"
	case strings.Contains(name, "\\"):
		return "contains a backslash"
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "has a '..' segment"
		}
	}
	return ""
}

// torchPrefix is the archive name torch's reader uses: the first central
// directory entry's name up to its first '/'.
func torchPrefix(dir *zipDir) (string, bool) {
	if len(dir.Entries) == 0 {
		return "", false
	}
	p, _, ok := strings.Cut(dir.Entries[0].Name, "/")
	return p, ok && p != ""
}

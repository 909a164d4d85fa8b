package scan

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
	"github.com/safehub/safehub/internal/scan/pickle"
)

// Legacy torch tar (torch <= 0.1.10; torch/serialization.py legacy_load).
// torch extracts "storages" and "tensors" to a temporary folder and reads
// "pickle" and "sys_info" from the archive; every pickle in them runs
// through the caller's unpickler, so each one is scanned with the full
// policy, and raw records between them are skipped exactly.

// legacyElemSize is the element size of each legacy storage class.
var legacyElemSize = map[string]int64{
	"Char": 1, "Byte": 1, "Bool": 1, "QInt8": 1, "QUInt8": 1, "QUInt4x2": 1, "QUInt2x4": 1,
	"Half": 2, "BFloat16": 2, "Short": 2,
	"Float": 4, "Int": 4, "QInt32": 4,
	"Double": 8, "Long": 8, "ComplexFloat": 8,
	"ComplexDouble": 16,
}

const maxLegacyDims = 64

func (s *scanner) scanLegacyTar(t target, members []tarMember, out *outcome) {
	out.format = "pytorch-tar"
	out.pickle = true
	for _, m := range members {
		if bad := memberEscape(m); bad != "" {
			// legacy_load extracts members to disk with tarfile.
			out.add(t.note(finding.Unsafe, m.DataOff, "tar member %q %s (archive path traversal in an extract-to-disk format)", m.Name, bad))
		}
		if !m.isReg() || s.ctx.Err() != nil {
			continue
		}
		c := t.child(t.r, m.DataOff+m.Size, m.Name)
		c.depth = t.depth // same file, not a nested archive
		switch m.Name {
		case "storages":
			s.scanLegacyRecords(c, m.DataOff, m.DataOff+m.Size, storageRecordLen, out)
		case "tensors":
			s.scanLegacyRecords(c, m.DataOff, m.DataOff+m.Size, tensorRecordLen, out)
		case "pickle", "sys_info":
			addStream(out, pickle.ScanStream(s.ctx, t.r, m.DataOff, m.DataOff+m.Size, s.pickleOpts(c, pickle.TorchLegacy, nil)))
		default:
			out.merge(s.scanTarget(t.child(io.NewSectionReader(t.r, m.DataOff, m.Size), m.Size, m.Name)))
		}
	}
}

// recordLen returns how many raw bytes follow a record pickle at off (whose
// scan result is res), or an error when that cannot be known.
type recordLen func(r io.ReaderAt, off, end int64, res pickle.StreamResult) (int64, error)

// scanLegacyRecords scans "storages" or "tensors": a count pickle, then
// per record a pickle plus raw bytes, then (storages) a views pickle. The
// count's value is not needed: records run until the member ends.
func (s *scanner) scanLegacyRecords(t target, off, end int64, raw recordLen, out *outcome) {
	for i := 0; off < end; i++ {
		if s.ctx.Err() != nil {
			return
		}
		res := pickle.ScanStream(s.ctx, t.r, off, end, s.pickleOpts(t, pickle.TorchLegacy, nil))
		for j := range res.Findings {
			res.Findings[j].Stream = i
		}
		addStream(out, res)
		if !res.Complete {
			return
		}
		off = res.End
		if i == 0 {
			continue // the record count
		}
		n, err := raw(t.r, off, end, res)
		if err != nil {
			out.add(t.note(finding.Unknown, off, "legacy torch %s record %d: %v", t.name, i, err))
			return
		}
		off += n
	}
}

// storageRecordLen: after a (key, location, storage_class) pickle come an
// int64 element count and count × element size bytes. The storage_views
// pickle at the end names no storage class and has no raw bytes.
func storageRecordLen(r io.ReaderAt, off, end int64, res pickle.StreamResult) (int64, error) {
	class := ""
	for _, g := range res.Globals {
		if strings.HasSuffix(g, "Storage") {
			class = g
		}
	}
	if class == "" {
		return 0, nil
	}
	short := class[strings.LastIndexByte(class, '.')+1:]
	elem, ok := legacyElemSize[strings.TrimSuffix(short, "Storage")]
	if !ok {
		return 0, fmt.Errorf("unknown storage class %s: its size cannot be skipped", class)
	}
	if off+8 > end {
		return 0, fmt.Errorf("storage element count runs past the member")
	}
	b, err := readAt(r, off, 8)
	if err != nil {
		return 0, err
	}
	numel := int64(binary.LittleEndian.Uint64(b))
	if numel < 0 || numel > (end-off-8)/elem {
		return 0, fmt.Errorf("storage of %d elements does not fit the member", numel)
	}
	return 8 + numel*elem, nil
}

// tensorRecordLen: after a (key, storage_id, tensor_type) pickle come
// int32 ndim, 4 unused bytes, ndim sizes, ndim strides and the offset, all
// int64.
func tensorRecordLen(r io.ReaderAt, off, end int64, _ pickle.StreamResult) (int64, error) {
	if off+8 > end {
		return 0, fmt.Errorf("tensor record runs past the member")
	}
	b, err := readAt(r, off, 4)
	if err != nil {
		return 0, err
	}
	ndim := int64(int32(binary.LittleEndian.Uint32(b)))
	if ndim < 0 || ndim > maxLegacyDims {
		return 0, fmt.Errorf("tensor record with %d dimensions", ndim)
	}
	n := 8 + 16*ndim + 8
	if off+n > end {
		return 0, fmt.Errorf("tensor record runs past the member")
	}
	return n, nil
}

// scanNemoConfig reports the Hydra _target_ classes a NeMo restore would
// instantiate (CVE-2025-23304): classes outside NeMo's own collections are
// not proven safe.
func (s *scanner) scanNemoConfig(t target, out *outcome) {
	data, err := readAt(t.r, 0, min(t.size, 16<<20))
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "- "))
		v, ok := strings.CutPrefix(line, "_target_:")
		if !ok {
			continue
		}
		target := strings.Trim(strings.TrimSpace(v), `"'`)
		if !strings.HasPrefix(target, "nemo.collections.") && !strings.HasPrefix(target, "nemo.core.") {
			out.add(t.note(finding.Unknown, 0, "NeMo config instantiates %q via Hydra _target_ (CVE-2025-23304 class)", target))
		}
	}
}

package scan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"unicode/utf8"

	"github.com/safehub/safehub/internal/scan/finding"
)

// safetensors validation: the checks huggingface/safetensors'
// tensor.rs performs, plus stricter ones that close differentials between
// JSON readers (scanner-notes.md section 9). Only the header and the file
// size are needed; the data section is never read.

const (
	maxSafetensorsDim = 1<<48 - 1
	// A header this much larger than the data it describes is padding or
	// a resource attack, not a model.
	maxHeaderDataRatio = 16
	minRatioCheckBytes = 1 << 20
)

var safetensorsDtypeBits = map[string]uint64{
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32,
	"C64": 64, "F64": 64, "I64": 64, "U64": 64,
}

func (s *scanner) scanSafetensors(t target, head []byte, out *outcome) {
	out.format = "safetensors"
	if len(head) < 8 || t.size < 8 {
		out.add(t.note(finding.Unknown, 0, "invalid safetensors: the file has %d bytes, fewer than the 8-byte header length", t.size))
		return
	}
	n := binary.LittleEndian.Uint64(head)
	if n > maxSafetensorsHead {
		out.add(t.note(finding.Unknown, 0, "invalid safetensors: header of %d bytes exceeds the 100,000,000-byte limit", n))
		return
	}
	if n > uint64(t.size-8) {
		// Checked before reading so a false length never sizes a buffer.
		out.add(t.note(finding.Unknown, 0, "safetensors header length %d exceeds the file (%d bytes follow the length)", n, t.size-8))
		return
	}
	hdr := head[8:min(int64(len(head)), 8+int64(n))]
	if int64(len(hdr)) < int64(n) {
		var err error
		if hdr, err = readAt(t.r, 8, int64(n)); err != nil {
			out.add(t.note(finding.Unknown, 8, "cannot read the safetensors header: %v", err))
			return
		}
	}
	if err := validateSafetensorsHeader(hdr, t.size); err != nil {
		out.add(t.note(finding.Unknown, 8, "invalid safetensors: %v", err))
	}
}

type stTensor struct {
	name       string
	begin, end uint64
}

// validateSafetensorsHeader checks the JSON header hdr (without the 8-byte
// length) of a file of fileSize bytes.
func validateSafetensorsHeader(hdr []byte, fileSize int64) error {
	if int64(len(hdr))+8 > fileSize {
		return errors.New("header runs past the end of the file")
	}
	if !utf8.Valid(hdr) {
		return errors.New("header is not valid UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return errors.New("header does not start with '{'")
	}
	lx := &jsonLex{b: hdr}
	if err := lx.expect('{'); err != nil {
		return err
	}
	var tensors []stTensor
	seen := map[string]bool{}
	for first := true; ; first = false {
		more, err := lx.more('}', first)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key, err := lx.str()
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := lx.expect(':'); err != nil {
			return err
		}
		if key == "__metadata__" {
			if err := readMetadata(lx); err != nil {
				return fmt.Errorf("__metadata__: %w", err)
			}
			continue
		}
		if key == "" {
			return errors.New("empty tensor name")
		}
		tt, err := readTensorInfo(lx)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", key, err)
		}
		tt.name = key
		tensors = append(tensors, tt)
	}
	rest := hdr[lx.pos:]
	if len(bytes.Trim(rest, " ")) != 0 {
		return errors.New("bytes other than space padding after the JSON header")
	}
	sort.SliceStable(tensors, func(i, j int) bool {
		if tensors[i].begin != tensors[j].begin {
			return tensors[i].begin < tensors[j].begin
		}
		return tensors[i].end < tensors[j].end
	})
	var pos uint64
	for _, tt := range tensors {
		if tt.begin != pos || tt.end < tt.begin {
			return fmt.Errorf("tensor %q: data offsets [%d, %d) are not contiguous with the previous end %d", tt.name, tt.begin, tt.end, pos)
		}
		pos = tt.end
	}
	want := uint64(fileSize) - 8 - uint64(len(hdr))
	if pos != want {
		return fmt.Errorf("tensors cover %d data bytes but the file holds %d", pos, want)
	}
	if len(hdr) > minRatioCheckBytes && uint64(len(hdr)) > maxHeaderDataRatio*max(pos, 1) {
		return fmt.Errorf("header of %d bytes describes only %d data bytes", len(hdr), pos)
	}
	return nil
}

// readMetadata: null or an object of string values, no duplicate keys.
func readMetadata(lx *jsonLex) error {
	if lx.null() {
		return nil
	}
	if err := lx.expect('{'); err != nil {
		return errors.New("not an object")
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		more, err := lx.more('}', first)
		if err != nil || !more {
			return err
		}
		k, err := lx.str()
		if err != nil {
			return err
		}
		if seen[k] {
			return fmt.Errorf("duplicate key %q", k)
		}
		seen[k] = true
		if err := lx.expect(':'); err != nil {
			return err
		}
		if _, err := lx.str(); err != nil {
			return fmt.Errorf("value of %q: %w", k, err)
		}
	}
}

// readTensorInfo reads {dtype, shape, data_offsets}, nothing else, each once.
func readTensorInfo(lx *jsonLex) (stTensor, error) {
	var tt stTensor
	if err := lx.expect('{'); err != nil {
		return tt, err
	}
	var dtypeBits uint64
	var shape, offsets []uint64
	seen := map[string]bool{}
	for first := true; ; first = false {
		more, err := lx.more('}', first)
		if err != nil {
			return tt, err
		}
		if !more {
			break
		}
		k, err := lx.str()
		if err != nil {
			return tt, err
		}
		if seen[k] {
			return tt, fmt.Errorf("duplicate field %q", k)
		}
		seen[k] = true
		if err := lx.expect(':'); err != nil {
			return tt, err
		}
		switch k {
		case "dtype":
			d, err := lx.str()
			if err != nil {
				return tt, err
			}
			b, ok := safetensorsDtypeBits[d]
			if !ok {
				return tt, fmt.Errorf("unknown dtype %q", d)
			}
			dtypeBits = b
		case "shape":
			if shape, err = readUintArray(lx, maxSafetensorsDim); err != nil {
				return tt, fmt.Errorf("shape: %w", err)
			}
		case "data_offsets":
			if offsets, err = readUintArray(lx, 1<<63); err != nil {
				return tt, fmt.Errorf("data_offsets: %w", err)
			}
		default:
			return tt, fmt.Errorf("unknown field %q", k)
		}
	}
	if !seen["dtype"] || !seen["shape"] || !seen["data_offsets"] {
		return tt, errors.New("missing dtype, shape or data_offsets")
	}
	if len(offsets) != 2 {
		return tt, errors.New("data_offsets must hold two integers")
	}
	tt.begin, tt.end = offsets[0], offsets[1]
	numelBits := dtypeBits
	for _, d := range shape {
		hi, lo := bits.Mul64(numelBits, d)
		if hi != 0 {
			return tt, errors.New("shape overflows")
		}
		numelBits = lo
	}
	if numelBits%8 != 0 {
		return tt, errors.New("element count × dtype bits is not a whole number of bytes")
	}
	if tt.end < tt.begin || tt.end-tt.begin != numelBits/8 {
		return tt, fmt.Errorf("data_offsets span %d bytes, shape and dtype need %d", int64(tt.end-tt.begin), numelBits/8)
	}
	return tt, nil
}

// readUintArray reads a JSON array of non-negative integers ≤ limit.
func readUintArray(lx *jsonLex, limit uint64) ([]uint64, error) {
	if err := lx.expect('['); err != nil {
		return nil, err
	}
	var out []uint64
	for first := true; ; first = false {
		more, err := lx.more(']', first)
		if err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
		v, err := lx.uint()
		if err != nil {
			return nil, err
		}
		if v > limit {
			return nil, fmt.Errorf("%d is not an integer in [0, %d]", v, limit)
		}
		if len(out) >= 64 {
			return nil, errors.New("more than 64 dimensions")
		}
		out = append(out, v)
	}
}

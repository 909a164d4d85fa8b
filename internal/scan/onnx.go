package scan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// ONNX: a protobuf ModelProto. The one load-time hazard the scanner checks
// is an initializer whose external_data location is absolute or climbs
// with "..", which makes onnx read (or, when saving, write) files outside
// the model's folder (CVE-2022-25882, CVE-2024-27318, CVE-2025-51480).
// Fields are walked with length-delimited skips; raw tensor bytes are
// skipped, not read.

const (
	onnxGraph        = 7  // ModelProto.graph
	onnxOpsetImport  = 8  // ModelProto.opset_import
	onnxInitializer  = 5  // GraphProto.initializer
	onnxExternalData = 13 // TensorProto.external_data
	maxONNXFields    = 10_000_000
)

// looksLikeONNX: ir_version (field 1, varint 1..20) first, then another
// ModelProto field.
func looksLikeONNX(h []byte) bool {
	if len(h) < 4 || h[0] != 0x08 || h[1] == 0 || h[1] > 20 {
		return false
	}
	switch h[2] {
	case 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42:
		return true
	}
	return false
}

func (s *scanner) scanONNX(t target, out *outcome) {
	out.format = "onnx"
	q := &seqReader{r: t.r, size: t.size, order: binary.LittleEndian}
	fields := 0
	err := walkProto(q, t.size, &fields, func(field uint64, q *seqReader, end int64) (bool, error) {
		if field == onnxOpsetImport {
			domain, _, err := readStringEntry(q, end) // OperatorSetIdProto.domain is field 1
			if err == nil && !standardONNXDomain(domain) {
				out.add(t.note(finding.Unknown, q.off, "ONNX model uses the custom operator domain %q (its operators come from a library loaded by the user)", domain))
			}
			return true, err
		}
		if field != onnxGraph {
			return false, nil
		}
		return true, walkProto(q, end, &fields, func(field uint64, q *seqReader, end int64) (bool, error) {
			if field != onnxInitializer {
				return false, nil
			}
			return true, walkProto(q, end, &fields, func(field uint64, q *seqReader, end int64) (bool, error) {
				if field != onnxExternalData {
					return false, nil
				}
				key, val, err := readStringEntry(q, end)
				if err != nil {
					return true, err
				}
				if key == "location" {
					if bad := externalLocationEscapes(val); bad != "" {
						out.add(t.note(finding.Unsafe, q.off, "ONNX external_data location %q %s (path traversal, CVE-2024-27318 class)", val, bad))
					}
				}
				return true, nil
			})
		})
	})
	if err != nil {
		out.add(t.note(finding.Unknown, q.off, "malformed ONNX protobuf: %v", err))
	}
}

func standardONNXDomain(d string) bool {
	switch d {
	case "", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training", "com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental", "com.ms.internal.nhwc", "org.pytorch.aten":
		return true
	}
	return false
}

func externalLocationEscapes(loc string) string {
	switch {
	case path.IsAbs(loc) || strings.HasPrefix(loc, "\\") || (len(loc) > 1 && loc[1] == ':'):
		return "is absolute"
	case strings.Contains(loc, ".."):
		return "climbs out of the model folder"
	}
	return ""
}

// walkProto visits the fields of a message ending at end. visit returns
// true when it consumed a length-delimited field's payload itself.
func walkProto(q *seqReader, end int64, fields *int, visit func(field uint64, q *seqReader, end int64) (bool, error)) error {
	for q.off < end {
		if *fields++; *fields > maxONNXFields {
			return errors.New("too many protobuf fields")
		}
		tag, err := q.varint()
		if err != nil {
			return err
		}
		field, wire := tag>>3, tag&7
		switch wire {
		case 0:
			if _, err := q.varint(); err != nil {
				return err
			}
		case 1:
			err = q.skip(8)
		case 5:
			err = q.skip(4)
		case 2:
			n, err := q.varint()
			if err != nil {
				return err
			}
			if n > uint64(end-q.off) {
				return fmt.Errorf("field %d of %d bytes runs past its message", field, n)
			}
			sub := q.off + int64(n)
			used, err := visit(field, q, sub)
			if err != nil {
				return err
			}
			if !used || q.off != sub {
				q.off = sub
			}
		default:
			return fmt.Errorf("wire type %d", wire)
		}
		if err != nil {
			return err
		}
	}
	if q.off != end {
		return errors.New("message overruns its length")
	}
	return nil
}

func (q *seqReader) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		b, err := q.next(1)
		if err != nil {
			return 0, err
		}
		v |= uint64(b[0]&0x7f) << (7 * i)
		if b[0] < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint too long")
}

// readStringEntry reads a StringStringEntryProto {1: key, 2: value}.
func readStringEntry(q *seqReader, end int64) (string, string, error) {
	var kv [3]string
	fields := 0
	err := walkProto(q, end, &fields, func(field uint64, q *seqReader, e int64) (bool, error) {
		if field != 1 && field != 2 {
			return false, nil
		}
		if e-q.off > 1<<20 {
			return false, errors.New("external_data string too long")
		}
		b, err := q.next(e - q.off)
		kv[field] = string(b)
		return true, err
	})
	return kv[1], kv[2], err
}

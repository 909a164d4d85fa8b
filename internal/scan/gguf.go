package scan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// GGUF metadata (ggml-org/llama.cpp: ggml/src/gguf.cpp): magic, version
// (2 or 3), tensor count, KV count, then the KVs. Only the KVs are read,
// every count and length checked against the bytes that remain; chat
// templates (every tokenizer.chat_template* key) are checked for Jinja
// sandbox escapes (CVE-2024-34359). Tensor data is never read.

const (
	maxGGUFKVs       = 1_000_000
	maxGGUFString    = 64 << 20
	maxChatTemplate  = 1 << 20
	ggufTypeString   = 8
	ggufTypeArray    = 9
	ggufFirstChunk   = 64 << 10
	ggufLaterChunk   = 1 << 20
	ggufMaxArrayNest = 1
)

// ggufFixedSize is the byte size of each scalar GGUF type (0 = variable).
var ggufFixedSize = [13]int64{1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8}

// seqReader reads forward through an io.ReaderAt in chunks, so that
// parsing many small fields costs few round trips.
type seqReader struct {
	r         io.ReaderAt
	off, size int64
	buf       []byte
	bufOff    int64
	order     binary.ByteOrder
}

func (q *seqReader) remaining() int64 { return q.size - q.off }

// next returns the next n bytes (valid until the next call).
func (q *seqReader) next(n int64) ([]byte, error) {
	if n < 0 || n > q.remaining() {
		return nil, fmt.Errorf("needs %d bytes at offset %d, only %d remain", n, q.off, q.remaining())
	}
	if q.off < q.bufOff || q.off+n > q.bufOff+int64(len(q.buf)) {
		chunk := int64(ggufFirstChunk)
		if q.buf != nil {
			chunk = ggufLaterChunk
		}
		want := min(max(n, chunk), q.remaining())
		b, err := readAt(q.r, q.off, want)
		if err != nil {
			return nil, err
		}
		q.buf, q.bufOff = b, q.off
	}
	b := q.buf[q.off-q.bufOff : q.off-q.bufOff+n]
	q.off += n
	return b, nil
}

func (q *seqReader) skip(n int64) error {
	if n < 0 || n > q.remaining() {
		return fmt.Errorf("needs %d bytes at offset %d, only %d remain", n, q.off, q.remaining())
	}
	q.off += n
	return nil
}

func (q *seqReader) u32() (uint32, error) {
	b, err := q.next(4)
	if err != nil {
		return 0, err
	}
	return q.order.Uint32(b), nil
}

func (q *seqReader) u64() (uint64, error) {
	b, err := q.next(8)
	if err != nil {
		return 0, err
	}
	return q.order.Uint64(b), nil
}

func (q *seqReader) str(limit uint64) (string, error) {
	n, err := q.u64()
	if err != nil {
		return "", err
	}
	if n > limit {
		return "", fmt.Errorf("string of %d bytes exceeds the %d-byte limit", n, limit)
	}
	b, err := q.next(int64(n))
	return string(b), err
}

// ggufTemplate is one chat template found in the metadata.
type ggufTemplate struct {
	Key, Text string
	Offset    int64
}

// parseGGUF reads the header and KVs, returning the chat templates.
func parseGGUF(r io.ReaderAt, size int64) ([]ggufTemplate, error) {
	q := &seqReader{r: r, size: size, order: binary.LittleEndian}
	if _, err := q.next(4); err != nil {
		return nil, err
	}
	v, err := q.u32()
	if err != nil {
		return nil, err
	}
	if v != 2 && v != 3 {
		if sw := (v>>24 | v>>8&0xff00 | v<<8&0xff0000 | v<<24); sw == 2 || sw == 3 {
			q.order = binary.BigEndian
		} else {
			return nil, fmt.Errorf("unsupported GGUF version %d (llama.cpp reads 2 and 3)", v)
		}
	}
	if _, err = q.u64(); err != nil { // tensor count: tensors are not read
		return nil, err
	}
	kvs, err := q.u64()
	if err != nil {
		return nil, err
	}
	if kvs > maxGGUFKVs {
		return nil, fmt.Errorf("%d metadata entries exceed the %d limit", kvs, maxGGUFKVs)
	}
	var tmpls []ggufTemplate
	for i := uint64(0); i < kvs; i++ {
		key, err := q.str(maxGGUFString)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		typ, err := q.u32()
		if err != nil {
			return nil, err
		}
		at := q.off
		if isChatTemplateKey(key) {
			if typ != ggufTypeString {
				return nil, fmt.Errorf("%s is not a string", key)
			}
			text, err := q.str(maxGGUFString)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			tmpls = append(tmpls, ggufTemplate{Key: key, Text: text, Offset: at})
			continue
		}
		if err := skipGGUFValue(q, typ, 0); err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, err)
		}
	}
	return tmpls, nil
}

func isChatTemplateKey(k string) bool {
	return k == "tokenizer.chat_template" || strings.HasPrefix(k, "tokenizer.chat_template.")
}

func skipGGUFValue(q *seqReader, typ uint32, depth int) error {
	switch {
	case typ < uint32(len(ggufFixedSize)) && ggufFixedSize[typ] > 0:
		return q.skip(ggufFixedSize[typ])
	case typ == ggufTypeString:
		n, err := q.u64()
		if err != nil {
			return err
		}
		if n > maxGGUFString {
			return fmt.Errorf("string of %d bytes exceeds the limit", n)
		}
		return q.skip(int64(n))
	case typ == ggufTypeArray:
		if depth >= ggufMaxArrayNest {
			return errors.New("nested arrays are not supported by llama.cpp")
		}
		et, err := q.u32()
		if err != nil {
			return err
		}
		count, err := q.u64()
		if err != nil {
			return err
		}
		if et < uint32(len(ggufFixedSize)) && ggufFixedSize[et] > 0 {
			if count > uint64(q.remaining())/uint64(ggufFixedSize[et]) {
				return fmt.Errorf("array of %d elements does not fit the file", count)
			}
			return q.skip(int64(count) * ggufFixedSize[et])
		}
		if et != ggufTypeString && et != ggufTypeArray {
			return fmt.Errorf("array of unknown type %d", et)
		}
		if count > uint64(q.remaining())/8 {
			return fmt.Errorf("array of %d elements does not fit the file", count)
		}
		for range count {
			if err := skipGGUFValue(q, et, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown value type %d", typ)
}

func (s *scanner) scanGGUF(t target, out *outcome) {
	out.format = "gguf"
	tmpls, err := parseGGUF(t.r, t.size)
	if err != nil {
		out.add(t.note(finding.Unknown, 0, "malformed GGUF metadata: %v", err))
	}
	for _, tm := range tmpls {
		v, why := checkChatTemplate(tm.Text)
		if v != finding.Safe {
			out.add(t.note(v, tm.Offset, "chat template %s: %s", tm.Key, why))
		}
	}
}

package scan

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"io"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Old joblib's compressed container (joblib/numpy_pickle_compat.py).
var magicJoblibZF = []byte("ZF0x")

const joblibZFHeader = 2 + 19

// scanCompressed opens single-stream wrappers (gzip, bz2, xz, lzma, zlib,
// lz4), which is also how joblib compresses whole dumps. The stream is
// decompressed lazily under the byte and ratio caps, and its content is
// scanned by its own magic, one nesting level down.
func (s *scanner) scanCompressed(t target, head []byte, out *outcome) {
	start := int64(0)
	if bytes.HasPrefix(head, magicJoblibZF) && t.size > joblibZFHeader {
		// joblib < 0.10: "ZF", the hex length padded to 19 bytes, then zlib.
		start = joblibZFHeader
	}
	comp := io.NewSectionReader(t.r, start, t.size-start)
	var src io.Reader
	var err error
	switch {
	case bytes.HasPrefix(head, magicGzip):
		out.format = "gzip"
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(comp); err == nil {
			zr.Multistream(true) // Python's gzip reads concatenated members
			src = zr
		}
	case bytes.HasPrefix(head, magicBzip2):
		out.format = "bz2"
		src = bzip2.NewReader(comp)
	case bytes.HasPrefix(head, magicXz):
		out.format = "xz"
		src, err = xz.NewReader(comp)
	case isLzmaAlone(head):
		out.format = "lzma"
		src, err = lzma.NewReader(comp)
	case bytes.HasPrefix(head, magicLz4):
		out.format = "lz4"
		src, err = newLZ4FrameReader(comp)
	default:
		out.format = "zlib"
		if start > 0 {
			out.format = "joblib-zf"
		}
		src, err = zlib.NewReader(comp)
	}
	if err != nil {
		if out.format == "zlib" || out.format == "lzma" {
			// A one- or three-byte "magic" that did not open: not compressed.
			out.format = ""
			s.scanOther(t, head, out)
			return
		}
		out.add(t.note(finding.Unknown, 0, "corrupt %s stream: %v", out.format, err))
		return
	}
	inf := newInflater(src, s.inflateLimit(t.size))
	data, err := inf.all()
	if err != nil {
		if (out.format == "zlib" || out.format == "lzma") && (len(data) == 0 || looksLikeText(head)) {
			// The weak one- or three-byte magic matched text or data that
			// does not inflate: not a compressed stream after all.
			out.format = ""
			s.scanOther(t, head, out)
			return
		}
		out.add(t.note(finding.Unknown, 0, "%s stream: %v (content scanned up to there)", out.format, err))
	}
	inner := t
	inner.r, inner.size, inner.depth = bytes.NewReader(data), int64(len(data)), t.depth+1
	inner.loose = true // joblib.load and torch.load unpickle what they decompress
	in := s.scanTarget(inner)
	out.merge(in)
	if in.format == "pickle" || in.format == "joblib" {
		out.format = "joblib" // whole-file compression of a pickle is joblib's
	} else if in.format != "" && in.format != "data" && in.format != "text" && in.format != "empty" {
		out.format = out.format + "+" + in.format
	}
}

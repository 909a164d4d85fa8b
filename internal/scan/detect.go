package scan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/safehub/safehub/internal/scan/finding"
)

// Magic numbers (scanner-notes.md section 6).
var (
	magicZip       = []byte("PK\x03\x04")
	magicZipEmpty  = []byte("PK\x05\x06")
	magicNpy       = []byte("\x93NUMPY")
	magicGGUF      = []byte("GGUF")
	magicHDF5      = []byte("\x89HDF\r\n\x1a\n")
	magic7z        = []byte("7z\xbc\xaf\x27\x1c")
	magicGzip      = []byte("\x1f\x8b")
	magicBzip2     = []byte("BZh")
	magicXz        = []byte("\xfd7zXZ\x00")
	magicLz4       = []byte("\x04\x22\x4d\x18")
	magicLzmaAlone = []byte("\x5d\x00\x00")
	magicPNG       = []byte("\x89PNG\r\n\x1a\n")
	magicJPEG      = []byte("\xff\xd8\xff")
	magicGIF       = []byte("GIF8")
	magicParquet   = []byte("PAR1")
	// legacyTorchMagic is pickle #1 of a legacy torch file as torch.save
	// writes it: protocol 2, LONG1 0x1950a86a20f9469cfc6c, STOP.
	legacyTorchMagic = []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e")
)

// scanTarget identifies t's format from its bytes and scans it.
func (s *scanner) scanTarget(t target) *outcome {
	out := &outcome{}
	if t.depth > s.opts.MaxDepth {
		out.format = "data"
		out.add(t.note(finding.Unknown, 0, "nesting deeper than the depth limit (%d)", s.opts.MaxDepth))
		return out
	}
	if err := s.ctx.Err(); err != nil {
		out.format = "data"
		out.add(t.note(finding.Unknown, 0, "scan stopped: %v", err))
		return out
	}
	if t.size <= 0 {
		out.format = "empty"
		return out
	}
	head, err := readAt(t.r, 0, min(t.size, prefixReadBytes))
	if err != nil {
		out.format = "data"
		out.add(t.note(finding.Unknown, 0, "cannot read the file head: %v", err))
		return out
	}
	if _, inMemory := t.r.(*bytes.Reader); !inMemory {
		// Later reads inside the head come from memory: data.pkl, tar
		// headers and small files cost the gateway no extra round trip.
		t.r = &headReader{r: t.r, head: head, whole: int64(len(head)) == t.size}
	}
	s.dispatch(t, head, out)
	if out.format != "zip" && !strings.HasPrefix(out.format, "pytorch-zip") && !isZipFamily(out.format) &&
		out.format != "safetensors" && out.format != "gguf" {
		// Python's zipfile finds an end record anywhere in the tail, so a
		// pickle-headed file can also be a zip to keras and numpy.
		s.scanPolyglotTail(t, out)
	}
	return out
}

func isZipFamily(f string) bool {
	switch f {
	case "zip", "pytorch-zip", "torchscript", "torch-package", "npz", "keras":
		return true
	}
	return false
}

// dispatch picks the reader by magic, in the order the loaders would.
func (s *scanner) dispatch(t target, head []byte, out *outcome) {
	switch {
	case t.forcePickle && !(len(head) >= 2 && head[0] == 0x80):
		s.tryLoosePickle(t, head, out)
	case bytes.HasPrefix(head, magicZip), bytes.HasPrefix(head, magicZipEmpty):
		s.scanZip(t, out)
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		s.scanPickleFile(t, head, out)
		// torch.load tries tarfile first: a PROTO-headed file that is also a
		// valid tar is loaded as a legacy tar checkpoint.
		if len(head) >= 512 && validTarChecksum(head[:512]) {
			s.alsoAs(t, out, func(o *outcome) { s.scanTar(t, o) })
		}
	case bytes.HasPrefix(head, magicNpy):
		s.scanNpy(t, head, out)
	case bytes.HasPrefix(head, magicGGUF):
		s.scanGGUF(t, out)
	case bytes.HasPrefix(head, magicHDF5):
		s.scanHDF5(t, head, out)
	case bytes.HasPrefix(head, magic7z):
		out.format = "7z"
		out.add(t.note(finding.Unknown, 0, "7z archive: no reader for its members, so they cannot be checked"))
	case bytes.HasPrefix(head, magicGzip), bytes.HasPrefix(head, magicBzip2) && len(head) > 3 && head[3] >= '1' && head[3] <= '9',
		bytes.HasPrefix(head, magicXz), bytes.HasPrefix(head, magicLz4), isZlibHeader(head), isLzmaAlone(head),
		bytes.HasPrefix(head, magicJoblibZF) && len(head) > joblibZFHeader+2 && isZlibHeader(head[joblibZFHeader:]):
		s.scanCompressed(t, head, out)
	case len(head) >= 512 && validTarChecksum(head[:512]):
		s.scanTar(t, out)
		// pickle.load reads from byte 0: a tar header can be a pickle too.
		if t.forcePickle || t.loose {
			s.alsoAs(t, out, func(o *outcome) { s.tryLoosePickle(t, head, o) })
		}
	case looksLikeSafetensors(head, t.size), promisedFormat(t.name) == "safetensors":
		// A file named .safetensors is judged as one: if it is not valid,
		// the loader rejects it, and the reason says why.
		s.scanSafetensors(t, head, out)
	default:
		s.scanOther(t, head, out)
	}
}

// scanOther handles files with no magic: protocol 0/1 pickles (by trial
// parse), ONNX, JSON, text and opaque data.
func (s *scanner) scanOther(t target, head []byte, out *outcome) {
	if s.tryLoosePickle(t, head, out) {
		return
	}
	switch {
	case bytes.HasPrefix(head, magicPNG), bytes.HasPrefix(head, magicJPEG), bytes.HasPrefix(head, magicGIF):
		out.format = "image"
	case bytes.HasPrefix(head, magicParquet):
		out.format = "parquet"
	case looksLikeSavedModel(head):
		s.scanSavedModel(t, out)
	case looksLikeONNX(head):
		s.scanONNX(t, out)
	case looksLikeJSON(head):
		out.format = "json"
	case looksLikeText(head):
		out.format = "text"
	default:
		out.format = "data"
	}
}

// looksLikeSafetensors: a u64 little-endian header length, then '{' (or
// the whitespace serde would skip, which validation then rejects with a
// reason). A length that runs past the file still counts when byte 8 is '{'
// and the length is below 2^40 (real headers are at most 100,000,000
// bytes): such a file is a malformed safetensors file, which must come out
// unknown, not opaque "data". Random data and text almost never have five
// zero bytes there, so they stay "data".
func looksLikeSafetensors(head []byte, size int64) bool {
	if len(head) < 9 {
		return false
	}
	n := binary.LittleEndian.Uint64(head)
	if n < 2 {
		return false
	}
	if head[8] == '{' && n < 1<<40 {
		return true
	}
	if n > uint64(size-8) {
		return false
	}
	switch head[8] {
	case ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

func isZlibHeader(h []byte) bool {
	return len(h) >= 2 && h[0] == 'x' && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0
}

// isLzmaAlone matches the .lzma header python's lzma module writes for
// joblib (properties 0x5d, dictionary size a power of two, then a size).
func isLzmaAlone(h []byte) bool {
	if len(h) < 13 || !bytes.HasPrefix(h, magicLzmaAlone) {
		return false
	}
	dict := binary.LittleEndian.Uint32(h[1:5])
	return dict != 0 && dict&(dict-1) == 0
}

func looksLikeJSON(h []byte) bool {
	t := bytes.TrimLeft(h, " \t\r\n\xef\xbb\xbf")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && looksLikeText(h)
}

// looksLikeText: valid UTF-8 (a cut final rune allowed) with no control
// bytes other than whitespace.
func looksLikeText(h []byte) bool {
	if len(h) > utf8.UTFMax {
		cut := len(h) - utf8.UTFMax
		for cut < len(h) && !utf8.RuneStart(h[cut]) {
			cut++
		}
		if !utf8.Valid(h[:cut]) {
			return false
		}
		for _, c := range h[cut:] {
			if c >= 0xf5 || c == 0xc0 || c == 0xc1 {
				return false // never valid in UTF-8, cut or not
			}
		}
	} else if !utf8.Valid(h) {
		return false
	}
	for _, c := range h {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' {
			return false
		}
	}
	return true
}

// readAt reads exactly n bytes at off. The caller has checked n against
// the input's size, so the allocation is bounded by what exists.
func readAt(r io.ReaderAt, off, n int64) ([]byte, error) {
	if n < 0 || off < 0 {
		return nil, fmt.Errorf("bad read range %d+%d", off, n)
	}
	b := make([]byte, n)
	k, err := r.ReadAt(b, off)
	if int64(k) == n {
		return b, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// promisedFormat names the non-pickle format a file name promises, "" when
// the name makes no such promise (".bin" promises nothing). It matches the
// policy's list of non-pickle extensions, plus the HDF5/Keras/npy names.
func promisedFormat(name string) string {
	return promisedFormats[strings.ToLower(path.Ext(name))]
}

var promisedFormats = map[string]string{
	".safetensors": "safetensors", ".json": "JSON", ".jsonl": "JSON lines", ".txt": "text", ".md": "text",
	".yaml": "YAML", ".yml": "YAML", ".model": "a SentencePiece model", ".gguf": "GGUF", ".onnx": "ONNX",
	".parquet": "parquet", ".arrow": "arrow", ".csv": "CSV", ".tsv": "TSV", ".png": "an image", ".jpg": "an image",
	".jpeg": "an image", ".gif": "an image", ".webp": "an image", ".msgpack": "msgpack", ".tiktoken": "a tiktoken vocabulary",
	".wav": "audio", ".mp3": "audio", ".flac": "audio", ".h5": "HDF5", ".hdf5": "HDF5", ".keras": "a Keras archive",
	".npy": "a numeric numpy array",
}

// kindWord is how Reason names a pickle-bearing format.
func kindWord(format string) string {
	switch format {
	case "pickle", "pytorch-legacy":
		return "pickle"
	case "pytorch-zip", "pytorch-tar":
		return "PyTorch pickle archive"
	case "torchscript":
		return "TorchScript archive"
	case "numpy":
		return "numpy object array (a pickle)"
	case "npz":
		return "numpy archive holding pickles"
	case "joblib":
		return "joblib pickle"
	}
	return "pickle-bearing " + format + " file"
}

// headReader serves reads that fall inside a file's head from memory and
// passes the rest to the underlying reader (whose bytes Scan counts).
type headReader struct {
	r     io.ReaderAt
	head  []byte
	whole bool // the head is the whole file
}

func (h *headReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= 0 && off+int64(len(p)) <= int64(len(h.head)) {
		return copy(p, h.head[off:]), nil
	}
	if !h.whole {
		return h.r.ReadAt(p, off)
	}
	if off < 0 || off > int64(len(h.head)) {
		return 0, io.EOF
	}
	return copy(p, h.head[off:]), io.EOF
}

// alsoAs scans another interpretation of the same bytes (a polyglot) and
// keeps what it finds, without changing the format already named: the
// verdict is the worst over every way a loader could read the file.
func (s *scanner) alsoAs(t target, out *outcome, scan func(*outcome)) {
	var other outcome
	scan(&other)
	out.add(other.findings...)
	out.pickle = out.pickle || other.pickle
}

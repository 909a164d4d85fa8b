package scan

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A bounded decoder for the LZ4 frame format (lz4/lz4: doc/lz4_Frame_format.md
// and doc/lz4_Block_format.md), which joblib writes with compress="lz4"
// through python-lz4's LZ4FrameFile. It is hand-written rather than a
// dependency because it is small and the scanner needs only decoding.
//
// Checksums (header, block, content) are skipped, not verified: a file the
// real loader would reject for a bad checksum cannot run anything, and
// scanning it anyway only errs towards reporting. Memory is bounded by the
// frame's declared block maximum (4 MiB at most) plus a 64 KiB window; the
// total output is bounded by the caller's inflater.

const (
	lz4FrameMagic    = 0x184D2204
	lz4SkippableMask = 0xFFFFFFF0
	lz4SkippableBase = 0x184D2A50
	lz4Window        = 64 << 10 // the farthest a match may reach back
	lz4MinMatch      = 4
)

var errLZ4Corrupt = errors.New("corrupt lz4 data")

// lz4FrameReader decodes concatenated LZ4 frames (and skips skippable
// frames) as python-lz4's LZ4FrameFile does.
type lz4FrameReader struct {
	src *bufio.Reader

	// Current frame's descriptor.
	blockMax     int
	linked       bool // blocks may reference earlier blocks' output
	blockSum     bool
	contentSum   bool
	contentSize  uint64
	haveSize     bool
	produced     uint64 // bytes of the current frame's content so far
	inFrame      bool
	framesClosed int

	comp []byte // one compressed block
	win  []byte // window (previous output kept for linked blocks) + current block
	out  []byte // decoded bytes not yet returned to Read
	err  error
}

// newLZ4FrameReader reads the first frame header now, so a stream that is
// not LZ4 fails at once with a reason.
func newLZ4FrameReader(r io.Reader) (*lz4FrameReader, error) {
	z := &lz4FrameReader{src: bufio.NewReaderSize(r, 64<<10)}
	if err := z.nextFrame(true); err != nil {
		return nil, err
	}
	return z, nil
}

func (z *lz4FrameReader) Read(p []byte) (int, error) {
	for len(z.out) == 0 {
		if z.err != nil {
			return 0, z.err
		}
		z.err = z.step()
	}
	n := copy(p, z.out)
	z.out = z.out[n:]
	return n, nil
}

// step decodes one block, or moves past one frame boundary.
func (z *lz4FrameReader) step() error {
	if !z.inFrame {
		return z.nextFrame(false)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(z.src, hdr[:]); err != nil {
		return unexpected(err)
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size == 0 { // EndMark
		return z.endFrame()
	}
	stored := size&0x80000000 != 0
	size &^= 0x80000000
	if int(size) > z.blockMax {
		return fmt.Errorf("%w: block of %d bytes exceeds the frame's %d-byte block maximum", errLZ4Corrupt, size, z.blockMax)
	}
	if cap(z.comp) < int(size) {
		z.comp = make([]byte, size) // bounded by blockMax (≤ 4 MiB)
	}
	z.comp = z.comp[:size]
	if _, err := io.ReadFull(z.src, z.comp); err != nil {
		return unexpected(err)
	}
	if z.blockSum {
		if _, err := z.src.Discard(4); err != nil {
			return unexpected(err)
		}
	}
	// Keep only the window the next match may reach; independent blocks
	// keep nothing.
	keep := 0
	if z.linked {
		keep = min(len(z.win), lz4Window)
	}
	copy(z.win, z.win[len(z.win)-keep:])
	z.win = z.win[:keep]
	start := len(z.win)
	var err error
	if stored {
		z.win = append(z.win, z.comp...)
	} else if z.win, err = lz4DecodeBlock(z.win, z.comp, start+z.blockMax); err != nil {
		return err
	}
	z.out = z.win[start:]
	z.produced += uint64(len(z.out))
	if z.haveSize && z.produced > z.contentSize {
		return fmt.Errorf("%w: more content than the declared %d bytes", errLZ4Corrupt, z.contentSize)
	}
	return nil
}

func (z *lz4FrameReader) endFrame() error {
	if z.contentSum {
		if _, err := z.src.Discard(4); err != nil {
			return unexpected(err)
		}
	}
	if z.haveSize && z.produced != z.contentSize {
		return fmt.Errorf("%w: frame declares %d bytes of content but holds %d", errLZ4Corrupt, z.contentSize, z.produced)
	}
	z.inFrame = false
	z.framesClosed++
	return nil
}

// nextFrame reads a frame header, skipping skippable frames. At a clean end
// of input after at least one frame it returns io.EOF.
func (z *lz4FrameReader) nextFrame(first bool) error {
	for {
		var m [4]byte
		n, err := io.ReadFull(z.src, m[:])
		if n == 0 && err == io.EOF && !first {
			return io.EOF
		}
		if err != nil {
			return unexpected(err)
		}
		magic := binary.LittleEndian.Uint32(m[:])
		if magic&lz4SkippableMask == lz4SkippableBase {
			if _, err := io.ReadFull(z.src, m[:]); err != nil {
				return unexpected(err)
			}
			skip := int64(binary.LittleEndian.Uint32(m[:]))
			if k, err := io.CopyN(io.Discard, z.src, skip); err != nil || k != skip {
				return unexpected(err)
			}
			continue
		}
		if magic != lz4FrameMagic {
			return fmt.Errorf("%w: bad frame magic %#08x after %d frame(s)", errLZ4Corrupt, magic, z.framesClosed)
		}
		return z.readDescriptor()
	}
}

func (z *lz4FrameReader) readDescriptor() error {
	var d [2]byte
	if _, err := io.ReadFull(z.src, d[:]); err != nil {
		return unexpected(err)
	}
	flg, bd := d[0], d[1]
	if flg>>6 != 1 {
		return fmt.Errorf("%w: frame version %d (only 1 exists)", errLZ4Corrupt, flg>>6)
	}
	if flg&0x02 != 0 || bd&0x8F != 0 {
		return fmt.Errorf("%w: reserved descriptor bits set", errLZ4Corrupt)
	}
	if flg&0x01 != 0 {
		// Matches would reach into a dictionary the file does not carry.
		return fmt.Errorf("%w: frame needs an external dictionary", errLZ4Corrupt)
	}
	switch (bd >> 4) & 7 {
	case 4:
		z.blockMax = 64 << 10
	case 5:
		z.blockMax = 256 << 10
	case 6:
		z.blockMax = 1 << 20
	case 7:
		z.blockMax = 4 << 20
	default:
		return fmt.Errorf("%w: invalid block maximum code %d", errLZ4Corrupt, (bd>>4)&7)
	}
	z.linked = flg&0x20 == 0
	z.blockSum = flg&0x10 != 0
	z.contentSum = flg&0x04 != 0
	z.haveSize = flg&0x08 != 0
	if z.haveSize {
		var s [8]byte
		if _, err := io.ReadFull(z.src, s[:]); err != nil {
			return unexpected(err)
		}
		z.contentSize = binary.LittleEndian.Uint64(s[:])
	}
	if _, err := z.src.Discard(1); err != nil { // header checksum
		return unexpected(err)
	}
	z.produced, z.inFrame, z.win = 0, true, z.win[:0]
	return nil
}

func unexpected(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// lz4DecodeBlock appends the decoding of one LZ4 block to dst, whose
// existing bytes are the window matches may reference. The result may not
// grow beyond limit bytes in total.
func lz4DecodeBlock(dst, src []byte, limit int) ([]byte, error) {
	i := 0
	for {
		if i >= len(src) {
			return dst, fmt.Errorf("%w: block ends inside a sequence", errLZ4Corrupt)
		}
		token := src[i]
		i++
		lit := int(token >> 4)
		if lit == 15 {
			var ok bool
			if lit, i, ok = lz4Length(src, i, lit); !ok {
				return dst, fmt.Errorf("%w: literal length runs past the block", errLZ4Corrupt)
			}
		}
		if lit > len(src)-i {
			return dst, fmt.Errorf("%w: literals run past the block", errLZ4Corrupt)
		}
		if lit > limit-len(dst) {
			return dst, fmt.Errorf("%w: block decodes past its maximum size", errLZ4Corrupt)
		}
		dst = append(dst, src[i:i+lit]...)
		i += lit
		if i == len(src) {
			return dst, nil // the last sequence has literals only
		}
		if len(src)-i < 2 {
			return dst, fmt.Errorf("%w: truncated match offset", errLZ4Corrupt)
		}
		off := int(binary.LittleEndian.Uint16(src[i:]))
		i += 2
		if off == 0 || off > len(dst) {
			return dst, fmt.Errorf("%w: match offset %d reaches before the data", errLZ4Corrupt, off)
		}
		ml := int(token & 15)
		if ml == 15 {
			var ok bool
			if ml, i, ok = lz4Length(src, i, ml); !ok {
				return dst, fmt.Errorf("%w: match length runs past the block", errLZ4Corrupt)
			}
		}
		ml += lz4MinMatch
		if ml > limit-len(dst) {
			return dst, fmt.Errorf("%w: block decodes past its maximum size", errLZ4Corrupt)
		}
		// An overlapping match (off < length) repeats the last off bytes,
		// which is how LZ4 encodes runs.
		// from stays put: each chunk is a whole number of periods, so
		// the chunks double and a long run costs O(log n) appends.
		from := len(dst) - off
		for ml > 0 {
			n := min(ml, len(dst)-from)
			dst = append(dst, dst[from:from+n]...)
			ml -= n
		}
	}
}

// lz4Length extends a length of 15 with the bytes that follow (each 255
// continues). The block's size bounds the loop.
func lz4Length(src []byte, i, n int) (int, int, bool) {
	for i < len(src) {
		b := src[i]
		i++
		n += int(b)
		if b != 255 {
			return n, i, true
		}
	}
	return n, i, false
}

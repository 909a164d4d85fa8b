package scan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/safehub/safehub/internal/scan/finding"
)

// HDF5 (Keras .h5): only the superblock and the root group's object header
// are read, to find the compact attributes model_config and
// training_config (JSON). Datasets are never read. Attributes kept in
// dense storage (fractal heaps) are not followed: unknown.

const (
	h5MsgAttribute    = 0x000C
	h5MsgContinuation = 0x0010
	h5MsgAttrInfo     = 0x0015
	maxH5HeaderBlock  = 1 << 20
	maxH5Blocks       = 16
)

type h5File struct {
	r          io.ReaderAt
	size       int64
	offSize    int
	lenSize    int
	attrs      map[string][]byte
	dense      bool
	unreadable []string
	vlen       []h5vlen
}

// h5vlen is a variable-length string attribute's global heap reference.
type h5vlen struct {
	name  string
	n     uint32
	addr  uint64
	index uint32
}

const maxH5Collection = 64 << 20

// resolveVlen reads each referenced object from its global heap collection.
func (h *h5File) resolveVlen() {
	for _, v := range h.vlen {
		data, err := h.globalHeapObject(v.addr, v.index)
		if err != nil || uint32(len(data)) < v.n {
			h.unreadable = append(h.unreadable, v.name)
			continue
		}
		h.attrs[v.name] = data[:v.n]
	}
}

func (h *h5File) globalHeapObject(addr uint64, index uint32) ([]byte, error) {
	if addr >= uint64(h.size) {
		return nil, errors.New("global heap outside the file")
	}
	hd, err := readAt(h.r, int64(addr), min(16, h.size-int64(addr)))
	if err != nil || len(hd) < 8+h.lenSize || !bytes.HasPrefix(hd, []byte("GCOL")) {
		return nil, errors.New("no global heap collection")
	}
	size := h.length(hd[8:])
	if size > maxH5Collection || int64(addr)+int64(size) > h.size {
		return nil, errors.New("global heap collection too large")
	}
	col, err := readAt(h.r, int64(addr), int64(size))
	if err != nil {
		return nil, err
	}
	for p := 8 + h.lenSize; p+8+h.lenSize <= len(col); {
		idx := binary.LittleEndian.Uint16(col[p:])
		n := h.length(col[p+8:])
		start := p + 8 + h.lenSize
		if idx == 0 || n > uint64(len(col)-start) {
			break // free space, or a corrupt object
		}
		if uint32(idx) == index {
			return col[start : start+int(n)], nil
		}
		p = start + int(n+7)/8*8
	}
	return nil, errors.New("object not in its global heap collection")
}

func (h *h5File) length(b []byte) uint64 {
	if h.lenSize == 4 {
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func (s *scanner) scanHDF5(t target, head []byte, out *outcome) {
	out.format = "hdf5"
	h := &h5File{r: t.r, size: t.size, attrs: map[string][]byte{}}
	if err := h.readRoot(head); err != nil {
		out.add(t.note(finding.Unknown, 0, "HDF5 root attributes unreadable: %v", err))
		return
	}
	h.resolveVlen()
	cfg, ok := h.attrs["model_config"]
	if !ok {
		if h.dense {
			out.add(t.note(finding.Unknown, 0, "HDF5 root attributes are in dense storage, which the scanner does not read"))
		}
		return
	}
	out.format = "keras"
	s.checkKerasConfig(t, bytes.TrimRight(cfg, "\x00"), out)
	for _, u := range h.unreadable {
		out.add(t.note(finding.Unknown, 0, "HDF5 attribute %q is stored in a form the scanner does not read", u))
	}
}

func (h *h5File) addr(b []byte) uint64 {
	switch h.offSize {
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// readRoot parses the superblock at offset 0 and the root object header.
func (h *h5File) readRoot(head []byte) error {
	if len(head) < 16 {
		return errors.New("short superblock")
	}
	var rootAddr uint64
	switch v := head[8]; v {
	case 0, 1:
		h.offSize, h.lenSize = int(head[13]), int(head[14])
		base := 24
		if v == 1 {
			base = 28
		}
		// base address, free-space, EOF, driver info; then the root symbol
		// table entry: link name offset, object header address.
		at := base + 4*h.offSize + h.offSize
		if h.offSize != 4 && h.offSize != 8 || at+h.offSize > len(head) {
			return errors.New("bad superblock field sizes")
		}
		rootAddr = h.addr(head[at:])
	case 2, 3:
		h.offSize, h.lenSize = int(head[9]), int(head[10])
		at := 12 + 3*h.offSize
		if h.offSize != 4 && h.offSize != 8 || at+h.offSize > len(head) {
			return errors.New("bad superblock field sizes")
		}
		rootAddr = h.addr(head[at:])
	default:
		return fmt.Errorf("superblock version %d", v)
	}
	if h.lenSize != 4 && h.lenSize != 8 {
		return errors.New("bad length size")
	}
	return h.readObjectHeader(rootAddr)
}

func (h *h5File) readObjectHeader(addr uint64) error {
	if addr >= uint64(h.size) {
		return errors.New("root object header outside the file")
	}
	first, err := readAt(h.r, int64(addr), min(h.size-int64(addr), 4096))
	if err != nil {
		return err
	}
	if bytes.HasPrefix(first, []byte("OHDR")) {
		return h.readV2(int64(addr), first)
	}
	if first[0] != 1 || len(first) < 16 {
		return fmt.Errorf("object header version %d", first[0])
	}
	size := int64(binary.LittleEndian.Uint32(first[8:]))
	type block struct{ off, n int64 }
	blocks := []block{{int64(addr) + 16, size}}
	for i := 0; i < len(blocks) && i < maxH5Blocks; i++ {
		b := blocks[i]
		if b.n > maxH5HeaderBlock || b.off+b.n > h.size || b.off < 0 {
			return errors.New("object header block outside the file or too large")
		}
		data, err := readAt(h.r, b.off, b.n)
		if err != nil {
			return err
		}
		for p := 0; p+8 <= len(data); {
			typ := binary.LittleEndian.Uint16(data[p:])
			n := int(binary.LittleEndian.Uint16(data[p+2:]))
			body := data[p+8 : min(len(data), p+8+n)]
			if c, ok := h.message(typ, body); ok {
				blocks = append(blocks, block{c.off, c.n})
			}
			p += 8 + (n+7)/8*8
		}
	}
	return nil
}

type h5cont struct{ off, n int64 }

// message handles one header message; a continuation returns its block.
func (h *h5File) message(typ uint16, body []byte) (h5cont, bool) {
	switch typ {
	case h5MsgAttribute:
		h.attribute(body)
	case h5MsgAttrInfo:
		h.dense = true
	case h5MsgContinuation:
		if len(body) >= h.offSize+h.lenSize {
			off := int64(h.addr(body))
			n := h.length(body[h.offSize:])
			if n > maxH5HeaderBlock {
				n = maxH5HeaderBlock + 1 // refused by the caller
			}
			return h5cont{off, int64(n)}, true
		}
	}
	return h5cont{}, false
}

func (h *h5File) readV2(addr int64, first []byte) error {
	type block struct {
		off, n int64
		prefix int
	}
	if len(first) < 8 {
		return errors.New("short object header")
	}
	flags := first[5]
	p := 6
	if flags&0x20 != 0 {
		p += 16
	}
	if flags&0x10 != 0 {
		p += 4
	}
	w := 1 << (flags & 3)
	if p+w > len(first) {
		return errors.New("short object header")
	}
	var size int64
	for i := 0; i < w; i++ {
		size |= int64(first[p+i]) << (8 * i)
	}
	blocks := []block{{addr + int64(p+w), size, 0}}
	for i := 0; i < len(blocks) && i < maxH5Blocks; i++ {
		b := blocks[i]
		if b.n > maxH5HeaderBlock || b.off+b.n > h.size || b.off < 0 || b.n < int64(b.prefix) {
			return errors.New("object header block outside the file or too large")
		}
		data, err := readAt(h.r, b.off, b.n)
		if err != nil {
			return err
		}
		data = data[b.prefix:]
		if b.prefix > 0 && len(data) >= 4 {
			data = data[:len(data)-4] // continuation blocks end with a checksum
		}
		for q := 0; q+4 <= len(data); {
			typ := uint16(data[q])
			n := int(binary.LittleEndian.Uint16(data[q+1:]))
			hdr := 4
			if flags&0x04 != 0 {
				hdr += 2
			}
			if q+hdr+n > len(data) {
				break
			}
			if c, ok := h.message(typ, data[q+hdr:q+hdr+n]); ok {
				blocks = append(blocks, block{c.off, c.n, 4}) // "OCHK"
			}
			q += hdr + n
		}
	}
	return nil
}

// attribute records a string attribute's bytes (fixed-length strings; a
// variable-length one is noted as unreadable).
func (h *h5File) attribute(b []byte) {
	if len(b) < 8 {
		return
	}
	ver := b[0]
	nameLen := int(binary.LittleEndian.Uint16(b[2:]))
	dtLen := int(binary.LittleEndian.Uint16(b[4:]))
	dsLen := int(binary.LittleEndian.Uint16(b[6:]))
	p := 8
	pad := func(n int) int { return n }
	switch ver {
	case 1:
		pad = func(n int) int { return (n + 7) / 8 * 8 }
	case 3:
		p = 9
	case 2:
	default:
		return
	}
	if p+pad(nameLen) > len(b) || nameLen == 0 {
		return
	}
	name := string(bytes.TrimRight(b[p:p+nameLen], "\x00"))
	p += pad(nameLen)
	if p+pad(dtLen) > len(b) || dtLen < 8 {
		return
	}
	dt := b[p : p+dtLen]
	p += pad(dtLen) + pad(dsLen)
	if p > len(b) {
		return
	}
	if name != "model_config" && name != "training_config" {
		return
	}
	switch dt[0] & 0x0f {
	case 3: // fixed-length string
		h.attrs[name] = b[p:]
	case 9: // variable-length string (h5py 3 stores str and bytes so): a global heap reference
		if dt[1]&0x0f == 1 && p+8+h.offSize <= len(b) {
			h.vlen = append(h.vlen, h5vlen{name: name, n: binary.LittleEndian.Uint32(b[p:]),
				addr: h.addr(b[p+4:]), index: binary.LittleEndian.Uint32(b[p+4+h.offSize:])})
			return
		}
		fallthrough
	default:
		h.unreadable = append(h.unreadable, name)
		h.attrs[name] = nil
	}
}

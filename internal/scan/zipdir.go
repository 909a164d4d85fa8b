package scan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// A zip reader that opens what miniz (torch) and Python's zipfile open, and
// reports, rather than refuses, what they tolerate: flag bits, local names
// that differ from central ones, prepended bytes, several end records.
// archive/zip is not used because it rejects archives those loaders accept.

const (
	eocdLen       = 22
	eocdSearch    = 65535 + eocdLen + 20 // comment max + record + ZIP64 locator
	zip64LocLen   = 20
	zip64EOCDLen  = 56
	cdHeaderLen   = 46
	localHeadLen  = 30
	zipTailPrefer = 128 << 10 // one read covers the directory of most checkpoints
)

var errNotZip = errors.New("no end-of-central-directory record")

type zipEntry struct {
	Name     string
	Flags    uint16
	Method   uint16
	CRC      uint32
	CompSize uint64
	Size     uint64
	LocalOff int64 // absolute, after the prepended-bytes shift
}

type zipDir struct {
	Entries   []zipEntry
	Anomalies []string
	r         io.ReaderAt // reads through the cached tail
	size      int64
}

// tailCache serves reads that fall inside one buffer read from the end of
// the file, so small members near the directory cost no extra round trip.
type tailCache struct {
	r   io.ReaderAt
	off int64
	buf []byte
}

func (c *tailCache) ReadAt(p []byte, off int64) (int, error) {
	if off >= c.off && off+int64(len(p)) <= c.off+int64(len(c.buf)) {
		return copy(p, c.buf[off-c.off:]), nil
	}
	return c.r.ReadAt(p, off)
}

// readZipDir reads the end record (ZIP64 too) and the central directory.
// It fails only when no directory can be found; everything a loader would
// tolerate is returned as an anomaly.
func readZipDir(r io.ReaderAt, size int64, maxEntries int) (*zipDir, error) {
	tn := min(size, max(int64(zipTailPrefer), int64(eocdSearch)))
	tail, err := readAt(r, size-tn, tn)
	if err != nil {
		return nil, err
	}
	cache := &tailCache{r: r, off: size - tn, buf: tail}
	z := &zipDir{r: cache, size: size}
	searchFrom := max(0, len(tail)-eocdSearch)
	pos := bytes.LastIndex(tail[searchFrom:], magicZipEmpty)
	if pos < 0 || searchFrom+pos+eocdLen > len(tail) {
		return nil, errNotZip
	}
	pos += searchFrom
	if otherEOCD(tail, searchFrom, pos) {
		z.anomaly("several end-of-central-directory candidates")
	}
	eocdOff := size - tn + int64(pos)
	e := tail[pos:]
	entries := uint64(binary.LittleEndian.Uint16(e[10:]))
	cdSize := uint64(binary.LittleEndian.Uint32(e[12:]))
	cdOff := uint64(binary.LittleEndian.Uint32(e[16:]))
	commentLen := int64(binary.LittleEndian.Uint16(e[20:]))
	if eocdOff+eocdLen+commentLen != size {
		z.anomaly("data after the end-of-central-directory record")
	}
	dirEnd := eocdOff // where the directory (or the ZIP64 end record) must end
	if eocdOff >= zip64LocLen {
		loc, _ := readAt(cache, eocdOff-zip64LocLen, zip64LocLen)
		if loc != nil && bytes.Equal(loc[:4], []byte("PK\x06\x07")) {
			z64Off := int64(binary.LittleEndian.Uint64(loc[8:]))
			ent, sz, off, err := readZip64EOCD(cache, z64Off, size)
			if err != nil {
				z.anomaly("inconsistent ZIP64 end record: " + err.Error())
			} else {
				if (entries != 0xffff && entries != ent) || (cdSize != 0xffffffff && cdSize != sz) || (cdOff != 0xffffffff && cdOff != off) {
					z.anomaly("ZIP64 end record disagrees with the classic one")
				}
				entries, cdSize, cdOff = ent, sz, off
				dirEnd = z64Off
			}
		}
	}
	if cdSize > uint64(dirEnd) {
		return nil, fmt.Errorf("central directory of %d bytes does not fit before its end record", cdSize)
	}
	if cdSize > maxZipDirBytes {
		return nil, fmt.Errorf("central directory of %d bytes exceeds the %d-byte limit", cdSize, maxZipDirBytes)
	}
	// Python's zipfile (and Go's) read the directory just before its end
	// record and shift every offset by the difference from what the record
	// says (bytes prepended to the archive); miniz (torch) trusts the
	// recorded offset. When a directory is where the record says, miniz's
	// reading wins; otherwise zipfile's.
	cdAt := dirEnd - int64(cdSize)
	shift := int64(0)
	if cdOff != uint64(cdAt) {
		sig, _ := readAt(cache, int64(min(cdOff, uint64(size))), 4)
		if cdOff+cdSize <= uint64(dirEnd) && bytes.Equal(sig, []byte("PK\x01\x02")) {
			z.anomaly(fmt.Sprintf("%d unexplained bytes between the directory and its end record (miniz and zipfile read different archives)", uint64(cdAt)-cdOff))
			cdAt = int64(cdOff)
		} else {
			shift = cdAt - int64(min(cdOff, uint64(size)))
			if cdOff > uint64(size) {
				shift = 0 // offsets are meaningless; members are located relative to the directory below
			}
			z.anomaly(fmt.Sprintf("the directory is not where its end record says (%d bytes prepended or removed)", shift))
		}
	}
	cd, err := readAt(cache, cdAt, int64(cdSize))
	if err != nil {
		return nil, err
	}
	if err := z.parseCentral(cd, shift, maxEntries); err != nil {
		return nil, err
	}
	if uint64(len(z.Entries)) != entries {
		z.anomaly(fmt.Sprintf("end record counts %d entries, directory holds %d", entries, len(z.Entries)))
	}
	z.checkLayout(cdAt)
	return z, nil
}

// otherEOCD reports an earlier end record that a strict reader (one that
// wants the comment to reach the end of the file) would choose instead of
// the last one. Mere signature bytes inside member data do not count.
func otherEOCD(tail []byte, from, chosen int) bool {
	for p := from; p < chosen; {
		i := bytes.Index(tail[p:chosen], magicZipEmpty)
		if i < 0 {
			return false
		}
		p += i
		if p+eocdLen <= len(tail) && p+eocdLen+int(binary.LittleEndian.Uint16(tail[p+20:])) == len(tail) {
			return true
		}
		p++
	}
	return false
}

func readZip64EOCD(r io.ReaderAt, off, size int64) (entries, cdSize, cdOff uint64, err error) {
	if off < 0 || off+zip64EOCDLen > size {
		return 0, 0, 0, errors.New("ZIP64 end record offset outside the file")
	}
	b, err := readAt(r, off, zip64EOCDLen)
	if err != nil {
		return 0, 0, 0, err
	}
	if !bytes.Equal(b[:4], []byte("PK\x06\x06")) {
		return 0, 0, 0, errors.New("ZIP64 locator points to no ZIP64 end record")
	}
	return binary.LittleEndian.Uint64(b[32:]), binary.LittleEndian.Uint64(b[40:]), binary.LittleEndian.Uint64(b[48:]), nil
}

func (z *zipDir) anomaly(s string) { z.Anomalies = append(z.Anomalies, s) }

func (z *zipDir) parseCentral(cd []byte, shift int64, maxEntries int) error {
	for p := 0; p < len(cd); {
		if len(cd)-p < cdHeaderLen || !bytes.Equal(cd[p:p+4], []byte("PK\x01\x02")) {
			if len(z.Entries) == 0 {
				return errors.New("central directory holds no valid entry")
			}
			z.anomaly("central directory ends with unparseable bytes")
			return nil
		}
		h := cd[p:]
		nameLen := int(binary.LittleEndian.Uint16(h[28:]))
		extraLen := int(binary.LittleEndian.Uint16(h[30:]))
		commentLen := int(binary.LittleEndian.Uint16(h[32:]))
		next := p + cdHeaderLen + nameLen + extraLen + commentLen
		if next > len(cd) {
			z.anomaly("central directory entry runs past the directory")
			return nil
		}
		if len(z.Entries) >= maxEntries {
			return fmt.Errorf("more than %d archive members (limit)", maxEntries)
		}
		e := zipEntry{
			Name:     string(h[cdHeaderLen : cdHeaderLen+nameLen]),
			Flags:    binary.LittleEndian.Uint16(h[8:]),
			Method:   binary.LittleEndian.Uint16(h[10:]),
			CRC:      binary.LittleEndian.Uint32(h[16:]),
			CompSize: uint64(binary.LittleEndian.Uint32(h[20:])),
			Size:     uint64(binary.LittleEndian.Uint32(h[24:])),
		}
		local := uint64(binary.LittleEndian.Uint32(h[42:]))
		applyZip64Extra(h[cdHeaderLen+nameLen:cdHeaderLen+nameLen+extraLen], &e.Size, &e.CompSize, &local)
		e.LocalOff = int64(min(local, uint64(z.size))) + shift
		if local > uint64(z.size) || e.LocalOff < 0 || e.LocalOff > z.size {
			z.anomaly(fmt.Sprintf("member %q: local header offset outside the file", e.Name))
			e.LocalOff = z.size // memberData refuses it
		}
		z.Entries = append(z.Entries, e)
		p = next
	}
	return nil
}

// applyZip64Extra replaces the 0xffffffff fields by the ZIP64 extra
// field's values, in the order the spec lists them.
func applyZip64Extra(extra []byte, size, comp, local *uint64) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return
		}
		if id == 0x0001 {
			d := extra[4 : 4+n]
			for _, f := range []*uint64{size, comp, local} {
				if *f == 0xffffffff && len(d) >= 8 {
					*f = binary.LittleEndian.Uint64(d)
					d = d[8:]
				}
			}
			return
		}
		extra = extra[4+n:]
	}
}

// checkLayout reports duplicate or case-colliding names, overlapping
// members and bytes before the first local header.
func (z *zipDir) checkLayout(cdStart int64) {
	seen := make(map[string]int, len(z.Entries))
	for _, e := range z.Entries {
		k := strings.ToLower(e.Name)
		if seen[k] == 1 {
			z.anomaly(fmt.Sprintf("duplicate or case-colliding member name %q", e.Name))
		}
		seen[k]++
	}
	idx := make([]int, len(z.Entries))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return z.Entries[idx[a]].LocalOff < z.Entries[idx[b]].LocalOff })
	if len(idx) > 0 && z.Entries[idx[0]].LocalOff > 0 && !z.hasShift() {
		z.anomaly("bytes before the first local header")
	}
	for i := 0; i+1 < len(idx); i++ {
		a, b := z.Entries[idx[i]], z.Entries[idx[i+1]]
		if uint64(a.LocalOff)+localHeadLen+uint64(len(a.Name))+a.CompSize > uint64(b.LocalOff) {
			z.anomaly(fmt.Sprintf("members %q and %q overlap", a.Name, b.Name))
			break
		}
	}
	if len(idx) > 0 {
		last := z.Entries[idx[len(idx)-1]]
		if uint64(last.LocalOff)+localHeadLen+uint64(len(last.Name))+last.CompSize > uint64(cdStart) {
			z.anomaly(fmt.Sprintf("member %q overlaps the central directory", last.Name))
		}
	}
}

func (z *zipDir) hasShift() bool {
	for _, a := range z.Anomalies {
		if strings.Contains(a, "prepended") || strings.Contains(a, "unexplained") {
			return true
		}
	}
	return false
}

// memberData locates e's data through its local header, as miniz does:
// data starts at offset + 30 + local name length + local extra length, and
// the local name is never compared for access (only reported). It returns
// the data offset, the anomalies seen, and when it could read them in the
// same round trip, the stored bytes (want > 0 asks for up to want bytes).
func (z *zipDir) memberData(e *zipEntry, want int64) (dataOff int64, head []byte, anomalies []string, err error) {
	guess := int64(localHeadLen + len(e.Name) + 128)
	n := min(guess+want, z.size-e.LocalOff)
	if n < localHeadLen {
		return 0, nil, nil, fmt.Errorf("member %q: local header outside the file", e.Name)
	}
	buf, err := readAt(z.r, e.LocalOff, n)
	if err != nil {
		return 0, nil, nil, err
	}
	if !bytes.Equal(buf[:4], magicZip) {
		return 0, nil, nil, fmt.Errorf("member %q: no local header at offset %d", e.Name, e.LocalOff)
	}
	nameLen := int64(binary.LittleEndian.Uint16(buf[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(buf[28:]))
	flags := binary.LittleEndian.Uint16(buf[6:])
	if (flags|e.Flags)&0x61 != 0 {
		anomalies = append(anomalies, fmt.Sprintf("flag bits %#x (encryption/patch/strong encryption) set; read as plain data like miniz", (flags|e.Flags)&0x61))
	}
	dataOff = e.LocalOff + localHeadLen + nameLen + extraLen
	if localHeadLen+nameLen <= n && string(buf[localHeadLen:localHeadLen+nameLen]) != e.Name {
		anomalies = append(anomalies, fmt.Sprintf("local header name %q differs from the central name", buf[localHeadLen:localHeadLen+nameLen]))
	}
	if uint64(dataOff)+e.CompSize > uint64(z.size) {
		return 0, nil, anomalies, fmt.Errorf("member %q: data runs past the end of the file", e.Name)
	}
	if want > 0 {
		start := dataOff - e.LocalOff
		end := min(start+want, start+int64(e.CompSize), n)
		if start <= end {
			head = buf[start:end]
		}
	}
	return dataOff, head, anomalies, nil
}

package scan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/safehub/safehub/internal/scan/finding"
)

// A tar reader that accepts what Python's tarfile accepts: any 512-byte
// header whose checksum is right (no "ustar" magic needed), GNU long names
// and pax path/size records. It reads headers only; member data is handed
// out as offsets.

const (
	tarBlock       = 512
	maxTarLongName = 1 << 20
)

type tarMember struct {
	Name     string
	Linkname string
	Type     byte
	DataOff  int64
	Size     int64
}

func (m tarMember) isReg() bool  { return m.Type == '0' || m.Type == 0 || m.Type == '7' }
func (m tarMember) isLink() bool { return m.Type == '1' || m.Type == '2' }

// validTarChecksum is tarfile's test: the stored octal checksum equals the
// unsigned or the signed sum of the header with the field read as spaces.
func validTarChecksum(h []byte) bool {
	if len(h) < tarBlock {
		return false
	}
	want, err := parseTarOctal(h[148:156])
	if err != nil {
		return false
	}
	var u, sg int64
	for i, c := range h[:tarBlock] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		u += int64(c)
		sg += int64(int8(c))
	}
	return want == u || want == sg
}

// parseTarOctal is tarfile's nti for octal fields: up to the first NUL,
// surrounding spaces stripped, empty meaning 0.
func parseTarOctal(f []byte) (int64, error) {
	if i := bytes.IndexByte(f, 0); i >= 0 {
		f = f[:i]
	}
	s := strings.TrimSpace(string(f))
	if s == "" {
		return 0, nil
	}
	return strconv.ParseInt(s, 8, 64)
}

// parseTarNumber also handles GNU base-256 sizes (high bit set).
func parseTarNumber(f []byte) (int64, error) {
	if len(f) > 0 && f[0]&0x80 != 0 {
		if f[0] != 0x80 {
			return 0, errors.New("negative or oversized base-256 number")
		}
		var v int64
		for _, c := range f[1:] {
			if v > (1<<55)-1 {
				return 0, errors.New("base-256 number overflows")
			}
			v = v<<8 | int64(c)
		}
		return v, nil
	}
	return parseTarOctal(f)
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// walkTar calls fn for each member until fn returns false, the end blocks,
// or an error (a bad header, a member past the end, the member limit).
func walkTar(r io.ReaderAt, size int64, maxMembers int, fn func(tarMember) bool) error {
	var longName, longLink string
	paxPath, paxLink, paxSize := "", "", int64(-1)
	count := 0
	for off := int64(0); off+tarBlock <= size; {
		h, err := readAt(r, off, tarBlock)
		if err != nil {
			return err
		}
		if bytes.Count(h, []byte{0}) == tarBlock {
			return nil // end-of-archive block
		}
		if !validTarChecksum(h) {
			return fmt.Errorf("bad tar header checksum at offset %d", off)
		}
		sz, err := parseTarNumber(h[124:136])
		if err != nil || sz < 0 {
			return fmt.Errorf("bad tar size field at offset %d", off)
		}
		typ := h[156]
		if typ == 'x' || typ == 'g' || typ == 'L' || typ == 'K' {
			if sz > maxTarLongName || off+tarBlock+sz > size {
				return fmt.Errorf("tar extended header of %d bytes at offset %d is too large", sz, off)
			}
			data, err := readAt(r, off+tarBlock, sz)
			if err != nil {
				return err
			}
			switch typ {
			case 'L':
				longName = cString(data)
			case 'K':
				longLink = cString(data)
			case 'x':
				paxPath, paxLink, paxSize = parsePax(data, paxPath, paxLink, paxSize)
			}
			off += tarBlock + roundBlock(sz)
			continue
		}
		m := tarMember{Name: cString(h[0:100]), Linkname: cString(h[157:257]), Type: typ, DataOff: off + tarBlock, Size: sz}
		// tarfile joins the ustar prefix field whatever the magic says
		// (frombuf), for every type but GNU's own.
		if p := cString(h[345:500]); p != "" && typ != 'S' {
			m.Name = p + "/" + m.Name
		}
		if longName != "" {
			m.Name = longName
		}
		if longLink != "" {
			m.Linkname = longLink
		}
		if paxPath != "" {
			m.Name = paxPath
		}
		if paxLink != "" {
			m.Linkname = paxLink
		}
		if paxSize >= 0 {
			m.Size = paxSize
		}
		longName, longLink, paxPath, paxLink, paxSize = "", "", "", "", -1
		if m.isLink() || m.Type == '5' || m.Type == '3' || m.Type == '4' || m.Type == '6' {
			m.Size = 0 // tarfile ignores the size of entries without data
		}
		if m.DataOff+m.Size > size {
			return fmt.Errorf("tar member %q runs past the end of the file", m.Name)
		}
		if count++; count > maxMembers {
			return fmt.Errorf("more than %d archive members (limit)", maxMembers)
		}
		if !fn(m) {
			return nil
		}
		off = m.DataOff + roundBlock(m.Size)
	}
	return nil
}

func roundBlock(n int64) int64 { return (n + tarBlock - 1) / tarBlock * tarBlock }

// parsePax reads "len key=value\n" records, keeping path, linkpath, size.
func parsePax(data []byte, p, l string, sz int64) (string, string, int64) {
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 {
			break
		}
		n, err := strconv.Atoi(string(data[:sp]))
		if err != nil || n <= sp || n > len(data) {
			break
		}
		rec := data[sp+1 : n]
		data = data[n:]
		k, v, ok := strings.Cut(strings.TrimSuffix(string(rec), "\n"), "=")
		if !ok {
			continue
		}
		switch k {
		case "path":
			p = v
		case "linkpath":
			l = v
		case "size":
			if x, err := strconv.ParseInt(v, 10, 64); err == nil && x >= 0 {
				sz = x
			}
		}
	}
	return p, l, sz
}

// scanTar scans a tar: a legacy torch checkpoint when it has torch's
// members, otherwise every member by content.
func (s *scanner) scanTar(t target, out *outcome) {
	out.format = "tar"
	var members []tarMember
	err := walkTar(t.r, t.size, s.opts.MaxMembers-s.members, func(m tarMember) bool {
		members = append(members, m)
		return s.ctx.Err() == nil
	})
	s.members += len(members)
	if err != nil {
		out.add(t.note(finding.Unknown, 0, "tar: %v", err))
	}
	names := map[string]bool{}
	for _, m := range members {
		names[m.Name] = true
	}
	if names["pickle"] && (names["storages"] || names["tensors"]) {
		s.scanLegacyTar(t, members, out)
		return
	}
	nemo := names["model_config.yaml"] || names["./model_config.yaml"]
	if nemo {
		out.format = "nemo"
	}
	for _, m := range members {
		if bad := memberEscape(m); bad != "" {
			v := finding.Unknown
			if nemo { // NeMo restores by extracting to disk
				v = finding.Unsafe
			}
			out.add(t.note(v, m.DataOff, "tar member %q %s (archive path traversal)", m.Name, bad))
		}
		if !m.isReg() || m.Size == 0 || s.ctx.Err() != nil {
			continue
		}
		c := t.child(io.NewSectionReader(t.r, m.DataOff, m.Size), m.Size, m.Name)
		in := s.scanTarget(c)
		out.merge(in)
		if nemo && strings.HasSuffix(m.Name, "model_config.yaml") {
			s.scanNemoConfig(c, out)
		}
	}
}

// memberEscape says why a tar member could write outside the folder it is
// extracted to, "" if it cannot.
func memberEscape(m tarMember) string {
	if m.isLink() {
		return fmt.Sprintf("is a link to %q", m.Linkname)
	}
	if m.Type == '3' || m.Type == '4' || m.Type == '6' {
		return "is a device or fifo"
	}
	return unsafeMemberPath(m.Name)
}

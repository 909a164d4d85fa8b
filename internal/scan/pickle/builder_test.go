package pickle

import (
	"encoding/binary"
	"strconv"
)

// pk builds pickle bytes by hand, so malicious test inputs are bytes that
// are never unpickled.
type pk []byte

func (p pk) op(b ...byte) pk            { return append(p, b...) }
func (p pk) proto(v byte) pk            { return append(p, opPROTO, v) }
func (p pk) global(mod, name string) pk { return append(append(p, 'c'), mod+"\n"+name+"\n"...) }
func (p pk) inst(mod, name string) pk   { return append(append(p, 'i'), mod+"\n"+name+"\n"...) }
func (p pk) str(s string) pk            { return append(append(p, opSHORT_BINUNICODE, byte(len(s))), s...) }
func (p pk) bstr(s string) pk           { return append(append(p, opSHORT_BINSTRING, byte(len(s))), s...) }
func (p pk) pstr(s string) pk           { return append(append(p, 'S'), "'"+s+"'\n"...) } // protocol-0 STRING
func (p pk) uni(s string) pk            { return append(append(p, 'V'), s+"\n"...) }      // protocol-0 UNICODE
func (p pk) mark() pk                   { return append(p, '(') }
func (p pk) tuple() pk                  { return append(p, 't') }
func (p pk) tuple1() pk                 { return append(p, opTUPLE1) }
func (p pk) reduce() pk                 { return append(p, 'R') }
func (p pk) stop() pk                   { return append(p, '.') }
func (p pk) int1(v byte) pk             { return append(p, 'K', v) }
func (p pk) memoize() pk                { return append(p, opMEMOIZE) }
func (p pk) binput(i byte) pk           { return append(p, 'q', i) }
func (p pk) binget(i byte) pk           { return append(p, 'h', i) }
func (p pk) stackGlobal() pk            { return append(p, opSTACK_GLOBAL) }
func (p pk) raw(b []byte) pk            { return append(p, b...) }
func (p pk) emptyDict() pk              { return append(p, '}') }
func (p pk) emptyList() pk              { return append(p, ']') }
func (p pk) emptyTuple() pk             { return append(p, ')') }
func (p pk) none() pk                   { return append(p, 'N') }
func (p pk) binint(v int32) pk          { return binary.LittleEndian.AppendUint32(append(p, 'J'), uint32(v)) }
func (p pk) text(op byte, s string) pk  { return append(append(p, op), s+"\n"...) }
func (p pk) putText(i int) pk           { return p.text('p', strconv.Itoa(i)) }
func (p pk) binbytes8(b []byte) pk {
	return append(binary.LittleEndian.AppendUint64(append(p, opBINBYTES8), uint64(len(b))), b...)
}
func (p pk) bytearray8(b []byte) pk {
	return append(binary.LittleEndian.AppendUint64(append(p, opBYTEARRAY8), uint64(len(b))), b...)
}
func (p pk) binbytes(b []byte) pk {
	return append(binary.LittleEndian.AppendUint32(append(p, 'B'), uint32(len(b))), b...)
}
func (p pk) binunicode(s string) pk {
	return append(binary.LittleEndian.AppendUint32(append(p, 'X'), uint32(len(s))), s...)
}
func (p pk) frame(n uint64) pk  { return binary.LittleEndian.AppendUint64(append(p, opFRAME), n) }
func (p pk) long1(b ...byte) pk { return append(append(p, opLONG1, byte(len(b))), b...) }

// call1 emits mod.name(arg) with a protocol-2 GLOBAL and one string argument.
func (p pk) call1(mod, name, arg string) pk {
	return p.global(mod, name).str(arg).tuple1().reduce()
}

// evil is the canonical payload: os.system("true") in protocol 2.
func evil() pk { return pk{}.proto(2).call1("os", "system", "true").stop() }

"""Pickle assembler for the corpus: every malicious pickle is written opcode by
opcode so the exact trick is in the bytes, not in whatever pickle.dumps happens
to emit. Nothing here ever unpickles anything.

Each function returns bytes; a pickle is their concatenation."""

import struct

MARKER = "/tmp/safehub-pwned-marker"
# The only thing any payload in this corpus would do if someone loaded it.
TOUCH = "touch " + MARKER
OPEN_EXPR = "open('%s','w')" % MARKER


def proto(n):
    return b"\x80" + bytes([n])


def frame(n):
    return b"\x95" + struct.pack("<Q", n)


STOP = b"."
MARK = b"("
POP = b"0"
POP_MARK = b"1"
DUP = b"2"
REDUCE = b"R"
BUILD = b"b"
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
TUPLE3 = b"\x87"
EMPTY_TUPLE = b")"
EMPTY_LIST = b"]"
EMPTY_DICT = b"}"
LIST = b"l"
DICT = b"d"
APPEND = b"a"
APPENDS = b"e"
SETITEM = b"s"
SETITEMS = b"u"
NONE = b"N"
NEWTRUE = b"\x88"
NEWFALSE = b"\x89"
STACK_GLOBAL = b"\x93"
MEMOIZE = b"\x94"
NEWOBJ = b"\x81"
OBJ = b"o"


def glob(module, name):
    """GLOBAL: module\\nname\\n (protocol 0 text form)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def inst(module, name):
    """INST: calls module.name(*args since MARK)."""
    return b"i" + module.encode() + b"\n" + name.encode() + b"\n"


def sbu(s):
    """SHORT_BINUNICODE."""
    b = s.encode()
    assert len(b) < 256
    return b"\x8c" + bytes([len(b)]) + b


def bu(s):
    """BINUNICODE."""
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def bu8(s):
    """BINUNICODE8."""
    b = s.encode()
    return b"\x8d" + struct.pack("<Q", len(b)) + b


def unicode0(s):
    """UNICODE (protocol 0, raw-unicode-escape, newline terminated)."""
    return b"V" + s.encode("raw_unicode_escape") + b"\n"


def string0(s):
    """STRING (protocol 0, quoted repr)."""
    return b"S" + repr(s).encode() + b"\n"


def binstring(s):
    b = s.encode("latin1")
    return b"T" + struct.pack("<I", len(b)) + b


def short_binstring(s):
    b = s.encode("latin1")
    return b"U" + bytes([len(b)]) + b


def binbytes(b):
    if len(b) < 256:
        return b"C" + bytes([len(b)]) + b
    return b"B" + struct.pack("<I", len(b)) + b


def binbytes8(b):
    return b"\x8e" + struct.pack("<Q", len(b)) + b


def bytearray8(b):
    return b"\x96" + struct.pack("<Q", len(b)) + b


def int_(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    return b"J" + struct.pack("<i", n)


def binput(i):
    return b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i)


def binget(i):
    return b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i)


def ext1(code):
    return b"\x82" + bytes([code])


def ext2(code):
    return b"\x83" + struct.pack("<H", code)


def ext4(code):
    return b"\x84" + struct.pack("<i", code)


def call1(module, name, arg):
    """module.name(arg) through GLOBAL + REDUCE, protocol-2 style; arg is bytes of
    one pushed value."""
    return glob(module, name) + arg + TUPLE1 + REDUCE


def call_sg(module, name, arg):
    """The same call through STACK_GLOBAL (protocol 4)."""
    return sbu(module) + sbu(name) + STACK_GLOBAL + arg + TUPLE1 + REDUCE


def system_call():
    """os.system('touch marker') as a whole protocol-2 pickle body."""
    return call1("os", "system", bu(TOUCH))


def whole(body, p=2):
    """A complete pickle: PROTO p, body (which leaves one value), STOP."""
    return proto(p) + body + STOP


def payload_pickle(p=2):
    """The standard nested payload: a complete pickle calling os.system."""
    return whole(system_call(), p)


def benign_dict_pickle():
    return whole(EMPTY_DICT + sbu("a") + int_(1) + SETITEM)

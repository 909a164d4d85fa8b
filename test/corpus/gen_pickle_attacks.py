"""Malicious bare pickles, one or more per bypass class of scanner-notes
section 10 that lives inside the pickle stream itself (1-21, 35, 38).
Every payload would only touch /tmp/safehub-pwned-marker; none is loaded."""

import pickle
import struct

import pk
from pk import (APPEND, BUILD, DUP, EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, MARK, MEMOIZE,
                OBJ, POP, REDUCE, SETITEM, STACK_GLOBAL, STOP, TUPLE, TUPLE1, TUPLE2,
                binget, binput, bu, glob, int_, proto, sbu, whole)

T = pk.TOUCH

# Classes whose files hide an os.system payload behind the trick.
PAYLOAD_NAMED = {"c03", "c04", "c06", "c07", "c09", "c10", "c13", "c14", "c17", "c18", "c21",
                 "c22"}


def build(c):
    def add(name, body, cls, note, expect="unsafe", callable=None):
        # Where the trick hides an os.system payload, the scanner must name it
        # (not merely call the file odd).
        want = callable
        if want is None:
            want = "os.system" if name.split("_")[0] in PAYLOAD_NAMED else ""
        c.add("pickle/" + name, expect, cls, note, data=body, pickle_bytes=len(body),
              callable=want)

    # 1: default deny. Deny-listed names that old lists missed, and an
    # unlisted code-executing torch internal that no deny list names.
    add("c01_pip_main.pkl", whole(pk.call1("pip", "main", MARK + bu("install") + bu("x") + b"l")),
        1, "pip.main(['install','x']) (CVE-2025-1716)")
    add("c01_pydoc_pipepager.pkl",
        whole(pk.glob("pydoc", "pipepager") + bu("x") + bu(T) + TUPLE2 + REDUCE), 1,
        "pydoc.pipepager(text, cmd)")
    add("c01_unlisted_fx.pkl",
        whole(pk.call1("torch.fx.graph_module", "_forward_from_src", bu(pk.OPEN_EXPR))), 1,
        "unlisted callable that execs source: not allowlisted so never safe",
        expect=["unknown", "unsafe"])

    # 2: submodule of a denied module.
    add("c02_asyncio_submodule.pkl",
        whole(pk.call1("asyncio.subprocess", "create_subprocess_shell", bu(T))), 2,
        "asyncio.subprocess.create_subprocess_shell")
    add("c02_os_submodule_name.pkl",
        whole(pk.call_sg("subprocess", "Popen", bu(T)), 4), 2, "subprocess.Popen via STACK_GLOBAL")

    # 3: dotted names walking attributes (protocol 4 lookups).
    add("c03_dotted_os_via_torch.pkl",
        whole(pk.call_sg("torch.serialization", "os.system", bu(T)), 4), 3,
        "torch.serialization + 'os.system': re-exported os reached by attribute walk")
    add("c03_eval_call.pkl", whole(pk.call_sg("builtins", "eval.__call__", bu(pk.OPEN_EXPR)), 4),
        3, "builtins + 'eval.__call__'", callable="eval")
    add("c03_dunder_globals.pkl",
        whole(pk.sbu("collections") + pk.sbu("OrderedDict.__init__.__globals__") + STACK_GLOBAL, 4),
        3, "dunder walk to a function's __globals__", callable="__globals__")

    # 4: PROTO 4 mid-stream turns on dotted lookup for a later GLOBAL.
    add("c04_proto_switch.pkl",
        proto(2) + EMPTY_DICT + POP + proto(4) + glob("torch.serialization", "os.system") +
        bu(T) + TUPLE1 + REDUCE + STOP, 4, "PROTO 2 then PROTO 4 mid-stream, dotted GLOBAL")

    # 5: Python-2 names mapped by _compat_pickle under protocol < 3.
    add("c05_commands.pkl", whole(pk.call1("commands", "getoutput", bu(T))), 5,
        "commands.getoutput -> subprocess.getoutput")
    add("c05_builtin_eval.pkl", whole(pk.call1("__builtin__", "eval", bu(pk.OPEN_EXPR))), 5,
        "__builtin__.eval -> builtins.eval")
    add("c05_builtin_reduce.pkl",
        whole(glob("__builtin__", "reduce") + glob("_codecs", "encode") + MARK + bu("a") +
              bu("b") + TUPLE + TUPLE2 + REDUCE), 5, "__builtin__.reduce -> functools.reduce (only the mapped name is denied)")

    # 6: re-exported aliases.
    add("c06_posix_system.pkl", whole(pk.call1("posix", "system", bu(T))), 6, "posix.system", callable="posix.system")
    add("c06_nt_system.pkl", whole(pk.call1("nt", "system", bu(T))), 6, "nt.system", callable="nt.system")
    add("c06_shutil_os.pkl", whole(pk.call_sg("shutil", "os.system", bu(T)), 4), 6,
        "shutil.os.system alias")

    # 7: STACK_GLOBAL operands from the memo, with decoys pushed last.
    body = (sbu("os") + binput(0) + POP + sbu("system") + binput(1) + POP +
            sbu("collections") + sbu("OrderedDict") + POP + POP +
            binget(0) + binget(1) + STACK_GLOBAL + bu(T) + TUPLE1 + REDUCE)
    add("c07_memo_decoy.pkl", whole(body, 4), 7,
        "operands fetched with BINGET; benign strings pushed (and popped) just before")
    # MEMOIZE stores at len(memo), not max index + 1.
    body = (sbu("torch") + binput(5) + POP + sbu("FloatStorage") + binput(6) + POP +
            sbu("os") + MEMOIZE + POP + sbu("system") + MEMOIZE + POP +
            sbu("torch") + sbu("FloatStorage") + POP + POP +
            binget(2) + binget(3) + STACK_GLOBAL + bu(T) + TUPLE1 + REDUCE)
    add("c07_memoize_index.pkl", whole(body, 4), 7,
        "MEMOIZE index rule: memo{5,6} then MEMOIZE -> 2,3 hold os/system")

    # 8: scanner-crashing structures after a payload; plus malformed alone.
    add("c08_missing_memo_after_payload.pkl",
        proto(2) + pk.system_call() + POP + binget(99) + STOP, 8,
        "payload then BINGET of a missing key")
    add("c08_type_confusion.pkl",
        proto(4) + pk.system_call() + POP + int_(1) + int_(2) + STACK_GLOBAL + STOP, 8,
        "payload then STACK_GLOBAL on ints")
    add("c08_missing_memo_only.pkl", proto(2) + binget(7) + STOP, 8,
        "malformed (memo miss) without payload", expect="unknown")

    # 9: STACK_GLOBAL fed by every string opcode kind.
    for tag, mk1, mk2 in (("string", pk.string0, pk.string0),
                          ("binstring", pk.binstring, pk.short_binstring),
                          ("unicode", pk.unicode0, pk.bu8)):
        add("c09_stack_global_%s.pkl" % tag,
            whole(mk1("os") + mk2("system") + STACK_GLOBAL + bu(T) + TUPLE1 + REDUCE, 4), 9,
            "STACK_GLOBAL operands from %s opcodes" % tag)

    # 10: INST and OBJ calls whose results are popped.
    add("c10_inst_pop.pkl",
        MARK + pk.string0(T) + pk.inst("os", "system") + POP + pk.string0("ok") +
        STOP, 10, "protocol-0 INST os.system, result discarded")
    add("c10_obj_pop.pkl",
        proto(2) + MARK + glob("os", "system") + bu(T) + OBJ + POP + EMPTY_DICT + STOP, 10,
        "OBJ os.system, result discarded")

    # 11: implicit calls through BUILD / mutators on foreign objects.
    add("c11_build_on_class.pkl",
        whole(glob("torch", "Tensor") + pk.NONE + EMPTY_DICT + sbu("__del__") + sbu("x") + SETITEM +
              TUPLE2 + BUILD), 11, "BUILD slot-state on the torch.Tensor class (setattr on a class)",
        expect=["unsafe", "unknown"])
    add("c11_append_on_device.pkl",
        whole(glob("torch", "device") + sbu("cpu") + TUPLE1 + REDUCE + sbu("x") + APPEND), 11,
        "APPEND on a torch.device instance: device.append")
    add("c11_build_setstate_foreign.pkl",
        whole(glob("argparse", "Namespace") + EMPTY_TUPLE + REDUCE + EMPTY_DICT + BUILD), 11,
        "BUILD on an instance of a class outside the allowlist", expect="unknown")

    # 12: EXT codes (copyreg extension registry).
    add("c12_ext1.pkl", whole(pk.ext1(1) + EMPTY_TUPLE + REDUCE), 12, "EXT1 call", expect="unknown")
    add("c12_ext2.pkl", whole(pk.ext2(300) + EMPTY_TUPLE + REDUCE), 12, "EXT2 call", expect="unknown")
    add("c12_ext4.pkl", whole(pk.ext4(70000) + EMPTY_TUPLE + REDUCE), 12, "EXT4 call",
        expect="unknown")

    # 13: payload first, then garbage.
    add("c13_garbage_after.pkl", proto(2) + pk.system_call() + b"\xff\xfe garbage \x00" * 4, 13,
        "payload, then bytes that are no opcode; no STOP")

    # 14: payload in a later stream.
    add("c14_second_stream.pkl", pk.benign_dict_pickle() + pk.payload_pickle(), 14,
        "clean stream 1, payload in appended stream 2")

    # 16: FRAME violations.
    inner = sbu("os") + sbu("system") + STACK_GLOBAL + bu(T) + TUPLE1 + REDUCE + STOP
    cut = 5  # frame ends inside the second SHORT_BINUNICODE's argument
    add("c16_frame_straddle.pkl", proto(4) + pk.frame(cut) + inner, 16,
        "FRAME length ends inside an opcode argument")
    benign = EMPTY_DICT + sbu("key") + sbu("value") + SETITEM + STOP
    add("c16_frame_straddle_benign.pkl", proto(4) + pk.frame(3) + benign, 16,
        "frame violation with no denied global: the evasion itself is the finding")
    add("c16_frame_nested.pkl",
        proto(4) + pk.frame(len(inner) + 9) + sbu("os") + pk.frame(len(inner)) + inner[4:], 16,
        "FRAME opened inside an open frame")

    # 17/18/19/21: nested pickles handed to loaders.
    inner = pk.payload_pickle()
    add("c17_binbytes8_pickle_loads.pkl", whole(pk.call1("pickle", "loads", pk.binbytes8(inner))),
        17, "pickle.loads(BINBYTES8 payload)")
    add("c17_bytearray8_bytesio.pkl",
        whole(pk.call1("_io", "BytesIO", pk.bytearray8(inner)), 5), 17,
        "payload pickle in BYTEARRAY8 given to _io.BytesIO (nested sink)")
    latin = inner.decode("latin1")
    codecs_bytes = glob("_codecs", "encode") + bu(latin) + bu("latin1") + TUPLE2 + REDUCE
    add("c18_codecs_encode_loads.pkl",
        whole(glob("pickle", "loads") + codecs_bytes + TUPLE1 + REDUCE), 18,
        "pickle.loads(_codecs.encode(latin-1 str, 'latin1'))")
    add("c18_codecs_encode_torch_bytes.pkl",
        whole(glob("torch.storage", "_load_from_bytes") + codecs_bytes + TUPLE1 + REDUCE), 18,
        "torch.storage._load_from_bytes on a nested payload")
    add("c19_dill_loads.pkl", whole(pk.call1("dill", "loads", pk.binbytes(inner))), 19,
        "dill.loads (was in ModelAudit's allowlist)")
    add("c19_pickle_unpickler.pkl",
        whole(glob("_pickle", "Unpickler") + glob("_io", "BytesIO") + pk.binbytes(inner) + TUPLE1 +
              REDUCE + TUPLE1 + REDUCE + DUP + POP), 19, "_pickle.Unpickler(BytesIO(payload))")
    add("c19_builtins_type.pkl",
        whole(glob("builtins", "type") + sbu("X") + EMPTY_TUPLE + EMPTY_DICT + pk.TUPLE3 + REDUCE),
        19, "builtins.type(name, bases, dict) creates a class", expect=["unknown", "unsafe"])
    add("c21_pure_python_loads.pkl", whole(pk.call1("pickle", "_loads", pk.binbytes(inner))), 21,
        "pickle._loads: pure-Python unpickler slips past C-level hooks")
    add("c21_pure_python_unpickler.pkl",
        whole(glob("pickle", "_Unpickler") + glob("io", "BytesIO") + pk.binbytes(inner) + TUPLE1 +
              REDUCE + TUPLE1 + REDUCE), 21, "pickle._Unpickler(io.BytesIO(payload))")

    # 20: capitalised module names.
    add("c20_ipython.pkl", whole(pk.call1("IPython.utils.process", "system", bu(T))), 20,
        "IPython.utils.process.system")

    # 35: resource exhaustion; a cap must give unknown, never safe-by-skipping.
    laughs = proto(2) + EMPTY_LIST + binput(0) + POP
    for i in range(40):
        laughs += binget(0) + binget(0) + TUPLE2 + binput(0) + POP
    laughs += binget(0) + STOP
    c.add("pickle/c35_memo_fanout.pkl", ["safe", "unknown"], "benign",
          "class 35 shape: 2^40 leaves via memo fan-out; builtins only, must not hang",
          data=laughs)
    add("c35_huge_binbytes8.pkl", proto(4) + b"\x8e" + struct.pack("<Q", 1 << 62) + b"xx" + STOP,
        35, "BINBYTES8 declaring 2^62 bytes", expect="unknown")
    add("c35_huge_long4.pkl", proto(2) + b"\x8b" + struct.pack("<i", 0x7FFFFFF0) + b"\x01" + STOP,
        35, "LONG4 declaring 2 GiB", expect="unknown")
    deep = proto(2) + EMPTY_LIST * 300_000 + APPEND * 299_999 + STOP
    c.add("pickle/c35_deep_nesting.pkl", ["safe", "unknown"], "benign",
          "class 35: 300k nested lists (stack depth); builtins only, must not crash", data=deep)
    marks = proto(2) + MARK * 500_000 + STOP
    add("c35_mark_flood.pkl", marks, 35, "500k MARKs then STOP with no value", expect="unknown")
    add("c35_payload_then_long_memo.pkl",
        proto(2) + pk.system_call() + b"r" + struct.pack("<I", 0xFFFFFFFF) + POP +
        EMPTY_DICT + STOP, 35, "payload, then LONG_BINPUT at index 2^32-1 (sparse memo)")

    # 38: import-only references and a denied module in the module field.
    add("c38_os_path_import_only.pkl", whole(glob("os.path", "join")), 38,
        "GLOBAL os.path join, never called")
    add("c38_import_then_pop.pkl", whole(glob("subprocess", "Popen") + POP + EMPTY_DICT), 38,
        "GLOBAL subprocess.Popen popped; the import alone runs code")

    # 15 and 14 (legacy): see gen_container_attacks; 22 protocol 0 here.
    add("c22_proto0_payload.bin", b"cos\nsystem\n(S'" + T.encode() + b"'\ntR.", 22,
        "protocol-0 pickle (no \\x80 magic) named .bin")
    add("c22_proto1_payload.pt",
        glob("os", "system") + MARK + pk.binstring(T) + TUPLE + REDUCE + STOP, 22,
        "protocol-1 pickle without PROTO, named .pt")
    pickled = pickle.dumps(_Reduce(), protocol=2)
    add("c22_pickle_named.safetensors", pickled, 22,
        "pickle.dumps of a __reduce__ object, named model.safetensors", callable="system")
    c.add("pickle/model.safetensors", "unsafe", 22, "pickle named model.safetensors",
          data=pickled, callable="system")
    c.add("pickle/c22_readme_proto0.txt", "unsafe", 22,
          "complete protocol-0 payload pickle named .txt", data=b"cos\nsystem\n(S'" +
          T.encode() + b"'\ntR.", callable="os.system")


class _Reduce:
    """pickle.dumps(_Reduce()) writes GLOBAL posix system + REDUCE; dumping
    never calls it."""

    def __reduce__(self):
        import os
        return (os.system, (T,))

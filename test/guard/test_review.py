"""Adversarial review of the Python guard (issue 4).

Tests named test_review_* demonstrate a bypass or a broken legitimate
workflow: they assert the behaviour the guard should have and FAIL today.
The other tests record attacks the guard handled. Payloads are built here as
raw pickle opcodes (never unpickled in this process) and only touch $MARKER.
"""

import hashlib
import io
import os
import struct
import zipfile

import pytest

from conftest import Target, _prepare
from snippets import code


@pytest.fixture(scope="session")
def rt(guarded_base, tmp_path_factory):
    """One guarded interpreter (the base copy, torch 1.13) with the usual fixtures."""
    root = tmp_path_factory.mktemp("review")
    return _prepare(Target("review", guarded_base, str(root / "home")))


@pytest.fixture(autouse=True)
def _clean(rt):
    for p in (rt.marker, rt.marker + ".2"):
        if os.path.exists(p):
            os.remove(p)
    yield


# ------------------------------------------------------------ pickle opcodes
def s(x):
    b = x.encode()
    return (b"\x8c" + bytes([len(b)]) + b) if len(b) < 256 else (b"X" + struct.pack("<I", len(b)) + b)


def g(mod, name):  # STACK_GLOBAL: raises the pickle.find_class audit event with (mod, name)
    return s(mod) + s(name) + b"\x93"


def call(fn, *args):  # fn(*args) via REDUCE; args are already-encoded opcodes
    return fn + b"(" + b"".join(args) + b"tR"  # MARK args TUPLE REDUCE


def proto4(body):
    return b"\x80\x04" + body + b"."


def exec_marker(marker):
    return s("open(%r, 'w').close()" % marker)


def hf_put(rt, repo, name, data):
    """Place bytes in the HF cache layout (snapshot symlink -> blob), as huggingface_hub does."""
    base = os.path.join(rt.hf_hub, "models--" + repo.replace("/", "--"))
    blob = os.path.join(base, "blobs", hashlib.sha256(data).hexdigest())
    os.makedirs(os.path.dirname(blob), exist_ok=True)
    with open(blob, "wb") as f:
        f.write(data)
    snap = os.path.join(base, "snapshots", "r1", name)
    os.makedirs(os.path.dirname(snap), exist_ok=True)
    if not os.path.lexists(snap):
        os.symlink(os.path.relpath(blob, os.path.dirname(snap)), snap)
    return snap


def plain_pickle(rt):
    with open(rt.files["hf_plain"], "rb") as f:
        return f.read()


# ------------------------------------------------- 1. deny-list: name aliases
def test_review_dotted_name_reaches_builtins_exec(rt):
    # ("subprocess", "builtins.exec"): subprocess imports builtins, protocol 4
    # resolves the dotted name, and "exec" is not in _DOTTED_LAST.
    data = proto4(call(g("subprocess", "builtins.exec"), exec_marker(rt.marker)))
    r = rt.run(code('''
        import pickle
        out(r=attempt(lambda: pickle.loads(%r)))
    ''' % data))
    assert not r.json["marker"], "protocol-4 ('subprocess', 'builtins.exec') ran exec past the deny-list"


def test_review_dotted_name_reaches_subprocess_popen(rt):
    # ("asyncio.subprocess", "subprocess.Popen"): "Popen" is not in _DOTTED_LAST either.
    argv = b"(" + s("touch") + s(rt.marker) + b"t"  # MARK ... TUPLE
    data = proto4(call(g("asyncio.subprocess", "subprocess.Popen"), argv) + b"0" + b"N")
    r = rt.run(code('''
        import pickle, time
        res = attempt(lambda: pickle.loads(%r))
        for _ in range(50):
            if os.path.exists(MARKER): break
            time.sleep(0.1)
        out(r=res)
    ''' % data))
    assert not r.json["marker"], "('asyncio.subprocess', 'subprocess.Popen') started a process"


def test_review_private_os_exec_helper_not_denied(rt):
    # os._execvpe(file, args) execs a program; only the public exec* names are denied.
    # Run in a child so the exec replaces only that child.
    argv = b"(" + s("touch") + s(rt.marker) + b"t"
    data = proto4(call(g("os", "_execvpe"), s("touch"), argv))
    r = rt.run(code('''
        import pickle
        out(r=attempt(lambda: pickle.loads(%r)))
    ''' % data), check=False)
    assert not os.path.exists(rt.marker), "os._execvpe from a pickle ran a program"


def test_review_timeit_runs_source_code(rt):
    # timeit.timeit(stmt, setup, timer, number) compiles and runs stmt: exec by another name.
    data = proto4(call(g("timeit", "timeit"), exec_marker(rt.marker), s("pass"), g("time", "perf_counter"),
                       b"K\x01"))
    r = rt.run(code('''
        import pickle
        out(r=attempt(lambda: pickle.loads(%r)))
    ''' % data))
    assert not r.json["marker"], "timeit.timeit from a pickle ran source code"


# ------------------------------------------- 2. the pickle switches the guard off
def disarm():
    # setattr(operator.getitem(sys.modules, "safehub_guard"), "mode", "off"): no denied global.
    mod = call(g("operator", "getitem"), g("sys", "modules"), s("safehub_guard"))
    return call(g("builtins", "setattr"), mod, s("mode"), s("off")) + b"0"


def test_review_pickle_disarms_guard_then_deny_listed_call_runs(rt):
    data = proto4(disarm() + call(g("builtins", "exec"), exec_marker(rt.marker)))
    r = rt.run(code('''
        import pickle, safehub_guard
        res = attempt(lambda: pickle.loads(%r))
        out(r=res, mode=safehub_guard.mode)
    ''' % data))
    assert not r.json["marker"], "a pickle set safehub_guard.mode='off', then builtins.exec ran (%r)" % r.json


def test_review_benign_looking_data_pickle_disarms_later_torch_load(rt):
    # A data file with no denied global (e.g. an object .npy or .joblib from the hub)
    # turns the guard off for the rest of the process; the next HF-cache torch.load runs a full pickle.
    data = proto4(disarm() + b"N")
    p = hf_put(rt, "org/data", "data.pkl", data)
    r = rt.run(code('''
        import pickle, torch
        a = attempt(lambda: pickle.load(open(%r, "rb")))
        b = attempt(lambda: torch.load(F["hf_plain"], weights_only=False))
        out(a=a, b=b)
    ''' % p))
    assert not r.json["marker"], "HF-cache torch.load ran its payload after a data pickle disarmed the guard"


def test_review_data_pickle_sets_trusted_env_then_torch_load_runs(rt):
    # SAFEHUB_GUARD_TRUSTED is read at each decision: operator.setitem(os.environ, ...) from a
    # pickle with no denied global makes every later file "own" (and reaches child processes).
    data = proto4(call(g("operator", "setitem"), g("os", "environ"), s("SAFEHUB_GUARD_TRUSTED"), s("/"))
                  + b"0" + b"N")
    p = hf_put(rt, "org/env", "data.pkl", data)
    r = rt.run(code('''
        import pickle, torch
        a = attempt(lambda: pickle.load(open(%r, "rb")))
        b = attempt(lambda: torch.load(F["hf_plain"], weights_only=False))
        out(a=a, b=b)
    ''' % p))
    assert not r.json["marker"], "HF-cache torch.load ran after a pickle set SAFEHUB_GUARD_TRUSTED=/"


# --------------------------------- 3. non-torch sinks have no path policy at all
# joblib.load, numpy.load(allow_pickle=True) and pickle.load of a cache file
# now have the same file-origin rule as torch.load (safehub_guard/_sinks.py).
@pytest.mark.parametrize("sink", ["joblib", "pickle", "numpy"])
def test_review_hf_cache_pickle_via_other_sinks_runs(rt, sink):
    # sklearn models on the hub are .joblib/.pkl; io.open (any non-denied global) runs.
    data = proto4(call(g("io", "open"), s(rt.marker), s("w")) + b"0" + b"N")
    p = hf_put(rt, "org/sk", "model." + sink, data)
    stmt = {"joblib": "joblib.load(P)", "pickle": "pickle.load(open(P, 'rb'))",
            "numpy": "numpy.load(P, allow_pickle=True)"}[sink]
    r = rt.run(code('''
        import joblib, pickle, numpy
        P = %r
        out(r=attempt(lambda: %s))
    ''' % (p, stmt)))
    assert not r.json["marker"], "%s of a Hugging Face cache file ran a payload" % stmt


# ------------------------------------------- 4. downloads outside the cache layout
def test_review_hf_local_dir_download_is_treated_as_own(rt):
    # hf_hub_download/snapshot_download(local_dir=...) writes real files into the user's
    # directory, with metadata in <local_dir>/.cache/huggingface/download/<name>.metadata.
    d = os.path.join(rt.home, "models", "evil")
    os.makedirs(os.path.join(d, ".cache", "huggingface", "download"), exist_ok=True)
    with open(os.path.join(d, "pytorch_model.bin"), "wb") as f:
        f.write(plain_pickle(rt))
    with open(os.path.join(d, ".cache", "huggingface", "download", "pytorch_model.bin.metadata"), "w") as f:
        f.write("0123456789abcdef\n" + "e" * 64 + "\n1700000000.0\n")
    r = rt.run(code('''
        import torch
        out(r=attempt(lambda: torch.load(%r)))
    ''' % os.path.join(d, "pytorch_model.bin")))
    assert not r.json["marker"], "a local_dir= hub download loaded as the user's own file: %r" % r.json


def test_review_stream_name_of_another_file_makes_it_own(rt):
    # classify() trusts any stream's .name that names an existing file. A member read out
    # of an archive in the HF cache (zipfile's ZipExtFile.name is the member's relative
    # name) is classified by whatever file of that name sits in the cwd: the user's own
    # fine-tuned pytorch_model.bin here.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("pytorch_model.bin", plain_pickle(rt))
    p = hf_put(rt, "org/zipped", "weights.zip", buf.getvalue())
    work = os.path.join(rt.home, "finetune-out")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "pytorch_model.bin"), "wb") as f:  # the user's own output
        f.write(b"not used")
    r = rt.run(code('''
        import zipfile, torch
        os.chdir(%r)
        m = zipfile.ZipFile(%r).open("pytorch_model.bin")
        out(r=attempt(lambda: torch.load(m, weights_only=False)))
    ''' % (work, p)))
    assert not r.json["marker"], "a zip member from the HF cache loaded as own (its .name matched a cwd file)"


# --------------------------------- 5. zip_ok disagrees with torch's _is_zipfile
def test_review_legacy_file_with_appended_zip_passes_zip_check(rt):
    # torch < 2.6 decides zip vs legacy by the first 4 bytes; zipfile.is_zipfile looks at
    # the end. A legacy file with a zip appended passes zip_ok and torch 1.13 then runs
    # _legacy_load (the CVE-2025-32434 path the guard means to refuse).
    legacy = os.path.join(rt.home, "legacy.bin")
    rt.run('import torch; torch.save({"w": torch.ones(2)}, %r, _use_new_zipfile_serialization=False)' % legacy,
           env={"SAFEHUB_GUARD": "off"})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with open(legacy, "rb") as f:
        data = f.read() + buf.getvalue()
    p = hf_put(rt, "org/legacy", "pytorch_model.bin", data)
    r = rt.run(code('''
        import torch
        out(r=attempt(lambda: torch.load(%r, weights_only=False)))
    ''' % p))
    res = r.json["r"]
    assert res.get("refused"), "legacy (non-zip) HF-cache file was loaded on torch < 2.6: %r" % res


# ----------------------------------------------------- handled (recorded)
@pytest.mark.parametrize("form", ["hardlink_in_cache", "pathlike", "fd_fileobj", "relative", "bytes_path",
                                  "dup_fd_open", "private_load_name"])
def test_handled_call_forms(rt, form):
    stmts = {
        # a second name for the blob inside the cache tree
        "hardlink_in_cache": 'os.link(os.path.realpath(F["hf_plain"]), os.path.join(os.path.dirname('
                             'os.path.realpath(F["hf_plain"])), "x")) if not os.path.exists(os.path.join('
                             'os.path.dirname(os.path.realpath(F["hf_plain"])), "x")) else None; '
                             'R = torch.load(os.path.join(os.path.dirname(os.path.realpath(F["hf_plain"])), "x"), '
                             'weights_only=False)',
        "pathlike": 'class P:\n    def __fspath__(self): return F["hf_plain"]\nR = torch.load(P(), weights_only=False)',
        "fd_fileobj": 'R = torch.load(os.fdopen(os.open(F["hf_plain"], os.O_RDONLY), "rb"), weights_only=False)',
        "relative": 'os.chdir(os.path.dirname(F["hf_plain"])); R = torch.load("pytorch_model.bin", weights_only=False)',
        "bytes_path": 'R = torch.load(os.fsencode(F["hf_plain"]), weights_only=False)',
        "dup_fd_open": 'R = torch.load(open(os.open(F["hf_plain"], os.O_RDONLY), "rb"), weights_only=False)',
        "private_load_name": 'from torch.serialization import load as L; R = L(F["hf_plain"], weights_only=False)',
    }
    r = rt.run(code('import torch\ndef f():\n    global R\n' + "\n".join(
        "    " + line for line in stmts[form].splitlines()) + '\n    return R\nout(r=attempt(f))\n'))
    assert not r.json["r"]["ok"] and not r.json["marker"], r.json


def test_handled_bare_allow_grant_is_spent_by_next_restricted_load_only(rt):
    # Documented: a bare allow() lingers until the next restricted load (not an own one).
    r = rt.run(code('''
        import torch, safehub_guard
        safehub_guard.allow()
        a = attempt(lambda: torch.load(F["own_ckpt"]))
        b = attempt(lambda: torch.load(F["hf_args"], weights_only=False))
        c = attempt(lambda: torch.load(F["hf_args"], weights_only=False))
        out(a=a["ok"], b=b["ok"], c=c["ok"])
    '''))
    assert r.json["a"] and r.json["b"] and not r.json["c"], r.json

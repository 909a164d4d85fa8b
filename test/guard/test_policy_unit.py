"""Unit tests of the guard's pure decision logic, imported straight from the source tree
(no install, no torch: a fake `torch` module supplies the version)."""

import io
import os
import sys
import types
import zipfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "internal", "guard", "python"))
import safehub_guard  # noqa: E402  (imported, never _boot()ed: no hook in the test process)
from safehub_guard import _policy, _torch  # noqa: E402


@pytest.mark.parametrize("module,name,denied", [
    ("posix", "system", True), ("os", "system", True), ("nt", "spawnv", True),
    ("__builtin__", "eval", True), ("builtins", "exec", True), ("builtins", "__import__", True),
    ("subprocess", "Popen", True), ("runpy", "_run_code", True), ("pty", "spawn", True),
    ("_posixsubprocess", "fork_exec", True), ("shutil", "os.system", True), ("x", "a.b.execvpe", True),
    # What legitimate pickles use must pass.
    ("builtins", "getattr", False), ("functools", "partial", False), ("types", "CodeType", False),
    ("subprocess", "CalledProcessError", False), ("collections", "OrderedDict", False),
    ("numpy.core.multiarray", "_reconstruct", False), ("torch._utils", "_rebuild_tensor_v2", False),
    ("foo", "bar.run", False), ("foo", "bar.call", False), ("foo", "bar.eval", False),
])
def test_deny_list(module, name, denied):
    assert safehub_guard._denied(module, name) is denied


@pytest.fixture
def fake_torch(monkeypatch):
    mod = types.ModuleType("torch")
    monkeypatch.setitem(sys.modules, "torch", mod)
    return mod


@pytest.mark.parametrize("version,want", [
    ("1.13.0a0", (1, 13)), ("2.6.0+cu124", (2, 6)), ("2.10.0.dev20250101", (2, 10)),
    ("2.15.0+cu132", (2, 15)), ("", (0, 0)), ("garbage", (0, 0)),
])
def test_torch_version(fake_torch, version, want):
    fake_torch.__version__ = version
    assert _torch.torch_version() == want


@pytest.mark.parametrize("ver,wo,pm,env,want", [
    ((1, 13), None, None, {}, False),
    ((1, 13), True, None, {}, True),
    ((1, 13), False, None, {"TORCH_FORCE_WEIGHTS_ONLY_LOAD": "YES"}, True),  # 1.13 lower-cases
    ((2, 4), None, None, {}, False),
    ((2, 6), None, None, {}, True),
    ((2, 6), None, "dill", {}, False),
    ((2, 6), False, None, {"TORCH_FORCE_WEIGHTS_ONLY_LOAD": "1"}, True),
    ((2, 6), None, None, {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}, False),
    ((2, 6), True, None, {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}, True),  # explicit True wins
])
def test_effective_weights_only(monkeypatch, ver, wo, pm, env, want):
    for k in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert _torch.effective_weights_only(ver, wo, pm) is want


@pytest.fixture
def home(tmp_path, monkeypatch):
    for k in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "TORCH_HOME", "XDG_CACHE_HOME",
              "SAFEHUB_GUARD_TRUSTED"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"x")
    return str(path)


def test_classify_caches_layout_owner_and_trust(home, monkeypatch):
    assert _policy.classify(touch(home / "work" / "ckpt.pt")).cls == "own"
    assert _policy.classify(touch(home / ".cache/huggingface/hub/x/y.bin")).cls == "foreign"
    assert _policy.classify(touch(home / ".cache/torch/hub/checkpoints/r.pth")).cls == "foreign"
    assert _policy.classify(touch(home / "Downloads/m.pt")).cls == "foreign"
    src = _policy.classify(touch(home / "any/models--o--m/blobs/abc"))
    assert src.cls == "foreign" and "layout" in src.why
    # Symlinks are resolved: a link from an own dir into the cache is foreign.
    os.symlink(home / ".cache/huggingface/hub/x/y.bin", home / "work/link.bin")
    assert _policy.classify(str(home / "work/link.bin")).cls == "foreign"
    # Environment read at decision time.
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hubcache"))
    assert _policy.classify(touch(home / "hubcache/z.bin")).cls == "foreign"
    monkeypatch.setenv("TORCH_HOME", str(home / "th"))
    assert _policy.classify(touch(home / "th/hub/z.bin")).cls == "foreign"
    # Trusted dirs win over caches; relative entries are ignored; boundaries are components.
    monkeypatch.setenv("SAFEHUB_GUARD_TRUSTED", "relative/dir:%s" % (home / "hubcache"))
    assert _policy.classify(str(home / "hubcache/z.bin")).cls == "own"
    assert _policy.classify(touch(home / "hubcache2/z.bin")).cls == "own"  # not under any cache either


def test_classify_streams_and_other_owners(home):
    assert _policy.classify(io.BytesIO(b"x")).cls == "unknown"
    p = touch(home / "shared/f.pt")
    with open(p, "rb") as f:
        assert _policy.classify(f).path == os.path.realpath(p)
    if os.geteuid() != 0:
        pytest.fail("this test chowns a file to another uid: run it as root")
    os.chown(p, 12345, 12345)
    src = _policy.classify(p)
    assert src.cls == "foreign" and "uid 12345" in src.why


def zip_bytes(names):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        for n in names:
            z.writestr(n, b"x")
    return b.getvalue()


def test_zip_ok(tmp_path):
    plain = io.BytesIO(b"\0" * 7 + zip_bytes(["archive/data.pkl", "archive/data/0"]))
    plain.seek(7)
    assert _torch.zip_ok(plain, None) == (True, "") and plain.tell() == 7  # position restored
    ok, why = _torch.zip_ok(io.BytesIO(zip_bytes(["m/data.pkl", "m/constants.pkl"])), None)
    assert not ok and "TorchScript" in why
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(b"\x80\x02\x8a\x0alegacy-magic")
    ok, why = _torch.zip_ok(str(legacy), str(legacy))
    assert not ok and "legacy" in why
    assert _torch.zip_ok(str(tmp_path / "missing"), str(tmp_path / "missing")) == (True, "")

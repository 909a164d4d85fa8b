"""The torch.load wrapper. Imported when torch.serialization has just executed.

Decision rule (block mode):
  own source                    -> call exactly as asked
  foreign/unknown, weights-only -> call with weights_only=True (torch < 2.6: only
                                   for a zip archive that is not TorchScript)
  foreign/unknown, full pickle  -> "retry": call with weights_only=True and no
                                   pickle_module instead; refuse if torch's
                                   weights-only loader rejects the file
  foreign/unknown, custom pickle_module (dill, ...), or torch < 1.13 -> refuse
warn and audit never change the call.
"""

import os
import sys

from . import _api, _policy, _report
import safehub_guard as _guard

_MARK = "__safehub_guard__"
_TRUE = ("1", "y", "yes", "true")
_cve_noted = False


def torch_version():
    """(major, minor) of the running torch; defensive about 1.13.0a0, 2.6.0+cu124, dev builds."""
    torch = sys.modules.get("torch")
    v = str(getattr(torch, "__version__", "") or "")
    out = []
    for part in v.split(".")[:2]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        out.append(int(digits) if digits else 0)
    while len(out) < 2:
        out.append(0)
    return tuple(out)


def _env_true(name, lower):
    v = os.environ.get(name, "0")
    return (v.lower() if lower else v) in _TRUE


def effective_weights_only(ver, weights_only, pickle_module):
    """What torch itself will use for weights_only (pytorch torch/serialization.py)."""
    if ver >= (2, 6):
        w = (pickle_module is None) if weights_only is None else bool(weights_only)
        if _env_true("TORCH_FORCE_WEIGHTS_ONLY_LOAD", False):
            return True
        if weights_only is None and _env_true("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", False):
            return False
        return w
    if _env_true("TORCH_FORCE_WEIGHTS_ONLY_LOAD", True):
        return True
    return bool(weights_only)


def zip_ok(f, path):
    """(ok, why): a zip archive that is not TorchScript (no constants.pkl record).

    Before 2.6, weights_only=True still sends TorchScript archives to
    torch.jit.load and legacy (non-zip) files through a path with known
    bypasses (CVE-2025-32434), so only plain zip checkpoints may be retried.
    """
    import zipfile
    fh, close, pos = None, False, None
    try:
        if path is not None and not hasattr(f, "read"):
            if not os.path.exists(path):
                # Let torch say FileNotFoundError (from the weights-only call).
                return True, ""
            fh, close = open(path, "rb"), True
        elif hasattr(f, "seek") and hasattr(f, "tell"):
            fh = f
            pos = fh.tell()
        else:
            return False, "a stream that cannot seek"
        # torch decides "zip" from the first four bytes (zipfile looks for an
        # end record anywhere near the end): both must agree, or a legacy
        # file with a zip appended would take torch's legacy path.
        fh.seek(pos or 0)
        head = fh.read(4)
        fh.seek(pos or 0)
        if head != b"PK\x03\x04" or not zipfile.is_zipfile(fh):
            return False, "a legacy (non-zip) torch file, which torch < 2.6 cannot load safely"
        fh.seek(pos or 0)
        with zipfile.ZipFile(fh) as z:
            for name in z.namelist():
                if name == "constants.pkl" or name.endswith("/constants.pkl"):
                    return False, "a TorchScript archive (torch.load would run torch.jit.load)"
        return True, ""
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        return False, "unreadable as a zip archive (%s)" % e
    finally:
        if close:
            fh.close()
        elif pos is not None:
            try:
                fh.seek(pos)
            except Exception:
                pass


def _first_line(e):
    text = str(e).strip()
    # torch's weights-only message puts the offending global last; keep it.
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text[text.index(marker):]
    return text.splitlines()[0][:400] if text else type(e).__name__


def _is_weights_only_failure(e):
    import pickle
    if isinstance(e, pickle.UnpicklingError):
        return True
    return isinstance(e, RuntimeError) and "weights_only" in str(e)


def guarded_load(orig, args, kwargs):
    mode = _guard.mode
    if mode == "off":
        return orig(*args, **kwargs)
    f = args[0] if args else kwargs.get("f")
    src = _policy.classify(f)
    if src.cls == _policy.OWN:
        return _call(orig, src.path, args, kwargs)
    # allow() is consulted only now, so a one-shot grant goes to the next
    # load the guard would restrict, not to whatever own file comes first.
    if mode == "block" and _api._take_allowance():
        _report.record(mode, "torch.load", src.path, src.cls, "allowed", src.why + "; safehub_guard.allow()")
        return _call(orig, src.path, args, kwargs)

    ver = torch_version()
    pm = args[2] if len(args) > 2 else kwargs.get("pickle_module")
    stdlib_pm = pm is None or pm is sys.modules.get("pickle")
    w = effective_weights_only(ver, kwargs.get("weights_only"), pm)
    plan, why = _plan(ver, w, stdlib_pm, f, src)

    if mode != "block":
        if plan != "as-asked":
            if mode == "warn":
                _report.warn_once(mode, "torch.load", src.path, src.cls, plan, why)
            else:
                _report.record(mode, "torch.load", src.path, src.cls, "would-" + plan, why)
        return _call(orig, src.path, args, kwargs)

    if plan == "refuse":
        raise _report.refuse(mode, "torch.load", src.path, src.cls, src.why, why)
    _note_cve(ver)
    if plan == "as-asked":
        return _call(orig, src.path, args, kwargs)
    # plan == "retry": weights-only instead of a full pickle. Explicit True,
    # so TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD cannot turn it back.
    args = list(args[:2])
    kw = dict(kwargs)
    kw.pop("pickle_module", None)
    kw["weights_only"] = True
    _report.record(mode, "torch.load", src.path, src.cls, "weights-only", src.why)
    try:
        return _call(orig, src.path, args, kw)
    except Exception as e:
        if not _is_weights_only_failure(e):
            raise
        raise _report.refuse(
            mode, "torch.load", src.path, src.cls, src.why,
            "torch's weights-only loader rejected it: " + _first_line(e)) from None


def _plan(ver, w, stdlib_pm, f, src):
    """("as-asked" | "retry" | "refuse", why) for a foreign or unknown source."""
    if ver < (1, 13):
        return "refuse", "torch %d.%d has no weights-only loader" % ver
    if w:
        if ver >= (2, 6):
            return "as-asked", ""
        ok, why = zip_ok(f, src.path)
        return ("as-asked", "") if ok else ("refuse", "it is " + why)
    if not stdlib_pm:
        return "refuse", "a custom pickle_module (e.g. dill) runs a full unpickler"
    if ver < (2, 6):
        ok, why = zip_ok(f, src.path)
        if not ok:
            return "refuse", "it is " + why
    return "retry", "a full pickle load was asked for"


def _note_cve(ver):
    global _cve_noted
    if ver < (2, 10) and not _cve_noted:
        _cve_noted = True
        _report.record(_guard.mode, "torch.load", None, "note", "note",
                       "torch < 2.10: weights-only loader has CVE-2026-24747 (memory corruption)")


def _call(orig, path, args, kwargs):
    prev = _report.current_path
    _report.current_path = path
    try:
        return orig(*args, **kwargs)
    finally:
        _report.current_path = prev


def patch(module):
    """Wrap module.load (torch.serialization) once; rebind torch.load if it is the original."""
    orig = module.__dict__.get("load")
    if orig is None or getattr(orig, _MARK, False):
        return

    def load(*args, **kwargs):
        return guarded_load(orig, args, kwargs)

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(load, attr, getattr(orig, attr))
        except (AttributeError, TypeError):
            pass
    # inspect.signature follows __wrapped__: libraries probing torch.load for
    # weights_only/mmap still see torch's parameters.
    load.__wrapped__ = orig
    setattr(load, _MARK, True)
    module.load = load
    torch = sys.modules.get("torch")
    if torch is not None and torch.__dict__.get("load") is orig:
        torch.load = load

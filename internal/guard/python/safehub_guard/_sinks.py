"""File-origin rule for the pickle loaders other than torch.load.

joblib.load, numpy.load(allow_pickle=True) and pickle.load run whatever a
pickle names; the find_class deny-list only catches the obvious. A file
from a download cache (or owned by another user) is refused in block mode
unless safehub_guard.allow() is open; in warn/audit mode the load goes on
and is recorded. Streams without a path are left alone: that is how
multiprocessing, joblib workers and every in-memory use unpickle.
"""

import sys

from . import _policy, _report

_MARK = "__safehub_guard__"


def _check(api, f):
    """Raise Refused for a foreign file in block mode; record otherwise."""
    from . import _api
    _guard = sys.modules["safehub_guard"]
    mode = _guard.mode
    if mode == "off":
        return
    src = _policy.classify(f)
    if src.cls != _policy.FOREIGN:
        return
    if mode == "block" and _api._take_allowance():
        _report.record(mode, api, src.path, src.cls, "allowed", src.why + "; safehub_guard.allow()")
        return
    why = ("a pickle from there can run code when loaded; use a safetensors or numeric file, "
           "or safehub_guard.allow() for this one load if you trust it")
    if mode == "block":
        raise _report.refuse(mode, api, src.path, src.cls, src.why, why)
    if mode == "warn":
        _report.warn_once(mode, api, src.path, src.cls, "refuse", why)
    else:
        _report.record(mode, api, src.path, src.cls, "would-refuse", why)


def _wrap(module, api, pickles):
    """Replace module.load by a checking wrapper; pickles(args, kwargs) says
    whether this call may unpickle at all."""
    orig = module.__dict__.get("load")
    if orig is None or getattr(orig, _MARK, False):
        return

    def load(*args, **kwargs):
        if pickles(args, kwargs):
            _check(api, args[0] if args else kwargs.get("file", kwargs.get("filename")))
        return orig(*args, **kwargs)

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(load, attr, getattr(orig, attr))
        except (AttributeError, TypeError):
            pass
    load.__wrapped__ = orig
    setattr(load, _MARK, True)
    module.load = load


def _numpy_pickles(args, kwargs):
    # np.load(file, mmap_mode=None, allow_pickle=False, ...)
    allow = kwargs.get("allow_pickle", args[2] if len(args) > 2 else False)
    return bool(allow)


def patch(module):
    name = module.__name__
    if name == "pickle":
        _wrap(module, "pickle.load", lambda a, k: True)
    elif name == "joblib.numpy_pickle":
        _wrap(module, "joblib.load", lambda a, k: True)
    elif name in ("numpy.lib.npyio", "numpy.lib._npyio_impl"):
        _wrap(module, "numpy.load", _numpy_pickles)

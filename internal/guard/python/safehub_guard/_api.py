"""The public API: allow() and status(). Loaded on first use, not at start-up."""

import sys
import _thread  # `threading` would cost ~4 ms if it were imported only for a lock

import safehub_guard as _guard

_allow_lock = _thread.allocate_lock()
_allow = {"depth": 0, "once": 0}


class allow(object):
    """Permit deliberate loads of files the guard would restrict.

    As a context manager it opens a process-wide window (thread-pool loaders
    inside it are covered); called bare, ``safehub_guard.allow()`` lets the
    next restricted torch.load through once. It never lifts the deny-list of
    process-running pickles, and does not reach child processes (use
    SAFEHUB_GUARD_TRUSTED there). Portable code::

        try:
            from safehub_guard import allow
        except ImportError:
            from contextlib import nullcontext as allow
    """

    def __init__(self):
        # The bare-call form: grant one load now; __enter__ turns the grant
        # into a window instead.
        with _allow_lock:
            _allow["once"] += 1
        self._entered = False

    def __enter__(self):
        with _allow_lock:
            if _allow["once"] > 0:
                _allow["once"] -= 1
            _allow["depth"] += 1
        self._entered = True
        _record("allow", None, "own", "window-open", "safehub_guard.allow() entered")
        return self

    def __exit__(self, *exc):
        if self._entered:
            with _allow_lock:
                _allow["depth"] -= 1
            self._entered = False
        return False


def _take_allowance():
    """True if an allow() window is open or a one-shot grant is pending (consumed)."""
    with _allow_lock:
        if _allow["depth"] > 0:
            return True
        if _allow["once"] > 0:
            _allow["once"] -= 1
            return True
    return False


def _record(api, path, cls, decision, reason):
    try:
        from . import _report
        _report.record(_guard.mode, api, path, cls, decision, reason)
    except Exception:
        pass


def status():
    """Return (active, detail): whether the guard is in force here, and why not."""
    if not _guard._booted:
        return False, "safehub_guard imported but not started"
    if _guard.mode == "off":
        return False, "SAFEHUB_GUARD=off"
    if not any(getattr(f, _guard._MARK, False) for f in sys.meta_path):
        return False, "torch.load finder missing from sys.meta_path"
    if not _guard._hook_installed:
        return False, "pickle audit hook could not be installed"
    ser = sys.modules.get("torch.serialization")
    if ser is not None and not getattr(getattr(ser, "load", None), _guard._MARK, False):
        return False, "torch.serialization.load is not wrapped"
    return True, _guard.mode

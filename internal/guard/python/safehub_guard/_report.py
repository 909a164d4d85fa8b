"""Refusals, warnings and audit records. Loaded on the first decision, never at start-up."""

import json
import os
import pickle
import sys
import time

_HINTS = (
    "  instead: prefer safetensors (from_pretrained(..., use_safetensors=True), safetensors.torch.load_file),\n"
    "           or torch.load(..., weights_only=True) with torch.serialization.add_safe_globals([...])\n"
    "           for the extra types you trust; torch >= 2.6 (better >= 2.10) has the safer loader.\n"
    "  if you trust this file: `with safehub_guard.allow(): torch.load(...)` for one deliberate load,\n"
    "           or add its directory to SAFEHUB_GUARD_TRUSTED (colon-separated).\n"
)


class Refused(pickle.UnpicklingError, RuntimeError):
    """The guard refused a load.

    Both an UnpicklingError and a RuntimeError: code written for torch's own
    refusals catches either (torch raises UnpicklingError when its weights-only
    loader rejects a file and RuntimeError for its other policy errors), and
    callers of pickle.load expect UnpicklingError. Loaders that wrap errors
    (transformers' OSError, numpy's UnpicklingError) still see a pickle error.
    """

    def __init__(self, message, path=None, reason=None):
        super().__init__(message)
        self.path = path
        self.reason = reason


_warned = set()
# The file torch.load is reading, for deny-list messages (informational only:
# process-wide, so concurrent loads on threads may name the other file).
current_path = None


def record(mode, api, path, cls, decision, reason):
    """One audit record per decision: syslog, plus SAFEHUB_GUARD_LOG if set."""
    rec = {
        "time": round(time.time(), 3), "uid": os.geteuid() if hasattr(os, "geteuid") else None,
        "pid": os.getpid(), "executable": sys.executable, "mode": mode, "api": api,
        "path": path, "class": cls, "decision": decision, "reason": reason,
    }
    line = json.dumps(rec, sort_keys=True)
    log = os.environ.get("SAFEHUB_GUARD_LOG")
    if log:
        try:
            with open(log, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError:
            pass
    try:
        import syslog
        syslog.syslog(syslog.LOG_AUTH | syslog.LOG_WARNING, "safehub-guard " + line)
    except Exception:
        pass


def _emit(text):
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:
        pass


def refuse(mode, api, path, cls, why, detail=None):
    """Print the refusal with guidance, record it, and return the exception to raise."""
    where = path if path is not None else "<stream without a file path>"
    msg = "safehub guard: refused %s of %s\n  why: %s\n" % (api, where, why)
    if detail:
        msg += "  %s\n" % detail
    msg += _HINTS + "  this refusal was logged (syslog).\n"
    _emit(msg)
    record(mode, api, path, cls, "refused", why + ("; " + detail if detail else ""))
    return Refused("safehub guard refused %s of %s: %s" % (api, where, why), path=path, reason=why)


def warn_once(mode, api, path, cls, would, why):
    """warn mode: say what block would do, once per path and outcome."""
    key = (api, path, would)
    record(mode, api, path, cls, "would-" + would, why)
    if key in _warned:
        return
    _warned.add(key)
    _emit("safehub guard: warning: %s of %s would be %s in block mode: %s\n"
          % (api, path if path is not None else "<stream>", "refused" if would == "refuse"
             else "loaded weights-only", why))


def deny_global(mode, module, name):
    """A pickle asked for a process-running/code-evaluating global."""
    path = current_path
    why = "the pickle calls %s.%s, which runs programs or evaluates code" % (module, name)
    if mode == "audit":
        record(mode, "pickle.find_class", path, "any", "would-refuse", why)
        return
    msg = ("safehub guard: refused to unpickle %s.%s%s\n  why: pickles that run programs or evaluate "
           "code are blocked in every loader (pickle, numpy, joblib, torch, dill).\n"
           "  instead: if this is data, save it without code (safetensors, JSON, numpy arrays without\n"
           "           objects). allow() and SAFEHUB_GUARD_TRUSTED do not lift this check;\n"
           "           only SAFEHUB_GUARD=off does, for a whole run.\n"
           "  this refusal was logged (syslog).\n"
           % (module, name, " (loading %s)" % path if path else ""))
    _emit(msg)
    record(mode, "pickle.find_class", path, "any", "refused", why)
    raise Refused("safehub guard refused a pickle that calls %s.%s" % (module, name), path=path, reason=why)

"""safehub guard: a tripwire against code-running pickles (see docs/guard.md).

Runs in every Python process, started by sitecustomize (or a venv's .pth)
through _boot(default_mode): reads SAFEHUB_GUARD, puts a finder in front of
torch.serialization and adds a pickle.find_class audit hook. Never imports
torch; the torch logic (_torch), file policy (_policy), reports (_report) and
the public allow()/status() (_api) load on first use.
"""

import sys
import os  # already imported by site: costs nothing here

__all__ = ["allow", "status", "mode", "Refused"]

_MODES = ("block", "warn", "audit", "off")
_MARK = "__safehub_guard__"
# Modules whose loading we intercept. torch.serialization, not torch: torch's
# __init__ does `from .serialization import load`, so patching right after the
# submodule executes makes torch.load the wrapper from the start.
_TARGETS = frozenset(("torch.serialization",))
# The other pickle loaders get a file-origin rule too (_sinks): patched the
# same way, right after their module runs, so re-exports (joblib.load,
# numpy.load) pick up the wrapper.
_SINK_TARGETS = frozenset(("pickle", "joblib.numpy_pickle", "numpy.lib.npyio", "numpy.lib._npyio_impl"))

mode = "off"  # the mode in force; set once by _boot
_booted = False
_hook_installed = False
_busy = False  # set while patching, so the import backstop does not re-enter

# ---------------------------------------------------------------- deny-list
# Exact (module, name) pairs, as written in the pickle (Python 2 spellings
# included: names arrive before pickle's 2->3 mapping). Narrow on purpose:
# the hook sees every unpickling in the process, multiprocessing and joblib
# IPC included, and legitimate pickles use builtins.getattr,
# functools.partial, types.CodeType and dill/cloudpickle internals.
_OS_CALLS = (
    "system", "popen", "startfile", "posix_spawn", "posix_spawnp",
    "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
    "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe",
)
_DENY = frozenset(
    [(m, n) for m in ("os", "posix", "nt") for n in _OS_CALLS]
    + [(m, n) for m in ("builtins", "__builtin__") for n in ("eval", "exec", "compile", "__import__")]
    + [("subprocess", n) for n in (
        "Popen", "call", "run", "check_call", "check_output", "getoutput", "getstatusoutput")]
    + [("runpy", n) for n in ("run_path", "run_module", "_run_code", "_run_module_code")]
    + [("pty", "spawn"), ("_posixsubprocess", "fork_exec"), ("commands", "getoutput"),
       ("commands", "getstatusoutput"), ("importlib", "import_module"), ("importlib", "__import__")]
    # Private process helpers, and library functions that run source code.
    + [(m, n) for m in ("os", "posix") for n in ("_execvpe", "_spawnvef", "_fwalk")]
    + [("timeit", n) for n in ("timeit", "repeat", "Timer", "main")]
    + [(m, n) for m in ("cProfile", "profile") for n in ("run", "runctx")]
    + [("pdb", n) for n in ("run", "runeval", "runcall", "runctx")]
    + [("code", n) for n in ("interact", "InteractiveInterpreter", "InteractiveConsole")]
    # What would let a pickle switch this guard off: its own state, the
    # environment it reads, and the handles that reach any module.
    + [("sys", "modules"), ("os", "environ"), ("os", "putenv"), ("os", "unsetenv"),
       ("posix", "putenv"), ("posix", "unsetenv"), ("posix", "environ")]
    + [(m, n) for m in ("builtins", "__builtin__") for n in ("setattr", "delattr", "globals", "vars")]
    # Functions that hand out any module by name.
    + [(m, n) for m in ("importlib._bootstrap", "_frozen_importlib") for n in ("_gcd_import", "_find_and_load", "__import__")]
    + [("importlib", "reload"), ("pkgutil", "resolve_name"), ("pydoc", "locate")]
)
# Protocol 4 resolves dotted names: ("shutil", "os.system") reaches
# posix.system, ("subprocess", "builtins.exec") reaches exec. Every
# component of a dotted name is checked against the names that mean running
# code or switching the guard off -- never "run", "call" or "eval" alone as
# a last component of an ordinary class path.
_DOTTED_ANY = frozenset(_OS_CALLS + (
    "fork_exec", "getoutput", "getstatusoutput", "exec", "compile", "__import__",
    "Popen", "check_output", "check_call", "import_module", "_execvpe", "_spawnvef",
    "modules", "environ", "putenv", "setattr", "delattr", "__builtins__", "__globals__",
    "safehub_guard", "_gcd_import", "_find_and_load", "resolve_name",
))


def _denied(module, name):
    if (module, name) in _DENY:
        return True
    if type(module) is str and (module == "safehub_guard" or module.startswith("safehub_guard.")):
        return True  # the guard's own state is never pickle data
    if name == "safehub_guard":
        return True  # e.g. ("sitecustomize", "safehub_guard"): the module itself
    if type(name) is str and "." in name:
        return any(part in _DOTTED_ANY for part in name.split("."))
    return False


# ---------------------------------------------------------------- reporting
def _note(msg):
    try:
        sys.stderr.write("safehub guard: %s\n" % msg)
    except Exception:
        pass


def __getattr__(name):
    # The public API lives in submodules and loads on first use: every
    # Python process runs this module, few ever call allow().
    if name in ("allow", "status"):
        from . import _api
        return getattr(_api, name)
    if name == "Refused":
        from ._report import Refused
        return Refused
    raise AttributeError("module 'safehub_guard' has no attribute %r" % name)


# ---------------------------------------------------------------- audit hook
def _hook(event, args):
    if event == "pickle.find_class":
        if mode != "off" and _denied(args[0], args[1]):
            _deny(args[0], args[1])
    elif event == "import":
        # Backstop for finders ahead of ours (pytest's rewriter, PyInstaller,
        # editable installs): patch a loaded torch.serialization whose load
        # is not ours yet. One dict lookup per uncached import.
        if not _busy and "torch.serialization" in sys.modules:
            _patch_loaded()


def _deny(module, name):
    from . import _report
    _report.deny_global(mode, module, name)  # raises Refused unless mode is audit


# ---------------------------------------------------------------- finder
class _Loader(object):
    """Wraps the real loader of torch.serialization; patches after exec."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        real = self._loader
        # Put the real loader back first so inspect.getsource,
        # importlib.resources and pkgutil see the ordinary loader.
        module.__loader__ = real
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = real
        real.exec_module(module)
        _patch_module(module)

    def __getattr__(self, name):
        if name == "_loader":
            raise AttributeError(name)
        return getattr(self._loader, name)


class _Finder(object):
    __safehub_guard__ = True

    def find_spec(self, name, path=None, target=None):
        if name not in _TARGETS and name not in _SINK_TARGETS:
            return None
        # Ask the finders after us directly: importlib.util.find_spec would
        # come back here.
        after = False
        for finder in list(sys.meta_path):
            if finder is self:
                after = True
                continue
            find = getattr(finder, "find_spec", None) if after else None
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _Loader(spec.loader)
            return spec  # a loader without exec_module is left to the backstop
        return None

    def invalidate_caches(self):
        pass


def _patch_module(module):
    global _busy
    if _busy:
        return
    _busy = True
    try:
        if module.__name__ in _SINK_TARGETS:
            from . import _sinks
            _sinks.patch(module)
        else:
            from . import _torch
            _torch.patch(module)
    except Exception as e:  # never break an import
        _note("could not wrap %s.load (%r); the pickle audit hook stays on" % (module.__name__, e))
    finally:
        _busy = False


def _patch_loaded():
    mod = sys.modules.get("torch.serialization")
    load = getattr(mod, "load", None)
    if load is not None and not getattr(load, _MARK, False):
        _patch_module(mod)


# ---------------------------------------------------------------- start-up
def _parse_mode(value, default):
    v = (value or "").strip().lower()
    if not v:
        return default
    if v in _MODES:
        return v
    _note("unknown SAFEHUB_GUARD=%r, using block" % value)
    return "block"


def _boot(default_mode="block"):
    """Activate the guard once per process. Never raises."""
    global mode, _booted, _hook_installed
    if _booted:
        return
    _booted = True
    try:
        if default_mode not in _MODES:
            default_mode = "block"
        mode = _parse_mode(os.environ.get("SAFEHUB_GUARD"), default_mode)
        if mode == "off":
            return
        if not any(getattr(f, _MARK, False) for f in sys.meta_path):
            sys.meta_path.insert(0, _Finder())
        try:
            sys.addaudithook(_hook)
            _hook_installed = True
        except Exception as e:  # an existing hook may veto new hooks
            _note("could not add the pickle audit hook (%r)" % (e,))
        # A .pth line may have imported torch (or a pickle loader) before
        # sitecustomize ran.
        if "torch.serialization" in sys.modules:
            _patch_loaded()
        for name in _SINK_TARGETS:
            if name in sys.modules:
                _patch_module(sys.modules[name])
    except Exception as e:
        _note("start-up failed (%r); the guard is not active" % (e,))

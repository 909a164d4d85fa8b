"""Fixtures for the guard's tests: throw-away guarded interpreters and helpers.

Run through test/guard/run.sh, which builds safehub and sets:
  SAFEHUB_BIN        the safehub binary
  GUARD_TORCH_SITE   (--latest-torch) site-packages holding the newest torch;
                     the targets are then venvs without system site packages
                     that see it through a .pth path line.
Without GUARD_TORCH_SITE the targets use Debian's python3-torch 1.13 through a
copy of /usr/bin/python3 (see pyenvs.py) and venvs made from it.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import pyenvs  # noqa: E402

SOURCE_PYTHON = os.environ.get("GUARD_SOURCE_PYTHON", "/usr/bin/python3")
TORCH_SITE = os.environ.get("GUARD_TORCH_SITE")


def safehub_bin():
    b = os.environ.get("SAFEHUB_BIN")
    if not b or not os.access(b, os.X_OK):
        pytest.fail("SAFEHUB_BIN is not set to the safehub binary: run test/guard/run.sh, "
                    "or `go build -o /tmp/safehub ./cmd/safehub` and export SAFEHUB_BIN=/tmp/safehub")
    return b


def safehub(*args, check=True):
    r = subprocess.run([safehub_bin(), *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError("safehub %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


class Target(object):
    """A guarded interpreter plus a private HOME (HF_HOME=$HOME/hf) to run snippets in."""

    def __init__(self, name, python, home):
        self.name, self.python, self.home = name, python, home
        self.hf_hub = os.path.join(home, "hf", "hub")
        self.marker = os.path.join(home, "PAYLOAD_RAN")

    def env(self, **extra):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home,
            "HF_HOME": os.path.join(self.home, "hf"), "LANG": "C.UTF-8",
            "MARKER": self.marker, "PYTHONDONTWRITEBYTECODE": "1",
        }
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def run(self, code, *flags, env=None, check=True, timeout=300, script=False):
        """Run code (dedented) in the target; returns CompletedProcess with .json = last stdout line parsed.

        script=True runs it from a file (multiprocessing's spawn must re-import __main__)."""
        code = textwrap.dedent(code)
        if script:
            path = os.path.join(self.home, "snippet.py")
            with open(path, "w") as f:
                f.write(code)
            argv = [self.python, *flags, path]
        else:
            argv = [self.python, *flags, "-c", code]
        r = subprocess.run(argv, capture_output=True,
                           text=True, env=self.env(**(env or {})), cwd=self.home, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("snippet failed (%d) in %s:\nstdout:\n%s\nstderr:\n%s"
                                 % (r.returncode, self.name, r.stdout, r.stderr))
        r.json = None
        lines = r.stdout.strip().splitlines()
        if lines:
            try:
                r.json = json.loads(lines[-1])
            except ValueError:
                pass
        return r

    def payload_ran(self):
        return os.path.exists(self.marker)


FIXTURES = os.path.join(os.path.dirname(__file__), "make_fixtures.py")


def _prepare(target):
    os.makedirs(target.home, exist_ok=True)
    r = subprocess.run([target.python, FIXTURES], capture_output=True, text=True,
                       env=target.env(SAFEHUB_GUARD="off"), cwd=target.home)
    if r.returncode != 0:
        raise AssertionError("make_fixtures failed in %s:\n%s%s" % (target.name, r.stdout, r.stderr))
    assert not target.payload_ran(), "building fixtures must not run a payload"
    info = json.loads(r.stdout.strip().splitlines()[-1])
    target.torch_version = tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in info["torch"].split(".")[:2])
    with open(os.path.join(target.home, "fixtures.json")) as f:
        target.files = json.load(f)
    return target


@pytest.fixture(scope="session")
def guarded_base(tmp_path_factory):
    """A copy of the source interpreter with the guard installed in its stdlib sitecustomize."""
    root = tmp_path_factory.mktemp("base")
    py = pyenvs.make_base_copy(str(root / "py"), SOURCE_PYTHON)
    safehub("guard", "install", "--python", py)
    return py


def _target_kinds():
    if TORCH_SITE:
        return ["venv-inherit", "venv-own"]
    return ["base", "venv-inherit", "venv-own"]


@pytest.fixture(scope="session", params=_target_kinds())
def target(request, guarded_base, tmp_path_factory):
    """Each way the guard reaches an interpreter, with fixtures built in a private HOME."""
    kind = request.param
    root = tmp_path_factory.mktemp(kind)
    if kind == "base":
        py = guarded_base
    elif kind == "venv-inherit":
        # Made after the install, from the guarded base: must inherit it.
        py = pyenvs.make_venv(guarded_base, str(root / "venv"), system_site=not TORCH_SITE, extra_site=TORCH_SITE)
    else:
        # From the unguarded source interpreter, guard installed into the venv only.
        py = pyenvs.make_venv(SOURCE_PYTHON, str(root / "venv"), system_site=not TORCH_SITE, extra_site=TORCH_SITE)
        safehub("guard", "install", "--python", py)
    return _prepare(Target(kind, py, str(root / "home")))


@pytest.fixture(autouse=True)
def _no_marker(request):
    """Every test starts with no payload marker."""
    t = request.node.funcargs.get("target") if hasattr(request.node, "funcargs") else None
    if t is not None and os.path.exists(t.marker):
        os.remove(t.marker)
    yield

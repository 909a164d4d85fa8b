"""safehub guard install / uninstall / status against throw-away interpreters."""

import os
import subprocess

import pyenvs
from conftest import SOURCE_PYTHON, safehub

CHECK = ("import sys, json; g = sys.modules.get('safehub_guard'); "
         "print(json.dumps({'guard': bool(g and g.status()[0]), 'mode': g and g.mode, "
         "'site': getattr(sys, '_site_sc_ran', False), 'debian': getattr(sys, '_debian_sc_ran', False)}))")


def check(python, *flags, env=None):
    e = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1"}
    e.update(env or {})
    r = subprocess.run([python, *flags, "-c", CHECK], capture_output=True, text=True, env=e, check=True)
    import json
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


def warm(python):
    """Run once so that the interpreter's own caches exist before the 'before' listing."""
    subprocess.run([python, "-c", "pass"], check=True)


def test_debian_style_install_chains_existing_sitecustomize_and_uninstall_leaves_no_trace(tmp_path):
    root = str(tmp_path / "py")
    py = pyenvs.make_base_copy(root, SOURCE_PYTHON)
    etc_sc = os.path.join(root, "etc", os.listdir(os.path.join(root, "etc"))[0], "sitecustomize.py")
    with open(etc_sc, "a") as f:  # stands for apport's hook: must keep running
        f.write("import sys; sys._debian_sc_ran = True\n")
    warm(py)
    before = pyenvs.listing(root)
    assert check(py)[0] == {"guard": False, "mode": None, "site": False, "debian": True}

    safehub("guard", "install", "--python", py)
    first = pyenvs.listing(root)
    state, err = check(py)
    assert state == {"guard": True, "mode": "block", "site": False, "debian": True} and err == ""
    with open(etc_sc) as f:
        text = f.read()
    assert text.count("# >>> safehub guard >>>") == 1 and "_debian_sc_ran" in text
    assert os.path.islink(os.path.join(root, "lib", os.path.basename(os.path.dirname(etc_sc)), "sitecustomize.py"))
    # Byte-compiled: the guard package and the sitecustomize, all levels.
    pkg = os.path.join(root, "lib", "safehub-guard")
    pycs = [p for p in first if p.endswith(".pyc") and (p.startswith("lib/safehub-guard") or "sitecustomize" in p)]
    assert len([p for p in pycs if "sitecustomize" in p]) == 3 and len(pycs) >= 12, pycs
    assert os.path.isdir(pkg)

    # Idempotent: a second install changes nothing.
    safehub("guard", "install", "--python", py)
    assert pyenvs.listing(root) == first

    # A venv made afterwards inherits the guard; -I too.
    venv = pyenvs.make_venv(py, str(tmp_path / "venv"), system_site=False)
    assert check(venv)[0]["guard"] and check(venv, "-I")[0]["guard"]

    # --mode changes the default; SAFEHUB_GUARD still wins.
    safehub("guard", "install", "--python", py, "--mode", "warn")
    assert check(py)[0]["mode"] == "warn"
    assert check(py, env={"SAFEHUB_GUARD": "block"})[0]["mode"] == "block"

    safehub("guard", "uninstall", "--python", py)
    assert pyenvs.listing(root) == before
    assert check(py)[0] == {"guard": False, "mode": None, "site": False, "debian": True}
    r = safehub("guard", "status", "--python", py, check=False)
    assert r.returncode == 1 and r.stdout.startswith("not active") and "not installed" in r.stdout
    # Uninstalling again is a no-op, not an error.
    r = safehub("guard", "uninstall", "--python", py)
    assert "nothing to do" in r.stdout


def test_no_stdlib_sitecustomize_creates_one_that_chains_the_site_one(tmp_path):
    root = str(tmp_path / "py")
    py = pyenvs.make_base_copy(root, SOURCE_PYTHON, sitecustomize="none",
                               site_sitecustomize="import sys; sys._site_sc_ran = True\n")
    warm(py)
    before = pyenvs.listing(root)
    assert check(py)[0]["site"] is True
    safehub("guard", "install", "--python", py, "--mode", "audit")
    state, err = check(py)
    assert state == {"guard": True, "mode": "audit", "site": True, "debian": False}, err
    assert err == ""
    r = safehub("guard", "status", "--python", py)
    assert r.stdout.startswith("active (mode audit)") and "new venv" in r.stdout
    safehub("guard", "uninstall", "--python", py)
    assert pyenvs.listing(root) == before


def test_venv_install_reaches_that_venv_only(tmp_path):
    venv = pyenvs.make_venv(SOURCE_PYTHON, str(tmp_path / "venv"), system_site=True)
    other = pyenvs.make_venv(SOURCE_PYTHON, str(tmp_path / "other"), system_site=True)
    before = pyenvs.listing(str(tmp_path / "venv"))
    safehub("guard", "install", "--python", venv)
    assert check(venv)[0]["guard"] and check(venv, "-I")[0]["guard"]
    assert not check(other)[0]["guard"]
    assert not check(SOURCE_PYTHON)[0]["guard"]
    r = safehub("guard", "status", "--python", venv)
    assert r.stdout.startswith("active") and "new venv" not in r.stdout
    safehub("guard", "uninstall", "--python", venv)
    assert pyenvs.listing(str(tmp_path / "venv")) == before
    assert not check(venv)[0]["guard"]


def test_lost_block_is_reported_by_status_and_fixed_by_install(tmp_path):
    root = str(tmp_path / "py")
    py = pyenvs.make_base_copy(root, SOURCE_PYTHON)
    etc_sc = os.path.join(root, "etc", os.listdir(os.path.join(root, "etc"))[0], "sitecustomize.py")
    safehub("guard", "install", "--python", py)
    # A Python package upgrade replaces the conffile with a new version.
    os.remove(etc_sc)
    with open(etc_sc, "w") as f:
        f.write("# new packaged version\n")
    r = safehub("guard", "status", "--python", py, check=False)
    assert r.returncode == 1 and "block is missing" in r.stdout
    safehub("guard", "install", "--python", py)
    assert check(py)[0]["guard"]
    safehub("guard", "uninstall", "--python", py)
    with open(etc_sc) as f:
        assert f.read() == "# new packaged version\n"


def test_bad_mode_and_bad_python_fail_clearly(tmp_path):
    r = safehub("guard", "install", "--python", "/nonexistent/python3", check=False)
    assert r.returncode == 2 and "nonexistent" in r.stderr
    root = str(tmp_path / "py")
    py = pyenvs.make_base_copy(root, SOURCE_PYTHON)
    r = safehub("guard", "install", "--python", py, "--mode", "off", check=False)
    assert r.returncode == 2 and "mode" in r.stderr


def test_guard_starts_even_if_the_existing_sitecustomize_fails(tmp_path):
    root = str(tmp_path / "py")
    py = pyenvs.make_base_copy(root, SOURCE_PYTHON)
    etc_sc = os.path.join(root, "etc", os.listdir(os.path.join(root, "etc"))[0], "sitecustomize.py")
    with open(etc_sc, "a") as f:  # e.g. apport's hook raising something other than ImportError
        f.write("raise RuntimeError('broken hook')\n")
    safehub("guard", "install", "--python", py)
    state, err = check(py)
    assert state["guard"] and "Error in sitecustomize" in err

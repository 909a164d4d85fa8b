"""Throw-away Python interpreters for the guard's tests and benchmark.

The guard installs into a base interpreter's stdlib directory, which we must
never change on the real /usr/bin/python3. So tests use a *copy* of it: the
binary copied into <dest>/bin, and <dest>/lib/python3.X made of symlinks to
the real stdlib entries, except sitecustomize.py and __pycache__, which are
real copies we may change. CPython finds its prefix from the binary's
location (the lib/python3.X/os.py landmark), so the copy is a genuine base
interpreter with its own stdlib dir: venvs made from it point back to it, and
Debian's site.py finds dist-packages (torch 1.13) through <dest>/lib/python3.
Debian's layout is kept too: the stdlib sitecustomize.py is a symlink to
<dest>/etc/python3.X/sitecustomize.py.
"""

import json
import os
import shutil
import subprocess
import sys


def describe(python):
    code = ("import sys, os, json; print(json.dumps(dict(exe=os.path.realpath(sys.executable), "
            "ver='%d.%d' % sys.version_info[:2], prefix=sys.base_prefix, "
            "stdlib=os.path.dirname(os.__file__))))")
    out = subprocess.run([python, "-I", "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def make_base_copy(dest, source="/usr/bin/python3", sitecustomize="debian", site_sitecustomize=None):
    """Build a copy of `source` at dest; returns dest/bin/python3.

    sitecustomize: "debian" -> stdlib sitecustomize.py is a symlink to a copy of
    the source's file in dest/etc/python3.X/; "none" -> no stdlib sitecustomize.
    site_sitecustomize: text of a sitecustomize.py placed in a site dir
    (dest/local/lib/python3.X/dist-packages), which a stdlib one shadows.
    """
    info = describe(source)
    ver, stdlib = info["ver"], info["stdlib"]
    os.makedirs(os.path.join(dest, "bin"))
    lib = os.path.join(dest, "lib", "python" + ver)
    os.makedirs(lib)
    exe = os.path.join(dest, "bin", "python" + ver)
    shutil.copy2(info["exe"], exe)
    os.symlink("python" + ver, os.path.join(dest, "bin", "python3"))
    for name in os.listdir(stdlib):
        if name in ("sitecustomize.py", "__pycache__"):
            continue
        os.symlink(os.path.join(stdlib, name), os.path.join(lib, name))
    # Real byte-code copies: Python would otherwise write new .pyc files here
    # and the before/after listings of the uninstall test would differ.
    if os.path.isdir(os.path.join(stdlib, "__pycache__")):
        shutil.copytree(os.path.join(stdlib, "__pycache__"), os.path.join(lib, "__pycache__"))
    else:
        os.makedirs(os.path.join(lib, "__pycache__"))
    debian_dist = os.path.join(info["prefix"], "lib", "python3", "dist-packages")
    if os.path.isdir(debian_dist):
        os.makedirs(os.path.join(dest, "lib", "python3"))
        os.symlink(debian_dist, os.path.join(dest, "lib", "python3", "dist-packages"))
    src_sc = os.path.join(stdlib, "sitecustomize.py")
    if sitecustomize == "debian":
        etc = os.path.join(dest, "etc", "python" + ver)
        os.makedirs(etc)
        if os.path.exists(src_sc):
            shutil.copy2(src_sc, os.path.join(etc, "sitecustomize.py"))
        else:
            with open(os.path.join(etc, "sitecustomize.py"), "w") as f:
                f.write("# stands in for Debian's sitecustomize\n")
        os.symlink(os.path.join(etc, "sitecustomize.py"), os.path.join(lib, "sitecustomize.py"))
        pyc = os.path.join(lib, "__pycache__", "sitecustomize.cpython-%s.pyc" % ver.replace(".", ""))
        if not os.path.exists(pyc):
            # Match Debian, which ships one: the uninstall must restore it.
            subprocess.run([exe, "-c", "import sitecustomize"], check=True)
    else:
        stale = os.path.join(lib, "__pycache__")
        for name in os.listdir(stale):
            if name.startswith("sitecustomize."):
                os.remove(os.path.join(stale, name))
    if site_sitecustomize is not None:
        site = os.path.join(dest, "local", "lib", "python" + ver, "dist-packages")
        os.makedirs(site)
        with open(os.path.join(site, "sitecustomize.py"), "w") as f:
            f.write(site_sitecustomize)
    return os.path.join(dest, "bin", "python3")


def make_venv(python, dest, system_site=True, extra_site=None):
    """python -m venv (without pip); extra_site: a site-packages to add through a .pth path line."""
    cmd = [python, "-m", "venv", "--without-pip"]
    if system_site:
        cmd.append("--system-site-packages")
    subprocess.run(cmd + [dest], check=True)
    vpy = os.path.join(dest, "bin", "python")
    if extra_site:
        sp = subprocess.run([vpy, "-I", "-c", "import site; print(site.getsitepackages()[0])"],
                            check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(sp, "zz-extra-site.pth"), "w") as f:
            f.write(extra_site + "\n")
    return vpy


def listing(root):
    """{relative path: (kind, mode, sha-or-target)} of a tree, symlinks not followed."""
    import hashlib
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", 0, os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", st.st_mode, "")
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", st.st_mode, hashlib.sha256(f.read()).hexdigest(), st.st_mtime_ns)
    return out


if __name__ == "__main__":
    print(make_base_copy(sys.argv[1]))

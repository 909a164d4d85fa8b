"""How much does the guard add to Python start-up? (a benchmark, not a test)

Builds two copies of the source interpreter (test/guard/pyenvs.py: the binary
copied, the stdlib symlinked, Debian's sitecustomize layout kept), installs the
guard into one with `safehub guard install`, then runs `python -c pass` in
both, interleaved (alternating which goes first), and prints the medians and
the difference. Target: under 1 ms.

  python3 bench/guard/startup.py [--runs 200] [--python /usr/bin/python3] [--safehub BIN]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "test", "guard"))
import pyenvs  # noqa: E402


def timed(argv, env):
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True)
    return (time.perf_counter() - t0) * 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--safehub", default=os.environ.get("SAFEHUB_BIN"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="safehub-guard-bench-")
    try:
        safehub = args.safehub
        if not safehub:
            safehub = os.path.join(work, "safehub")
            subprocess.run(["go", "build", "-o", safehub, "./cmd/safehub"], cwd=REPO, check=True)
        plain = pyenvs.make_base_copy(os.path.join(work, "plain"), args.python)
        guarded = pyenvs.make_base_copy(os.path.join(work, "guarded"), args.python)
        subprocess.run([safehub, "guard", "install", "--python", guarded], check=True, stdout=subprocess.DEVNULL)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": work}
        check = "import sys; assert ('safehub_guard' in sys.modules) == %s"
        subprocess.run([plain, "-c", check % False], env=env, check=True)
        subprocess.run([guarded, "-c", check % True], env=env, check=True)

        for _ in range(10):  # warm the page cache
            timed([plain, "-c", "pass"], env)
            timed([guarded, "-c", "pass"], env)
        a, b = [], []
        for i in range(args.runs):
            if i % 2:
                a.append(timed([plain, "-c", "pass"], env))
                b.append(timed([guarded, "-c", "pass"], env))
            else:
                b.append(timed([guarded, "-c", "pass"], env))
                a.append(timed([plain, "-c", "pass"], env))
        ma, mb = statistics.median(a), statistics.median(b)
        print("python -c pass, %d interleaved runs each (%s)" % (args.runs, args.python))
        print("  without guard: median %.2f ms" % ma)
        print("  with guard:    median %.2f ms" % mb)
        print("  added:         %.2f ms (target < 1 ms)" % (mb - ma))

        # Where the time goes: sitecustomize (which loads the guard) in -X importtime,
        # as "self us | cumulative us".
        for label, py in (("without", plain), ("with", guarded)):
            r = subprocess.run([py, "-X", "importtime", "-c", "pass"], env=env, capture_output=True, text=True)
            for line in r.stderr.splitlines():
                if line.rstrip().endswith(" sitecustomize"):
                    print("  importtime sitecustomize %-7s %s" % (label + ":", line.split(":", 1)[1].strip()))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

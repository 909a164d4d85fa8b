#!/usr/bin/python3
"""Generate safehub's scanner test corpus.

    /usr/bin/python3 test/corpus/gen.py OUTDIR
    /usr/bin/python3 test/corpus/gen.py --big-zip PATH GIB   (sparse multi-GB torch zip)

Needs Debian's python3 with torch, numpy, joblib and h5py
(apt-get install python3-torch python3-numpy python3-joblib python3-h5py).
Writes OUTDIR/manifest.json: one entry per file with the verdict the scanner
must give (see registry.py). Malicious files are built as bytes or with
pickle.dumps of __reduce__ objects and are never loaded."""

import os
import shutil
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
# Written first into OUTDIR, so a later run may replace the directory even
# if this one stopped half-way.
MARKER = ".safehub-corpus"
sys.path.insert(0, HERE)


def _need_libs():
    missing = []
    for mod, pkg in (("torch", "python3-torch"), ("numpy", "python3-numpy"),
                     ("joblib", "python3-joblib"), ("h5py", "python3-h5py")):
        try:
            __import__(mod)
        except ImportError:
            missing.append(pkg)
    if missing:
        sys.exit("gen.py: %s lacks %s; run with /usr/bin/python3 after: apt-get install %s"
                 % (sys.executable, ", ".join(missing), " ".join(missing)))


def big_zip(path, gib):
    """A torch-layout zip holding one float32 tensor of gib GiB, stored as a
    sparse hole: the scanner must read only the directory and data.pkl."""
    import containers as C
    import gen_container_attacks as G
    numel = (gib << 30) // 4
    rows = numel // 1024
    pkl = G._tensor_pkl((rows, 1024), (1024, 1), numel=rows * 1024)
    C.write_sparse_zip64(path, ("archive/data.pkl", pkl), "archive/data/0", rows * 1024 * 4,
                         [("archive/version", b"3\n"), ("archive/byteorder", b"little")])


def main(argv):
    if len(argv) == 4 and argv[1] == "--big-zip":
        big_zip(argv[2], int(argv[3]))
        return
    if len(argv) != 2:
        sys.exit(__doc__)
    _need_libs()
    # torch and numpy warn about things the corpus does on purpose.
    warnings.filterwarnings("ignore")
    import gen_benign
    import gen_container_attacks
    import gen_pickle_attacks
    from registry import Corpus

    out = os.path.abspath(argv[1])
    if os.path.exists(out):
        # Regenerate from scratch, but only over a previous corpus: a typo
        # in OUTDIR must not delete someone's directory.
        known = any(os.path.exists(os.path.join(out, f)) for f in (MARKER, "manifest.json"))
        if os.listdir(out) and not known:
            sys.exit("gen.py: %s exists and is not a corpus (no %s); "
                     "choose an empty or new directory" % (out, MARKER))
        shutil.rmtree(out)
    os.makedirs(out)
    open(os.path.join(out, MARKER), "w").close()
    c = Corpus(out)
    t0 = time.time()
    gen_benign.build(c)
    gen_pickle_attacks.build(c)
    gen_container_attacks.build(c)
    c.write_manifest()
    classes = sorted({e["class"] for e in c.entries if isinstance(e["class"], int)})
    missing = [n for n in range(1, 41) if n not in classes]
    print("gen.py: %d files (%d benign) in %s, %.1fs; classes covered: %d/40%s" % (
        len(c.entries), sum(e["class"] == "benign" for e in c.entries), out, time.time() - t0,
        len(classes), ("; missing " + ",".join(map(str, missing))) if missing else ""))


if __name__ == "__main__":
    main(sys.argv)

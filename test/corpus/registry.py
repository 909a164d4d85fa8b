"""The manifest: every generator records each file it writes here, with the
verdict the scanner must give. Keeping the expectation next to the code that
builds the file makes a wrong expectation easy to spot in review."""

import json
import os
import zipfile

VERDICTS = ("safe", "unsafe", "unknown")


class Corpus:
    def __init__(self, outdir):
        self.outdir = outdir
        self.entries = []
        self._names = set()

    def path(self, rel):
        if rel in self._names:
            raise ValueError("duplicate corpus file " + rel)
        p = os.path.join(self.outdir, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def path_of(self, rel):
        """Path of a file already written (no duplicate check)."""
        return os.path.join(self.outdir, rel)

    path_of_new = path

    def add(self, rel, expect, cls, note, profile="", pickle_bytes=None, data=None,
            callable=""):
        """Record rel (written already, or now from data). expect is a verdict
        or a list of acceptable verdicts; cls a bypass class number or
        "benign"; pickle_bytes the bytes of pickle data the file holds (for
        throughput numbers; computed for zips and bare pickles if None);
        callable a dotted name (or its tail) that some unsafe finding must
        name, proving the scanner reached the payload itself rather than
        only an anomaly around it."""
        p = self.path(rel)
        if data is not None:
            with open(p, "wb") as f:
                f.write(data)
        if not os.path.exists(p):
            raise FileNotFoundError(p)
        exp = expect if isinstance(expect, list) else [expect]
        for v in exp:
            if v not in VERDICTS:
                raise ValueError("bad verdict %r for %s" % (v, rel))
        if cls != "benign" and "safe" in exp:
            raise ValueError("malicious file %s may not be expected safe" % rel)
        if pickle_bytes is None:
            pickle_bytes = guess_pickle_bytes(p)
        self._names.add(rel)
        self.entries.append({
            "file": rel,
            "expect": expect,
            "class": cls,
            "profile": profile,
            "pickle_bytes": pickle_bytes,
            "size": os.path.getsize(p),
            "note": note,
            "callable": callable,
        })

    def write_manifest(self):
        with open(os.path.join(self.outdir, "manifest.json"), "w") as f:
            json.dump({"version": 1, "entries": self.entries}, f, indent=1)


def guess_pickle_bytes(path):
    """Pickle bytes for throughput: for a zip, the sizes of its .pkl members;
    for a file that starts with a PROTO opcode, the whole file; else 0."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as z:
                return sum(i.file_size for i in z.infolist() if i.filename.endswith(".pkl"))
        except zipfile.BadZipFile:
            return 0
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:
        return os.path.getsize(path)
    return 0

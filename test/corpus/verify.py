#!/usr/bin/python3
"""Check the corpus against the real libraries, so that its expectations are
about files that real loaders accept:

- every benign file expected "safe" opens with its real loader (torch.load
  with weights_only where torch 1.13 can, np.load with allow_pickle=False,
  joblib.load, h5py, zipfile + json);
- every malicious torch zip still opens in torch's own zip reader (miniz via
  torch._C.PyTorchFileReader), reading records only, so the container trick
  is one torch really accepts; the ones torch 1.13 refuses are listed.

Only benign files that this corpus generated are ever unpickled.

    /usr/bin/python3 test/corpus/verify.py OUTDIR"""

import json
import os
import pickle
import sys
import warnings
import zipfile

warnings.filterwarnings("ignore")


def load_benign(path, profile):
    import h5py
    import joblib
    import numpy as np
    import torch
    ext = os.path.splitext(path)[1]
    if ext in (".pt", ".pth", ".bin", ".ckpt"):
        if profile == "torch-numpy":
            # HF Trainer's rng_state.pth: numpy globals, which is why the
            # torch-numpy profile exists; weights_only refuses it by design.
            torch.load(path, weights_only=False)
            return "torch.load(weights_only=False), as HF Trainer loads it"
        try:
            torch.load(path, weights_only=True)
            return "torch.load(weights_only=True)"
        except Exception as ex:
            # torch 1.13's weights_only unpickler lacks BINFLOAT and a few
            # opcodes newer torch accepts; the file is ours and benign.
            if "Unsupported operand" not in str(ex):
                raise
            torch.load(path)
            return "torch.load (1.13 weights_only lacks an opcode: %s)" % str(ex).split(":")[-1].strip()
    if ext == ".npy":
        np.load(path, allow_pickle=False)
        return "np.load"
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as d:
            for k in d.files:
                d[k]
        return "np.load(npz)"
    if ext == ".joblib":
        joblib.load(path)
        return "joblib.load"
    if ext == ".pkl":
        with open(path, "rb") as f:
            pickle.load(f)
        return "pickle.load"
    if ext == ".h5":
        with h5py.File(path, "r") as f:
            json.loads(f.attrs["model_config"])
        return "h5py"
    if ext == ".keras":
        with zipfile.ZipFile(path) as z:
            json.loads(z.read("config.json"))
        return "zipfile"
    if ext in (".json",):
        with open(path) as f:
            json.load(f)
        return "json"
    return None


def main(out):
    import torch
    entries = json.load(open(os.path.join(out, "manifest.json")))["entries"]
    failures = 0
    for e in entries:
        p = os.path.join(out, e["file"])
        if e["class"] == "benign" and e["expect"] == "safe":
            try:
                how = load_benign(p, e["profile"])
                print("ok    %-40s %s" % (e["file"], how or "(no Python loader checked)"))
            except Exception as ex:
                failures += 1
                print("FAIL  %-40s %s: %s" % (e["file"], type(ex).__name__, str(ex)[:120]))
        elif e["class"] != "benign" and e["file"].startswith(("zip/", "torchscript/", "bounds/")):
            with open(p, "rb") as f:
                if f.read(4) != b"PK\x03\x04":
                    continue
            try:
                r = torch._C.PyTorchFileReader(p)
                recs = r.get_all_records()
                main = "constants.pkl" if "constants.pkl" in recs else "data.pkl"
                n = len(r.get_record(main))
                print("miniz %-40s reads %s (%d bytes); records %s" % (
                    e["file"], main, n, ",".join(sorted(recs))[:60]))
            except Exception as ex:
                print("miniz %-40s refused by torch 1.13: %s" % (e["file"],
                                                                str(ex).splitlines()[0][:90]))
    if failures:
        sys.exit("verify.py: %d benign files failed to load with their real loaders" % failures)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

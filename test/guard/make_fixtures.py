"""Build the guard tests' files in the current directory (a private HOME).

Run with SAFEHUB_GUARD=off in the interpreter under test (so files use its
torch). Malicious files are made by pickling objects whose __reduce__ names a
callable; nothing here ever unpickles them. Every payload only creates the
file named by $MARKER:
  plain  -> io.open(MARKER, "w"): not deny-listed, so only the path policy stops it
  deny   -> builtins.exec("open(MARKER, 'w').close()"): deny-listed everywhere
  system -> os.system("touch MARKER"): deny-listed (numpy/joblib/pickle cases)
"""

import argparse
import hashlib
import io
import json
import os
import pickle
import random
import shlex

import numpy as np
import torch

MARKER = os.environ["MARKER"]
HOME = os.getcwd()
HUB = os.path.join(os.environ["HF_HOME"], "hub")


class Plain(object):
    def __reduce__(self):
        return (io.open, (MARKER, "w"))


class Deny(object):
    def __reduce__(self):
        return (exec, ("open(%r, 'w').close()" % MARKER,))


class System(object):
    def __reduce__(self):
        return (os.system, ("touch " + shlex.quote(MARKER),))


def own_checkpoint():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)
    sched.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(), "py_rng": random.getstate(), "epoch": 3}


def hf_file(repo, name, save):
    """Write a file the way huggingface_hub lays out its cache: a snapshot symlink into blobs/."""
    base = os.path.join(HUB, "models--" + repo.replace("/", "--"))
    tmp = os.path.join(base, "blobs", "incoming")
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    save(tmp)
    with open(tmp, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    blob = os.path.join(base, "blobs", digest)
    os.replace(tmp, blob)
    snap = os.path.join(base, "snapshots", "0123456789abcdef", name)
    os.makedirs(os.path.dirname(snap), exist_ok=True)
    os.symlink(os.path.relpath(blob, os.path.dirname(snap)), snap)
    return snap


def main():
    os.makedirs("own", exist_ok=True)
    paths = {}
    paths["own_ckpt"] = "own/ckpt.pt"
    torch.save(own_checkpoint(), paths["own_ckpt"])
    paths["own_np"] = "own/np_rng.pt"
    torch.save({"np_rng": np.random.get_state(), "args": argparse.Namespace(lr=0.1, name="run")}, paths["own_np"])
    paths["own_deny"] = "own/deny.pt"
    torch.save({"x": Deny()}, paths["own_deny"])

    sd = torch.nn.Linear(4, 2).state_dict()
    paths["hf_benign"] = hf_file("org/benign", "pytorch_model.bin", lambda p: torch.save(sd, p))
    paths["hf_plain"] = hf_file("org/evil", "pytorch_model.bin", lambda p: torch.save({"w": Plain()}, p))
    paths["hf_np"] = hf_file("org/rng", "rng_state.pth", lambda p: torch.save({"np_rng": np.random.get_state()}, p))
    paths["hf_args"] = hf_file("org/args", "training_args.bin",
                               lambda p: torch.save({"args": argparse.Namespace(lr=0.1)}, p))

    class Scripted(torch.nn.Module):
        def forward(self, x):
            return x * 2

    paths["hf_script"] = hf_file("org/script", "model.pt", lambda p: torch.jit.save(torch.jit.script(Scripted()), p))

    # The HF layout outside HF_HOME (hf_hub_download(cache_dir=...)).
    other = os.path.join(HOME, "elsewhere", "models--o--m", "snapshots", "r", "x.bin")
    os.makedirs(os.path.dirname(other))
    torch.save({"w": Plain()}, other)
    paths["layout_plain"] = other

    # A colleague's file on shared scratch (the tests run as root and chown it).
    os.makedirs("shared", exist_ok=True)
    paths["other_uid"] = os.path.abspath("shared/ns.pt")
    torch.save({"args": argparse.Namespace(lr=0.1), "w": torch.ones(2)}, paths["other_uid"])
    if os.geteuid() == 0:
        os.chown(paths["other_uid"], 12345, 12345)

    os.makedirs("pickles", exist_ok=True)
    for name, obj, proto in (("deny.pkl", Deny(), 2), ("system.pkl", System(), 2), ("plain.pkl", Plain(), 2)):
        with open(os.path.join("pickles", name), "wb") as f:
            pickle.dump({"x": obj}, f, protocol=proto)
    # Protocol 4 dotted name: ("shutil", "os.system") reaches posix.system.
    cmd = ("touch " + shlex.quote(MARKER)).encode()
    dotted = (b"\x80\x04" + b"\x8c\x06shutil" + b"\x8c\x09os.system" + b"\x93"
              + b"\x8c" + bytes([len(cmd)]) + cmd + b"\x85R.")
    assert len(cmd) < 256
    with open("pickles/dotted.pkl", "wb") as f:
        f.write(dotted)
    arr = np.empty(1, dtype=object)
    arr[0] = System()
    np.save("pickles/objarray.npy", arr, allow_pickle=True)
    import joblib
    joblib.dump({"x": System()}, "pickles/payload.joblib")
    joblib.dump({"own": [1, 2, 3], "arr": np.arange(5)}, "pickles/own.joblib")

    paths = {k: os.path.abspath(v) for k, v in paths.items()}
    with open("fixtures.json", "w") as f:
        json.dump(paths, f, indent=1)
    assert not os.path.exists(MARKER)
    print(json.dumps({"ok": True, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

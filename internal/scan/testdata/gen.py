"""Regenerate the benign fixtures of internal/scan's tests.

Run with Debian's interpreter, which has torch 1.13, numpy, joblib and h5py:
    cd internal/scan/testdata && /usr/bin/python3 gen.py
(the lz4 fixtures also need the lz4 tool: apt-get install lz4)
Nothing here is ever unpickled; malicious inputs are built in the Go tests.
"""
import collections
import io
import json
import os
import pickle
import struct
import subprocess
import tarfile

import h5py
import joblib
import numpy as np
import torch

torch.manual_seed(0)
state = collections.OrderedDict(
    weight=torch.arange(12, dtype=torch.float32).reshape(3, 4),
    bias=torch.zeros(3, dtype=torch.float16),
    steps=torch.tensor([1, 2], dtype=torch.int64),
)
torch.save(state, "torch_zip.pt")
torch.save(state, "torch_legacy.pt", _use_new_zipfile_serialization=False)

np.save("numeric.npy", np.arange(6, dtype="<f4").reshape(2, 3))
np.save("object.npy", np.array([1, "two", None], dtype=object), allow_pickle=True)
np.savez("arrays.npz", a=np.arange(3), b=np.ones((2, 2)))
np.savez_compressed("arrays_compressed.npz", a=np.arange(3))

obj = {"weights": np.arange(4, dtype=np.float64), "name": "model"}
joblib.dump(obj, "plain.joblib")
for comp in ("zlib", "gzip", "bz2", "xz", "lzma"):
    joblib.dump(obj, f"compressed.joblib.{comp}", compress=(comp, 3))
# Debian's Python has no lz4 module, so joblib cannot write lz4 here; the
# reference lz4 tool writes the same frame format. The second file has 64 KiB
# linked blocks (matches across blocks), block checksums and a content size.
subprocess.run(["lz4", "-q", "-9", "-f", "plain.joblib", "compressed.joblib.lz4"], check=True)
joblib.dump({"ids": np.arange(60000, dtype=np.int32) % 251, "name": "linked"}, "linked.joblib")
subprocess.run(["lz4", "-q", "-9", "-f", "-B4", "-BD", "-BX", "--content-size", "linked.joblib", "linked.joblib.lz4"], check=True)
os.remove("linked.joblib")


def legacy_tar(path):
    """A torch <= 0.1.10 checkpoint laid out as torch.serialization.legacy_load reads it."""
    def member(tar, name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    storages = io.BytesIO()
    pickle.dump(1, storages, protocol=2)
    pickle.dump(("0", "cpu", torch.FloatStorage), storages, protocol=2)
    storages.write(struct.pack("<q", 3))
    storages.write(struct.pack("<3f", 1.0, 2.0, 3.0))
    pickle.dump([], storages, protocol=2)  # storage_views
    tensors = io.BytesIO()
    pickle.dump(1, tensors, protocol=2)
    pickle.dump(("t0", "0", torch.FloatTensor), tensors, protocol=2)
    tensors.write(struct.pack("<ii", 1, 0) + struct.pack("<q", 3) + struct.pack("<q", 1) + struct.pack("<q", 0))
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        member(tar, "sys_info", pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2))
        member(tar, "pickle", pickle.dumps({"epoch": 3}, protocol=2))
        member(tar, "storages", storages.getvalue())
        member(tar, "tensors", tensors.getvalue())


legacy_tar("torch_legacy.tar")

config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
    {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
with h5py.File("keras_plain.h5", "w") as f:
    f.attrs["model_config"] = json.dumps(config).encode("utf8")
    f.create_dataset("w", data=np.zeros(4))
lam = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {
    "name": "l", "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMEAAAAfABTACkBTqkAKQHaAXhyAQAAAHIBAAAA", None, None],
    "function_type": "lambda"}}]}}
with h5py.File("keras_lambda.h5", "w") as f:
    f.attrs["model_config"] = json.dumps(lam).encode("utf8")


class Tiny(torch.nn.Module):
    def forward(self, x):
        return x * 2


torch.jit.save(torch.jit.script(Tiny()), "torchscript.pt")
# What the HF Trainer saves as rng_state.pth: numpy's RNG state needs numpy globals.
np.random.seed(0)
torch.save({"python": 1, "numpy": np.random.get_state(), "cpu": torch.zeros(2)}, "rng_state.pth")

# Superblock v3 and version-2 object headers (h5py libver="latest").
with h5py.File("keras_latest.h5", "w", libver="latest") as f:
    f.attrs["model_config"] = json.dumps(lam).encode("utf8")
    f.attrs["other"] = "x"


def long_name_tar(path, fmt):
    """Long member names force pax records or GNU long-name members."""
    with tarfile.open(path, "w", format=fmt) as tar:
        data = pickle.dumps({"a": 1}, protocol=2)
        info = tarfile.TarInfo("d/" + "n" * 150 + "/weights.pkl")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


long_name_tar("long_pax.tar", tarfile.PAX_FORMAT)
long_name_tar("long_gnu.tar", tarfile.GNU_FORMAT)

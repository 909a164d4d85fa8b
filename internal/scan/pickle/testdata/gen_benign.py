# Regenerates the benign testdata files with real Python, torch, numpy and joblib.
# Run with Debian's interpreter, which has torch: /usr/bin/python3 gen_benign.py
# Nothing here unpickles anything; it only writes what the libraries save.
import collections, io, os, pickle, random, zipfile
import numpy as np
import torch
import joblib

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


def write(name, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


def data_pkl_of(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        (name,) = [n for n in z.namelist() if n.endswith("/data.pkl")]
        return z.read(name)


sd = collections.OrderedDict()
sd["layer.weight"] = torch.randn(4, 3)
sd["layer.bias"] = torch.zeros(4, dtype=torch.float16)
sd["emb.weight"] = torch.randn(10, 2)[2:5]  # a view sharing a larger storage
sd["steps"] = torch.tensor(7, dtype=torch.int64)
sd["mask"] = torch.ones(3, dtype=torch.bool)
sd["param"] = torch.nn.Parameter(torch.randn(2, 2))
write("torch_state_dict.data.pkl", data_pkl_of(sd))
write("torch_module_state_dict.data.pkl", data_pkl_of(torch.nn.Linear(3, 2).state_dict()))

# The shape of a HF Trainer rng_state.pth: python, numpy and torch RNG states.
random.seed(1)
np.random.seed(1)
rng = {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()}
write("rng_state.data.pkl", data_pkl_of(rng))

# joblib: numeric arrays (raw bytes follow each wrapper), an object array (nested pickle), plain values.
buf = io.BytesIO()
joblib.dump({"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([1, 2, 3], dtype=">i2"),
             "s": np.array(["ab", "cde"]), "n": 3, "name": "model"}, buf)
write("joblib_numeric.pkl", buf.getvalue())
buf = io.BytesIO()
joblib.dump({"objs": np.array([1, "x", None], dtype=object), "after": np.ones(5)}, buf)
write("joblib_object.pkl", buf.getvalue())

# Plain pickles of inert data in every protocol.
plain = {"a": [1, 2.5, True, None, b"xy", "text" * 3], "t": (1, (2, 3)), "s": {1, 2}, "big": 2**70, "neg": -5}
for proto in range(6):
    write("plain_p%d.pkl" % proto, pickle.dumps(plain, protocol=proto))

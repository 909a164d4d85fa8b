"""Benign files made by the real libraries (torch, numpy, joblib, h5py), plus
hand-written safetensors/GGUF/JSON that follow their specifications. The
scanner must pass all of these: a false positive here blocks real users."""

import io
import json
import os
import pickle
import pickletools
import random
import shutil

import numpy as np
import torch
import torch.nn as nn

import containers as C


def build(c):
    torch.manual_seed(0)
    np.random.seed(0)
    _torch_files(c)
    _torch_dense(c)
    _numpy_files(c)
    _joblib_files(c)
    _plain_pickles(c)
    _safetensors(c)
    _gguf(c)
    _text_files(c)
    _onnx_and_spm(c)
    _keras_benign(c)


def _torch_files(c):
    sd = {"embed.weight": torch.randn(32, 16), "head.bias": torch.zeros(8)}
    torch.save(sd, c.path("torch/state_dict.pt"))
    c.add("torch/state_dict.pt", "safe", "benign", "torch.save zip state dict, float32")

    torch.save(sd, c.path("torch/legacy_state_dict.bin"), _use_new_zipfile_serialization=False)
    c.add("torch/legacy_state_dict.bin", "safe", "benign",
          "legacy non-zip format: five pickles then raw storages",
          pickle_bytes=_legacy_pickle_bytes(c.path_of("torch/legacy_state_dict.bin")))

    half = {"w16": torch.randn(64, 8).half(), "wbf": torch.randn(64, 8).to(torch.bfloat16),
            "i8": torch.randint(-5, 5, (10,), dtype=torch.int8),
            "mask": torch.ones(5, dtype=torch.bool), "ids": torch.arange(7),
            "c64": torch.randn(3, dtype=torch.complex64)}
    torch.save(half, c.path("torch/mixed_dtypes.pth"))
    c.add("torch/mixed_dtypes.pth", "safe", "benign", "fp16, bf16, int8, bool, int64, complex64")

    base = torch.arange(100, dtype=torch.float32)
    views = {"base": base, "row": base[10:20], "strided": base[::5],
             "mat": base.view(10, 10), "t": base.view(10, 10).t()}
    torch.save(views, c.path("torch/shared_views.pt"))
    c.add("torch/shared_views.pt", "safe", "benign",
          "several views (offsets, strides, transpose) of one storage")

    many = {"k%05d" % i: i for i in range(5000)}
    many["tensor"] = torch.ones(3)
    torch.save(many, c.path("torch/dict_5000_keys.pt"))
    c.add("torch/dict_5000_keys.pt", "safe", "benign",
          "5,000 keys (fickling calls >1000 keys LIKELY_UNSAFE)")

    model = nn.Sequential(nn.Linear(16, 32), nn.LayerNorm(32), nn.ReLU(),
                          nn.TransformerEncoderLayer(32, 4, 64, batch_first=True))
    torch.save(model.state_dict(), c.path("torch/pytorch_model.bin"))
    c.add("torch/pytorch_model.bin", "safe", "benign", "nn.Module state_dict (with a Transformer layer)")

    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 16)).sum().backward()
    opt.step()
    ckpt = {"epoch": 3, "global_step": 1200, "model": model.state_dict(),
            "optimizer": opt.state_dict(), "loss": 0.25, "best": None,
            "history": [0.9, 0.5, 0.25], "tags": ("a", "b"), "raw": b"\x00\x01"}
    torch.save(ckpt, c.path("torch/checkpoint.ckpt"))
    c.add("torch/checkpoint.ckpt", "safe", "benign", "training checkpoint: model + AdamW state + scalars")

    # The other files an HF Trainer checkpoint folder holds.
    torch.save(opt.state_dict(), c.path("torch/optimizer.pt"))
    c.add("torch/optimizer.pt", "safe", "benign", "HF Trainer optimizer.pt (AdamW state_dict)")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
    sched.step()
    torch.save(sched.state_dict(), c.path("torch/scheduler.pt"))
    c.add("torch/scheduler.pt", "safe", "benign", "HF Trainer scheduler.pt (StepLR state_dict)")
    torch.save(_training_args(), c.path("torch/training_args.bin"))
    c.add("torch/training_args.bin", "unknown", "benign",
          "HF training_args.bin: a pickled transformers dataclass, outside every allowlist")

    p = nn.Parameter(torch.randn(4, 4))
    torch.save({"p": p}, c.path("torch/parameter.pt"))
    c.add("torch/parameter.pt", "safe", "benign", "nn.Parameter -> _rebuild_parameter")

    # HF Trainer's rng_state.pth: numpy RNG state needs numpy globals and
    # _codecs.encode, so only the numpy-tolerant profile passes it.
    rng = {"python": random.getstate(), "numpy": np.random.get_state(),
           "cpu": torch.random.get_rng_state()}
    torch.save(rng, c.path("torch/rng_state.pth"))
    c.add("torch/rng_state.pth", "safe", "benign", "HF Trainer rng_state under torch-numpy",
          profile="torch-numpy")
    shutil.copy(c.path_of("torch/rng_state.pth"), c.path("torch/default-profile/rng_state.pth"))
    c.add("torch/default-profile/rng_state.pth", "unknown", "benign",
          "same rng_state.pth under the default profile: numpy globals are not weights-only")

    # Whole-module pickles are ordinary but not weights-only: unknown.
    torch.save(nn.Linear(4, 2), c.path("torch/whole_module.pt"))
    c.add("torch/whole_module.pt", "unknown", "benign",
          "torch.save(nn.Linear): torch.nn.modules.* globals are outside the allowlist")

    # pickle.dumps(tensor) goes through torch.storage._load_from_bytes, a
    # loader (deny-listed); weights_only refuses it, so it is never safe.
    with open(c.path("torch/pickled_tensor.pkl"), "wb") as f:
        f.write(pickle.dumps({"t": torch.ones(3)}, protocol=2))
    c.add("torch/pickled_tensor.pkl", ["unknown", "unsafe"], "benign",
          "pickle.dumps(tensor): torch.storage._load_from_bytes around clean legacy bytes")

    scripted = torch.jit.script(nn.Linear(3, 2))
    torch.jit.save(scripted, c.path("torch/scripted.pt"))
    c.add("torch/scripted.pt", "unknown", "benign",
          "real TorchScript archive (constants.pkl, code/): code-bearing, never safe")


def _training_args():
    """An instance of a stand-in transformers.training_args.TrainingArguments,
    registered under that module name so torch.save writes the same GLOBAL
    as the real file (transformers itself is not installed here)."""
    import dataclasses
    import sys
    import types
    mod = types.ModuleType("transformers.training_args")

    @dataclasses.dataclass
    class TrainingArguments:
        output_dir: str = "out"
        learning_rate: float = 5e-5
        num_train_epochs: float = 3.0
        seed: int = 42

    TrainingArguments.__module__ = mod.__name__
    TrainingArguments.__qualname__ = "TrainingArguments"
    mod.TrainingArguments = TrainingArguments
    sys.modules.setdefault("transformers", types.ModuleType("transformers"))
    sys.modules[mod.__name__] = mod
    return TrainingArguments()


def _torch_dense(c):
    """Opcode-dense torch pickle for throughput: 200,000 one-element views of a
    single storage, so data.pkl is ~18 MB of benign torch globals/REDUCEs."""
    base = torch.zeros(200_000)
    views = {"layer.%d.w" % i: base[i:i + 1] for i in range(200_000)}
    torch.save(views, c.path("bench/dense_views.pt"))
    c.add("bench/dense_views.pt", "safe", "benign", "throughput: 200k tensor views, large data.pkl")


def _numpy_files(c):
    np.save(c.path_of_new("numpy/weights_f32.npy"), np.random.rand(64, 32).astype(np.float32))
    c.add("numpy/weights_f32.npy", "safe", "benign", "numeric .npy v1.0")
    np.save(c.path_of_new("numpy/structured.npy"),
            np.zeros(4, dtype=[("x", "<f4"), ("y", "<i8", (2,))]))
    c.add("numpy/structured.npy", "safe", "benign", "structured numeric dtype with a sub-array")
    np.savez(c.path_of_new("numpy/arrays.npz"), a=np.arange(10), b=np.eye(3))
    c.add("numpy/arrays.npz", "safe", "benign", "numeric .npz (stored)")
    np.savez_compressed(c.path_of_new("numpy/arrays_compressed.npz"), a=np.arange(1000))
    c.add("numpy/arrays_compressed.npz", "safe", "benign", "numeric .npz (deflated)")
    np.save(c.path_of_new("numpy/object_strings.npy"),
            np.array(["a", 1, None], dtype=object), allow_pickle=True)
    c.add("numpy/object_strings.npy", "unknown", "benign",
          "object-dtype .npy with harmless items: pickle body with numpy globals, refused by content")


def _joblib_files(c):
    import joblib
    obj = {"coef": np.random.rand(50, 4), "intercept": np.zeros(4), "n_iter": 7,
           "classes": np.array([0, 1, 2, 3]), "name": "ridge"}
    joblib.dump(obj, c.path("joblib/model.joblib"))
    c.add("joblib/model.joblib", "safe", "benign", "joblib numeric dump", profile="joblib")
    for comp in ("zlib", "gzip", "bz2", "xz"):
        rel = "joblib/model_%s.joblib" % comp
        joblib.dump(obj, c.path(rel), compress=(comp, 3))
        c.add(rel, "safe", "benign", "joblib numeric dump, %s-compressed" % comp, profile="joblib")


def _plain_pickles(c):
    """Opcode-dense builtins-only pickle (~20 MB) for throughput: no globals at
    all, so it is safe under every profile."""
    rnd = random.Random(1)
    items = []
    for i in range(2_200_000):
        k = i % 4
        if k == 0:
            items.append(rnd.randrange(1 << 30))
        elif k == 1:
            items.append("s%d" % rnd.randrange(100000))
        elif k == 2:
            items.append((i, -i, i & 7))
        else:
            items.append(rnd.random())
    with open(c.path("bench/dense_builtins.pkl"), "wb") as f:
        pickle.dump(items, f, protocol=4)
    c.add("bench/dense_builtins.pkl", "safe", "benign",
          "throughput: ~20 MB protocol-4 list of ints/strs/tuples/floats, no globals")
    with open(c.path("bench/dense_builtins_p2.pkl"), "wb") as f:
        pickle.dump(items[:400_000], f, protocol=2)
    c.add("bench/dense_builtins_p2.pkl", "safe", "benign",
          "throughput: protocol-2 variant (no frames)")


def _safetensors(c):
    a = np.random.rand(16, 8).astype(np.float32)
    b = np.random.rand(8).astype(np.float16)
    data = C.safetensors_bytes([("a.weight", "F32", a.shape, a.tobytes()),
                                ("b.bias", "F16", b.shape, b.tobytes()),
                                ("empty", "F32", (0, 4), b""),
                                ("scalar", "I64", (), np.int64(5).tobytes())],
                               metadata={"format": "pt"})
    c.add("safetensors/model.safetensors", "safe", "benign",
          "valid safetensors with metadata, empty and 0-rank tensors", data=data)


CHATML = ("{%- set ns = namespace(system='') -%}"
          "{%- for message in messages -%}"
          "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
          "{{ raise_exception('bad role') }}{%- endif -%}"
          "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
          "{%- endfor -%}{%- if tools %}{{ tools | tojson }}{% endif -%}"
          "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}")


def _gguf(c):
    kvs = [("general.architecture", C.GGUF_STRING, "llama"),
           ("general.name", C.GGUF_STRING, "tiny"),
           ("llama.context_length", C.GGUF_UINT32, 2048),
           ("tokenizer.ggml.tokens", C.GGUF_ARRAY, ["<s>", "</s>", "a", "b"]),
           ("tokenizer.chat_template", C.GGUF_STRING, CHATML)]
    c.add("gguf/tiny.gguf", "safe", "benign", "GGUF v3 with an ordinary ChatML template",
          data=C.gguf_bytes(kvs, [("tok_embd.weight", [8, 4], 0, 128)]))


def _onnx_and_spm(c):
    c.add("onnx/model.onnx", "safe", "benign", "ONNX model, inline initializer (checked with onnx 1.x)",
          data=C.onnx_model())
    spm = C.sentencepiece_model([("<unk>", 2), ("<s>", 3), ("</s>", 3), ("\u2581a", 1), ("b", 1)])
    c.add("spm/tokenizer.model", "safe", "benign",
          "sentencepiece protobuf named tokenizer.model (zip/torch ones are attacks)", data=spm)


def _text_files(c):
    cfg = {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "torch_dtype": "float16",
           "auto_map": None, "rope_scaling": {"type": "linear", "factor": 2.0}}
    c.add("text/config.json", "safe", "benign", "HF config.json", data=json.dumps(cfg).encode())
    tok = {"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                                       "merges": ["a b"]},
           "added_tokens": [{"id": 3, "content": "<s>", "special": True}]}
    c.add("text/tokenizer.json", "safe", "benign", "tokenizers JSON", data=json.dumps(tok).encode())
    c.add("text/README.md", "safe", "benign", "model card",
          data=b"---\nlicense: mit\n---\n# Tiny model\n\ncos\nsystem\n(S'x'\ntR.\n")
    c.add("text/notes.txt", "safe", "benign",
          "text starting with 'c': an incomplete trial parse must not flag it",
          data=b"cos\nsystem\nthis is prose, not a pickle\n")


def _keras_benign(c):
    import h5py
    cfg = {"module": "keras", "class_name": "Sequential", "registered_name": None,
           "config": {"name": "seq", "layers": [
               {"module": "keras.layers", "class_name": "InputLayer",
                "config": {"batch_shape": [None, 4], "name": "in"}, "registered_name": None},
               {"module": "keras.layers", "class_name": "Dense",
                "config": {"units": 2, "activation": "relu", "name": "d"},
                "registered_name": None}]}}
    wpath = c.path("keras/_weights_tmp.h5")
    with h5py.File(wpath, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.zeros((4, 2), np.float32))
    with open(wpath, "rb") as f:
        weights = f.read()
    os.remove(wpath)
    c.add("keras/model.keras", "safe", "benign", ".keras zip with a Dense-only config",
          data=keras_zip(cfg, weights))
    h5cfg = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "Dense", "config": {"units": 2, "activation": "relu", "name": "d"}}]}}
    write_h5_model(c.path("keras/model.h5"), h5cfg)
    c.add("keras/model.h5", "safe", "benign", "legacy Keras .h5 with a Dense-only model_config")


def keras_zip(cfg, weights=b""):
    """A .keras archive as Keras 3 writes it (zipfile, deflated)."""
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "x"}))
        z.writestr("config.json", json.dumps(cfg))
        z.writestr("model.weights.h5", weights)
    return buf.getvalue()


def write_h5_model(path, model_config, vlen=False):
    """Legacy Keras HDF5: root attributes model_config/keras_version/backend.
    Keras writes JSON as bytes (a fixed-length string attribute stored in the
    object header); vlen=True stores a variable-length str instead."""
    import h5py
    with h5py.File(path, "w") as f:
        text = json.dumps(model_config)
        f.attrs["model_config"] = text if vlen else np.bytes_(text.encode())
        f.attrs["keras_version"] = np.bytes_(b"2.15.0")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.create_dataset("model_weights/d/kernel", data=np.zeros((4, 2), np.float32))


def _legacy_pickle_bytes(path):
    """Bytes of the five pickles at the start of a legacy torch file."""
    with open(path, "rb") as f:
        bio = io.BytesIO(f.read())
    for _ in range(5):
        for op, _, _ in pickletools.genops(bio):
            if op.name == "STOP":
                break
    return bio.tell()

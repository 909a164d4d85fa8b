#!/usr/bin/python3
"""Regenerate the demo mirror's files (run with Debian's /usr/bin/python3, which has torch).

The outputs are committed; run this only to change them. It writes
models/safehub-demo/tiny-model/ (config, tokenizer, README, model.safetensors and a benign
pytorch_model.bin twin made by torch.save of the same tensors) and datasets/safehub-demo/tiny-data/.
"""
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "models", "safehub-demo", "tiny-model")
DATA = os.path.join(HERE, "datasets", "safehub-demo", "tiny-data")


def tensors():
    rng = np.random.default_rng(20261126)  # fixed seed: the files stay byte-identical
    return {
        "embeddings.weight": rng.standard_normal((16, 4)).astype(np.float32),
        "linear.bias": np.zeros(4, dtype=np.float32),
        "linear.weight": rng.standard_normal((4, 4)).astype(np.float32),
    }


def write_safetensors(path, named):
    """The safetensors format: u64 LE header size, JSON header, raw little-endian tensor bytes."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(named):
        raw = named[name].astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(named[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the format pads the header to 8 bytes with spaces
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main():
    os.makedirs(MODEL, exist_ok=True)
    os.makedirs(DATA, exist_ok=True)
    named = tensors()
    write_safetensors(os.path.join(MODEL, "model.safetensors"), named)
    # A benign pickle twin, as many real repos have: torch.save of plain tensors.
    torch.save({k: torch.from_numpy(v.copy()) for k, v in named.items()},
               os.path.join(MODEL, "pytorch_model.bin"))
    write_json(os.path.join(MODEL, "config.json"), {
        "architectures": ["SafehubDemoModel"], "model_type": "safehub-demo",
        "vocab_size": 16, "hidden_size": 4, "torch_dtype": "float32"})
    vocab = {t: i for i, t in enumerate(
        ["[PAD]", "[UNK]", "safe", "hub", "tensor", "pickle", "load", "model",
         "the", "a", "is", "not", "code", "weights", "gateway", "."])}
    write_json(os.path.join(MODEL, "tokenizer.json"), {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}})
    with open(os.path.join(MODEL, "README.md"), "w") as f:
        f.write("---\nlicense: apache-2.0\n---\n# tiny-model\n\n"
                "A few-KB demo model for safehub's quick start. `model.safetensors` and\n"
                "`pytorch_model.bin` hold the same three tensors; safehub serves the first and\n"
                "refuses the second by its name.\n")
    with open(os.path.join(DATA, "train.csv"), "w") as f:
        f.write("text,label\n")
        for i, t in enumerate(["safetensors loads without running code",
                               "a pickle can run code when loaded",
                               "the gateway keeps every byte on itself",
                               "torch.load with weights_only is safer"]):
            f.write(f'"{t}",{i % 2}\n')
    write_json(os.path.join(DATA, "info.json"), {"rows": 4, "columns": ["text", "label"]})
    with open(os.path.join(DATA, "README.md"), "w") as f:
        f.write("# tiny-data\n\nFour rows of CSV for safehub's quick start.\n")


if __name__ == "__main__":
    main()

"""Builds the repo folders the Hub simulator serves, with real file contents.

The layout is the one both `hubsim --repos DIR` and `safehub serve --upstream DIR` read:
`models|datasets|spaces/<org>/<name>/<files>`, plus `DIR/hubsim.json` for per-repo
settings (gated, private, accepted tokens).

Nothing here ever unpickles anything. The pickle files are harmless (a dict of lists,
or a __reduce__ object that is only *serialised*, never loaded): the gateway must refuse
them by name or by content without running them.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

ORG = "safehub-test"

# Tokens the simulator accepts for the gated and private repos. Distinctive strings, so a
# test can grep the gateway's log and prove a token was never written there.
GATED_TOKEN = "hf_gatedTokenForSafehubIT0001"
PRIVATE_TOKEN = "hf_privateTokenForSafehubIT0002"
WRONG_TOKEN = "hf_wrongTokenForSafehubIT0003"

# How many plain files the paging repo holds; with hubsim --page-size PAGE_SIZE the tree
# listing spans several pages, and refused files sit on more than one of them.
MANY_FILES = 57
PAGE_SIZE = 10

# Branches of safehub-test/tiny besides main, and the folders (outside the repo-type
# folders, as the simulator requires) that hold their files.
BRANCH_FOLDERS = {"feature/x": "_revisions/tiny-feature-x", "refs/pr/1": "_revisions/tiny-pr-1"}


@dataclass
class Repo:
    """One generated repo: its id, type, and the bytes of every file by path."""

    repo_id: str
    repo_type: str  # "model" | "dataset" | "space"
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return {"model": "models", "dataset": "datasets", "space": "spaces"}[self.repo_type]

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self.files[path]).hexdigest()

    def git_blob_sha1(self, path: str) -> str:
        data = self.files[path]
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _Harmless:
    """Pickled (never unpickled) into the disguised-pickle test files.

    Its __reduce__ names a callable that would only print, so even a mistaken load
    would do nothing harmful; the content scanner must still call it unsafe.
    """

    def __reduce__(self):
        return (print, ("safehub integration test: this pickle should never have been loaded",))


def _safetensors_bytes(tmp: Path, seed: int, rows: int = 64) -> bytes:
    """A real safetensors file written by the safetensors library itself."""
    rng = np.random.default_rng(seed)
    tensors = {
        "embed.weight": rng.standard_normal((rows, 32), dtype=np.float32),
        "head.bias": np.arange(16, dtype=np.float32),
        "layer.0.weight": rng.integers(-100, 100, size=(8, 8), dtype=np.int32),
    }
    path = tmp / f"st-{seed}.safetensors"
    save_file(tensors, str(path), metadata={"format": "np", "seed": str(seed)})
    data = path.read_bytes()
    path.unlink()
    return data


def _pickle_state_dict() -> bytes:
    """A harmless pickle standing in for pytorch_model.bin (refused by name)."""
    return pickle.dumps({"embed.weight": [[0.0, 1.0], [2.0, 3.0]], "head.bias": [0.5]}, protocol=2)


def _config(model_type: str) -> bytes:
    return (json.dumps({"model_type": model_type, "hidden_size": 32, "architectures": ["TinyModel"]},
                       indent=2) + "\n").encode()


def build(root: Path) -> dict[str, Repo]:
    """Writes every test repo under root and returns them by short name."""
    scratch = root / ".scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    repos: dict[str, Repo] = {}

    # The ordinary repo: safetensors and pickle twins, configs, nested paths, a name that
    # needs URL-escaping. Most download tests use it.
    repos["tiny"] = Repo(f"{ORG}/tiny", "model", {
        "config.json": _config("tiny"),
        "model.safetensors": _safetensors_bytes(scratch, 1, rows=2048),  # ~260 KB: LFS, streamed
        "pytorch_model.bin": _pickle_state_dict(),
        "tokenizer.json": b'{"version": "1.0", "model": {"type": "WordLevel", "vocab": {"a": 0}}}\n',
        "README.md": b"# tiny\nA test model for the safehub integration suite.\n",
        "nested/deeper/notes.txt": b"nested file\n",
        "nested/extra.safetensors": _safetensors_bytes(scratch, 2),
        "nested/optimizer.pt": _pickle_state_dict(),
        "odd names/a b+c.json": b'{"odd": true}\n',
    })

    # Used by exactly one test, so its CDN traffic is not hidden by the gateway's cache.
    repos["cdnprobe"] = Repo(f"{ORG}/cdn-probe", "model", {
        "config.json": _config("probe"),
        "model.safetensors": _safetensors_bytes(scratch, 3),
    })

    repos["dataset"] = Repo(f"{ORG}/tiny-data", "dataset", {
        "README.md": b"# tiny-data\n",
        "data/train.csv": b"text,label\nhello,1\nworld,0\n",
        "data/test.jsonl": b'{"text": "x", "label": 1}\n',
        "data/features.pkl": _pickle_state_dict(),
    })

    repos["gated"] = Repo(f"{ORG}/gated", "model", {
        "config.json": _config("gated"),
        "model.safetensors": _safetensors_bytes(scratch, 4),
    })

    repos["private"] = Repo(f"{ORG}/private", "model", {
        "config.json": _config("private"),
        "model.safetensors": _safetensors_bytes(scratch, 5),
    })

    many = {f"shards/file-{i:03d}.txt": f"file {i}\n".encode() for i in range(MANY_FILES)}
    # Refused files spread across pages (file names sort between the .txt files).
    for i in (3, 25, 51):
        many[f"shards/file-{i:03d}.bin"] = _pickle_state_dict()
    many["config.json"] = _config("many")
    repos["many"] = Repo(f"{ORG}/many-files", "model", many)

    # A pickle under a safe-looking name: only the content scanner can catch it.
    repos["disguised"] = Repo(f"{ORG}/disguised", "model", {
        "config.json": _config("disguised"),
        "model.safetensors": pickle.dumps(_Harmless(), protocol=4),
    })

    # Upstream misbehaviour (see hubsim.json below): a CDN that sends half a file under a
    # full Content-Length, one that sends wrong bytes, a rate-limited repo, and a repo whose
    # upstream answers a code-less 404 (which the gateway must never pass on as is).
    repos["faulty"] = Repo(f"{ORG}/faulty", "model", {
        "config.json": _config("faulty"),
        "short.safetensors": _safetensors_bytes(scratch, 8, rows=1024),
        "corrupt.safetensors": _safetensors_bytes(scratch, 9, rows=1024),
    })
    repos["ratelimited"] = Repo(f"{ORG}/ratelimited", "model", {"config.json": _config("ratelimited")})
    repos["broken"] = Repo(f"{ORG}/broken", "model", {"config.json": _config("broken"),
                                                      "gone.json": b"{}\n"})

    # Cold files fetched by several clients at once, and a CDN that stalls mid-file.
    repos["parallel"] = Repo(f"{ORG}/parallel", "model", {
        "a.safetensors": _safetensors_bytes(scratch, 10, rows=16384),  # ~2 MB each
        "b.safetensors": _safetensors_bytes(scratch, 11, rows=16384),
    })
    repos["slow"] = Repo(f"{ORG}/slow", "model", {"big.safetensors": _safetensors_bytes(scratch, 12, rows=16384)})

    # Extra branches of "tiny" whose names need %2F in URLs. The simulator serves them from
    # folders outside the type folders (see BRANCHES); their content differs from main.
    repos["tiny@feature/x"] = Repo(f"{ORG}/tiny", "model", {
        "config.json": _config("tiny-feature"),
        "model.safetensors": _safetensors_bytes(scratch, 6),
        "pytorch_model.bin": _pickle_state_dict(),
    })
    repos["tiny@refs/pr/1"] = Repo(f"{ORG}/tiny", "model", {
        "config.json": _config("tiny-pr1"),
        "model.safetensors": _safetensors_bytes(scratch, 7),
    })

    for key, repo in repos.items():
        if "@" in key:
            base = root / BRANCH_FOLDERS[key.split("@", 1)[1]]
        else:
            base = root / repo.folder / repo.repo_id
        for rel, data in repo.files.items():
            target = base / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    settings = {
        f"models/{repos['tiny'].repo_id}": {"branches": BRANCH_FOLDERS},
        f"models/{repos['gated'].repo_id}": {"gated": "manual", "tokens": [GATED_TOKEN]},
        f"models/{repos['faulty'].repo_id}": {"cdn_faults": {"short.safetensors": "short",
                                                             "corrupt.safetensors": "corrupt"}},
        f"models/{repos['slow'].repo_id}": {"cdn_faults": {"big.safetensors": "stall"}, "stall_ms": 20000},
        f"models/{repos['ratelimited'].repo_id}": {"fail": {"status": 429, "retry_after": 7,
                                                            "message": "rate limited by the simulator"}},
        f"models/{repos['broken'].repo_id}": {"fail": {"status": 404, "files": ["gone.json"]}},
        f"models/{repos['private'].repo_id}": {"private": True, "tokens": [PRIVATE_TOKEN]},
    }
    (root / "hubsim.json").write_text(json.dumps(settings, indent=2) + "\n")
    scratch.rmdir()
    return repos

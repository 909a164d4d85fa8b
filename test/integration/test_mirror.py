"""Local-mirror mode (issue 2, point 7): `safehub serve --upstream DIR` serves a folder as a
Hub, under the same policy, to the same fenced client."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import hubclient
import procs

EXAMPLES = procs.REPO_ROOT / "examples" / "mirror"
REFUSED_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".dill")


def _start(request, safehub_bin, workdir, upstream: Path, name: str) -> str:
    proc, url = procs.start_gateway(safehub_bin, str(upstream), workdir / f"{name}-cache",
                                    workdir / f"{name}.log")
    request.addfinalizer(proc.stop)
    return url


@pytest.fixture(scope="module")
def examples_gw(request, safehub_bin, workdir) -> str:
    assert EXAMPLES.is_dir(), f"{EXAMPLES} is missing (the shipped demo mirror, issue 2 point 7)"
    return _start(request, safehub_bin, workdir, EXAMPLES, "mirror-examples")


@pytest.fixture(scope="module")
def generated_gw(request, safehub_bin, workdir, repos) -> str:
    return _start(request, safehub_bin, workdir, workdir / "repos", "mirror-generated")


def _repo_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_examples_mirror_model(examples_gw, hf_home):
    folder = EXAMPLES / "models" / "safehub-demo" / "tiny-model"
    files = _repo_files(folder)
    assert "model.safetensors" in files and "pytorch_model.bin" in files, sorted(files)
    out = hubclient.run_client(examples_gw, """
        repo = "safehub-demo/tiny-model"
        out["cfg"] = Path(hf_hub_download(repo, "config.json")).read_text()
        out["st"] = sha256_of(hf_hub_download(repo, "model.safetensors"))
        root = snapshot_download(repo)
        out["snap"] = files_under(root)
        out["bin"] = catch(hf_hub_download, repo, "pytorch_model.bin")
    """, hf_home)
    assert out["cfg"].encode() == files["config.json"]
    assert out["st"] == hashlib.sha256(files["model.safetensors"]).hexdigest()
    assert out["snap"] == sorted(f for f in files if not f.lower().endswith(REFUSED_SUFFIXES))
    assert out["bin"]["type"] == "RemoteEntryNotFoundError", hubclient.describe(out["bin"])
    assert "safehub" in out["bin"]["msg"] and "model.safetensors" in out["bin"]["msg"]


def test_examples_mirror_dataset(examples_gw, hf_home):
    folder = EXAMPLES / "datasets" / "safehub-demo" / "tiny-data"
    files = _repo_files(folder)
    assert files, f"{folder} is empty or missing"
    out = hubclient.run_client(examples_gw, """
        root = snapshot_download("safehub-demo/tiny-data", repo_type="dataset")
        out["snap"] = files_under(root)
        out["sums"] = {f: sha256_of(Path(root) / f) for f in out["snap"]}
    """, hf_home)
    assert out["snap"] == sorted(f for f in files if not f.lower().endswith(REFUSED_SUFFIXES))
    for f in out["snap"]:
        assert out["sums"][f] == hashlib.sha256(files[f]).hexdigest(), f


def test_generated_mirror_snapshot_and_revision(generated_gw, repos, hf_home):
    tiny = repos["tiny"]
    out = hubclient.run_client(generated_gw, """
        root = snapshot_download("safehub-test/tiny")
        out["snap"] = files_under(root)
        out["sums"] = {f: sha256_of(Path(root) / f) for f in out["snap"]}
        sha = Path(root).name
        out["sha"] = sha
        out["by_sha"] = sha256_of(hf_hub_download("safehub-test/tiny", "model.safetensors", revision=sha))
        out["pt"] = catch(hf_hub_download, "safehub-test/tiny", "nested/optimizer.pt")
        out["many"] = sorted(api.list_repo_files("safehub-test/many-files"))
    """, hf_home)
    expected = sorted(f for f in tiny.files if not f.endswith((".bin", ".pt")))
    assert out["snap"] == expected
    for f in expected:
        assert out["sums"][f] == tiny.sha256(f), f
    assert len(out["sha"]) == 40 and out["by_sha"] == tiny.sha256("model.safetensors")
    assert out["pt"]["type"] == "RemoteEntryNotFoundError", hubclient.describe(out["pt"])
    assert out["many"] == sorted(f for f in repos["many"].files if not f.endswith(".bin"))


def test_mirror_head_metadata(generated_gw, repos):
    tiny = repos["tiny"]
    status, h, _ = hubclient.raw_request(generated_gw, "HEAD", "/safehub-test/tiny/resolve/main/model.safetensors")
    assert status == 200
    assert h.get("X-Linked-Etag", "").strip('"') == tiny.sha256("model.safetensors")
    assert h.get("X-Linked-Size") == h.get("Content-Length") == str(len(tiny.files["model.safetensors"]))
    status, h, _ = hubclient.raw_request(generated_gw, "HEAD", "/safehub-test/tiny/resolve/main/config.json")
    assert status == 200
    assert h.get("ETag", "").strip('"') == tiny.git_blob_sha1("config.json")

"""Downloads through the gateway with the real client (issue 2, points 4, 5, 9).

Every scenario runs fenced: the client can reach the gateway and nothing else, so a
download that completes proves the gateway carried every byte.
"""

from __future__ import annotations

import fnmatch
import json
import re

from hubclient import describe, raw_request, sim_log

TINY = "safehub-test/tiny"
REFUSED_IN_TINY = {"pytorch_model.bin", "nested/optimizer.pt"}


def sim_commit(sim, repo) -> str:
    """The commit id straight from the simulator (what the gateway must agree with)."""
    status, _, body = raw_request(sim["hub"], "GET", f"/api/{repo.folder}/{repo.repo_id}/revision/main")
    assert status == 200, body[:300]
    sha = json.loads(body)["sha"]
    assert re.fullmatch(r"[0-9a-f]{40}", sha), sha
    return sha


def test_config_json_bytes_identical(client, repos):
    out = client("""
        p = hf_hub_download("safehub-test/tiny", "config.json")
        out["data"] = Path(p).read_text()
        out["parts"] = Path(p).parts[-3:]
    """)
    assert out["data"].encode() == repos["tiny"].files["config.json"]
    assert out["parts"][0] == "snapshots"


def test_safetensors_bytes_identical(client, repos):
    out = client("""
        p = hf_hub_download("safehub-test/tiny", "model.safetensors")
        out["sha256"] = sha256_of(p)
        out["blob"] = os.path.basename(os.path.realpath(p))
    """)
    assert out["sha256"] == repos["tiny"].sha256("model.safetensors")
    # The blob is named by the sha256 X-Linked-Etag, as from the real Hub.
    assert out["blob"] == repos["tiny"].sha256("model.safetensors")


def test_lfs_bytes_fetched_by_gateway_without_token_on_cdn(client, sim, repos):
    repo = repos["cdnprobe"]
    out = client("""
        out["r"] = catch(lambda: sha256_of(hf_hub_download("safehub-test/cdn-probe", "model.safetensors")))
    """, token="hf_someUserTokenNotForTheCdn")
    assert out["r"]["ok"], describe(out["r"])
    assert out["r"]["value"] == repo.sha256("model.safetensors")
    log = sim_log(sim["hub"])
    cdn = [e for e in log if e["listener"] == "cdn" and repo.sha256("model.safetensors") in e["path"]]
    # The client is fenced off the CDN (test_fence.py proves it), so the bytes came from the
    # simulator's CDN via the gateway: at least one CDN fetch, none carrying a user token.
    assert cdn, f"no CDN request in the simulator log: the bytes did not come from upstream: {log}"
    assert not any(e["auth"] for e in cdn), f"a user token reached the CDN: {cdn}"
    assert not [e for e in log if e["listener"] == "cas"], "the Xet CAS stub was contacted"


def test_refused_bin_raises_remote_entry_not_found_with_reason(client):
    out = client("""
        out["r"] = catch(hf_hub_download, "safehub-test/tiny", "pytorch_model.bin")
    """)
    r = out["r"]
    assert not r["ok"], "pytorch_model.bin was served"
    assert r["type"] == "RemoteEntryNotFoundError", describe(r)
    assert "safehub" in r["msg"], r["msg"]
    assert "pickle" in r["msg"].lower(), f"no reason in the message: {r['msg']}"
    assert "model.safetensors" in r["msg"], f"safe alternative not named: {r['msg']}"


def test_refused_nested_pt_raises_remote_entry_not_found(client):
    out = client("""
        out["r"] = catch(hf_hub_download, "safehub-test/tiny", "nested/optimizer.pt")
    """)
    assert out["r"]["type"] == "RemoteEntryNotFoundError", describe(out["r"])
    assert "safehub" in out["r"]["msg"]


def test_snapshot_with_pickle_twins_completes_without_them(client, repos):
    out = client("""
        root = snapshot_download("safehub-test/tiny")
        out["files"] = files_under(root)
        out["sums"] = {f: sha256_of(Path(root) / f) for f in out["files"]}
    """)
    tiny = repos["tiny"]
    expected = sorted(set(tiny.files) - REFUSED_IN_TINY)
    assert out["files"] == expected
    for f in expected:
        assert out["sums"][f] == tiny.sha256(f), f


def test_nested_and_escaped_paths(client, repos):
    out = client("""
        out["nested"] = Path(hf_hub_download("safehub-test/tiny", "nested/deeper/notes.txt")).read_bytes().hex()
        out["odd"] = Path(hf_hub_download("safehub-test/tiny", "odd names/a b+c.json")).read_bytes().hex()
    """)
    assert bytes.fromhex(out["nested"]) == repos["tiny"].files["nested/deeper/notes.txt"]
    assert bytes.fromhex(out["odd"]) == repos["tiny"].files["odd names/a b+c.json"]


def test_allow_patterns(client, repos):
    out = client("""
        root = snapshot_download("safehub-test/tiny", allow_patterns=["*.json", "nested/*"])
        out["files"] = files_under(root)
    """)
    # The client matches patterns itself with fnmatch, where "*" also crosses "/".
    expected = sorted(f for f in repos["tiny"].files
                      if (fnmatch.fnmatchcase(f, "*.json") or fnmatch.fnmatchcase(f, "nested/*"))
                      and f not in REFUSED_IN_TINY)
    assert "nested/optimizer.pt" not in expected and "tokenizer.json" in expected
    assert out["files"] == expected


def test_revision_main_and_commit_sha(client, sim, repos):
    sha = sim_commit(sim, repos["tiny"])
    out = client(f"""
        out["info_sha"] = api.model_info("safehub-test/tiny", revision="main").sha
        p = hf_hub_download("safehub-test/tiny", "model.safetensors", revision={sha!r})
        out["by_sha"] = sha256_of(p)
        out["snapshot_dir"] = Path(p).parent.name
        root = snapshot_download("safehub-test/tiny", revision={sha!r}, allow_patterns=["*.json"])
        out["snap_name"] = Path(root).name
        out["cfg"] = Path(hf_hub_download("safehub-test/tiny", "config.json", revision="main")).read_text()
    """)
    assert out["info_sha"] == sha, "the gateway reports another commit than the upstream"
    assert out["by_sha"] == repos["tiny"].sha256("model.safetensors")
    assert out["snapshot_dir"] == sha and out["snap_name"] == sha
    assert out["cfg"].encode() == repos["tiny"].files["config.json"]


def test_unknown_revision_raises_revision_not_found(client):
    out = client("""
        out["r"] = catch(hf_hub_download, "safehub-test/tiny", "config.json", revision="no-such-branch")
    """)
    assert out["r"]["type"] == "RevisionNotFoundError", describe(out["r"])


def test_missing_file_raises_remote_entry_not_found(client):
    out = client("""
        out["r"] = catch(hf_hub_download, "safehub-test/tiny", "does-not-exist.json")
    """)
    assert out["r"]["type"] == "RemoteEntryNotFoundError", describe(out["r"])


def test_dataset_repo(client, repos):
    ds = repos["dataset"]
    out = client("""
        p = hf_hub_download("safehub-test/tiny-data", "data/train.csv", repo_type="dataset")
        out["csv"] = Path(p).read_text()
        root = snapshot_download("safehub-test/tiny-data", repo_type="dataset")
        out["files"] = files_under(root)
        out["pkl"] = catch(hf_hub_download, "safehub-test/tiny-data", "data/features.pkl", repo_type="dataset")
    """)
    assert out["csv"].encode() == ds.files["data/train.csv"]
    assert out["files"] == sorted(set(ds.files) - {"data/features.pkl"})
    assert out["pkl"]["type"] == "RemoteEntryNotFoundError", describe(out["pkl"])


def test_plain_http_with_xet_disabled(client, repos):
    """The belt-and-braces client setting (HF_HUB_DISABLE_XET=1) works too."""
    out = client("""
        root = snapshot_download("safehub-test/tiny")
        out["sum"] = sha256_of(Path(root) / "model.safetensors")
        out["files"] = files_under(root)
    """, xet=False)
    assert out["sum"] == repos["tiny"].sha256("model.safetensors")
    assert "pytorch_model.bin" not in out["files"]


def test_safetensors_metadata_via_range(client):
    out = client("""
        m = get_safetensors_metadata("safehub-test/tiny")
        f = m.files_metadata["model.safetensors"]
        out["tensors"] = {k: [v.dtype, list(v.shape)] for k, v in f.tensors.items()}
        out["meta"] = f.metadata
    """)
    assert out["tensors"] == {"embed.weight": ["F32", [2048, 32]], "head.bias": ["F32", [16]],
                              "layer.0.weight": ["I32", [8, 8]]}
    assert out["meta"] == {"format": "np", "seed": "1"}


def test_revision_branch_with_slash(client, repos):
    """Branch names with "/" travel as %2F in one path segment (hub-protocol.md §2)."""
    out = client("""
        for rev in ("feature/x", "refs/pr/1"):
            out[rev] = {
                "cfg": catch(lambda: Path(hf_hub_download("safehub-test/tiny", "config.json", revision=rev)).read_text()),
                "st": catch(lambda: sha256_of(hf_hub_download("safehub-test/tiny", "model.safetensors", revision=rev))),
                "files": catch(lambda: sorted(api.list_repo_files("safehub-test/tiny", revision=rev))),
                "bin": catch(hf_hub_download, "safehub-test/tiny", "pytorch_model.bin", revision=rev),
            }
    """)
    for rev in ("feature/x", "refs/pr/1"):
        branch = repos[f"tiny@{rev}"]
        got = out[rev]
        assert got["cfg"]["ok"] and got["cfg"]["value"].encode() == branch.files["config.json"], describe(got["cfg"])
        assert got["st"]["ok"] and got["st"]["value"] == branch.sha256("model.safetensors"), describe(got["st"])
        assert got["files"]["value"] == ["config.json", "model.safetensors"], describe(got["files"])
        assert got["bin"]["type"] == "RemoteEntryNotFoundError", describe(got["bin"])

"""With hf_xet installed and Xet not disabled, downloads still go through the gateway as plain
HTTP: the Xet CAS is never contacted and no Xet token is ever handed out (issue 2, point 5)."""

from __future__ import annotations

import json

from hubclient import describe, sim_log

XET_SCENARIO = """
    from huggingface_hub.utils._runtime import is_xet_available
    from huggingface_hub import constants
    out["xet_available"] = is_xet_available()
    out["xet_disabled"] = constants.HF_HUB_DISABLE_XET
    root = snapshot_download("safehub-test/tiny")
    out["snap"] = files_under(root)
    out["sum"] = sha256_of(Path(root) / "model.safetensors")
    sha = Path(root).name
    # With a 40-hex revision, 1.22+ clients may skip the HEAD and use the cached tree: if the
    # tree had carried xetHash, this download would go to Xet storage instead of the gateway.
    out["again"] = catch(lambda: sha256_of(hf_hub_download("safehub-test/tiny", "nested/extra.safetensors",
                                                           revision=sha)))
    trees = Path(os.environ["HF_HOME"]) / "hub"
    out["tree_cache"] = [p.read_text() for p in trees.rglob("trees/*") if p.is_file()]
    out["ds"] = catch(lambda: Path(hf_hub_download("safehub-test/tiny-data", "data/train.csv",
                                                   repo_type="dataset")).read_text())
"""


def test_downloads_with_xet_enabled_stay_on_gateway(client, sim, repos):
    out = client(XET_SCENARIO)
    assert out["xet_available"] is True, "hf_xet is not importable in the client: install test/requirements.txt"
    assert out["xet_disabled"] is False
    tiny = repos["tiny"]
    assert out["sum"] == tiny.sha256("model.safetensors")
    assert "pytorch_model.bin" not in out["snap"]
    assert out["again"]["ok"] and out["again"]["value"] == tiny.sha256("nested/extra.safetensors"), \
        describe(out["again"])
    assert out["ds"]["ok"] and out["ds"]["value"].encode() == repos["dataset"].files["data/train.csv"], \
        describe(out["ds"])
    for text in out["tree_cache"]:
        assert "xetHash" not in text and "xet_hash" not in text, "a cached tree listing holds Xet hashes"
    log = sim_log(sim["hub"])
    assert not [e for e in log if e["listener"] == "cas"], "the Xet CAS stub was contacted"
    assert not [e for e in log if "xet-read-token" in e["path"]], "a xet-read-token request reached upstream"


def test_xet_token_never_granted_to_client(client):
    """The client's own Xet token call (what hf_xet would do first) is refused."""
    out = client("""
        from huggingface_hub.utils import get_session, build_hf_headers
        r = get_session().get(os.environ["HF_ENDPOINT"] + "/api/models/safehub-test/tiny/xet-read-token/main",
                              headers=build_hf_headers())
        out["status"] = r.status_code
        out["body"] = r.text[:500]
        out["headers"] = {k.lower(): v for k, v in r.headers.items()}
    """)
    assert out["status"] == 403, json.dumps(out)
    assert "accessToken" not in out["body"] and "casUrl" not in out["body"]
    assert not any(k.startswith("x-xet-") for k in out["headers"]), out["headers"]

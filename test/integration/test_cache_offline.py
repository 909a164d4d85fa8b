"""Offline serving (issue 5, point 4): with the upstream stopped, the gateway serves the
public files it cached, at their commit, to a client with an empty cache, and says plainly
when a file is not cached. Gated files are never served offline to a client the
upstream has not accepted.

These tests stop their simulator, so they run against a dedicated simulator and gateway
(module fixture `own_stack`), not the session ones."""

from __future__ import annotations

import json

import pytest

import procs
import repos as repo_builder
from hubclient import describe, raw_request, run_client
from repos import GATED_TOKEN


@pytest.fixture(scope="module")
def own_stack(request, hubsim_bin, safehub_bin, repos, workdir):
    sim_proc, urls = procs.start_hubsim(hubsim_bin, workdir / "repos", repo_builder.PAGE_SIZE,
                                        workdir / "hubsim-offline.log")
    request.addfinalizer(sim_proc.stop)
    gw_proc, gw_url = procs.start_gateway(safehub_bin, urls["hub"], workdir / "gw-offline-cache",
                                          workdir / "gateway-offline.log")
    request.addfinalizer(gw_proc.stop)
    return {"sim": sim_proc, "hub": urls["hub"], "gw": gw_proc, "url": gw_url}


SNAPSHOT = 'snapshot_download("safehub-test/tiny", allow_patterns=["*.safetensors", "config.json"])'

ONLINE = f"""
    out["st"] = catch(lambda: hf_hub_download("safehub-test/tiny", "model.safetensors"))
    out["cfg"] = catch(lambda: hf_hub_download("safehub-test/tiny", "config.json"))
    out["snap"] = catch(lambda: {SNAPSHOT})
"""

ONLINE_GATED = """
    out["st"] = catch(lambda: sha256_of(hf_hub_download("safehub-test/gated", "model.safetensors")))
"""

OFFLINE = """
    out["snap"] = catch(lambda: sorted(p.name for p in Path(SNAPSHOT).iterdir()))
    out["st"] = catch(lambda: hf_hub_download("safehub-test/tiny", "model.safetensors"))
    out["cfg"] = catch(lambda: Path(hf_hub_download("safehub-test/tiny", "config.json")).read_bytes().hex())
    out["st_sha"] = sha256_of(out["st"]["value"]) if out["st"]["ok"] else None
    try:
        hf_hub_download("safehub-test/tiny", "tokenizer.json")
        out["uncached"] = {"ok": True}
    except Exception as e:
        chain, c = [], e
        while c is not None and len(chain) < 6:
            chain.append(type(c).__name__ + ": " + str(c))
            c = c.__cause__ or c.__context__
        out["uncached"] = {"ok": False, "type": type(e).__name__, "chain": chain}
""".replace("SNAPSHOT", SNAPSHOT)


def test_cache_offline_serves_cached_public_files_and_says_what_is_not_cached(own_stack, repos, workdir):
    tiny = repos["tiny"]
    status, _, body = raw_request(own_stack["hub"], "GET", f"/api/models/{tiny.repo_id}/revision/main")
    assert status == 200, body[:300]
    commit = json.loads(body)["sha"]

    online = run_client(own_stack["url"], ONLINE, workdir / "homes" / "offline-online")
    assert online["st"]["ok"] and online["cfg"]["ok"] and online["snap"]["ok"], describe(online)
    gated = run_client(own_stack["url"], ONLINE_GATED, workdir / "homes" / "offline-gated", token=GATED_TOKEN)
    assert gated["st"]["ok"], describe(gated["st"])

    own_stack["sim"].stop()  # the upstream is gone from here on
    assert own_stack["gw"].alive(), own_stack["gw"].describe_failure("died when the upstream stopped")

    out = run_client(own_stack["url"], OFFLINE, workdir / "homes" / "offline-fresh")
    # snapshot_download needs the repo info and the tree too: the gateway keeps
    # the last listings of public repos for this.
    assert out["snap"]["ok"], f"snapshot_download offline failed: {describe(out['snap'])}"
    # "*.safetensors" also matches nested/extra.safetensors (fnmatch lets * cross "/").
    assert out["snap"]["value"] == ["config.json", "model.safetensors", "nested"], out["snap"]["value"]
    assert out["st"]["ok"], f"cached public file not served offline: {describe(out['st'])}"
    assert out["st_sha"] == tiny.sha256("model.safetensors")
    assert f"/snapshots/{commit}/" in out["st"]["value"], f"not stored at commit {commit}: {out['st']['value']}"
    assert out["cfg"]["ok"] and bytes.fromhex(out["cfg"]["value"]) == tiny.files["config.json"], describe(out["cfg"])
    unc = out["uncached"]
    assert not unc["ok"], "an uncached file was served with the upstream stopped"
    text = " | ".join(unc["chain"])
    assert "upstream is unreachable" in text and "is not cached" in text, f"message not plain: {text}"

    # Gated files are never served offline to a client the upstream has not accepted (HEAD:
    # the client's own retries of an error would only slow this down). The owner's token
    # stays accepted for at most 60 s after the upstream last said yes; the Go test
    # TestOfflineServesCachedPublicFilesAcrossRestart covers the token case past that.
    status, hdrs, _ = raw_request(own_stack["url"], "HEAD",
                                  f"/{repos['gated'].repo_id}/resolve/main/model.safetensors")
    msg = hdrs.get("X-Error-Message", "")
    assert status == 502 and "not served offline" in msg, f"gated offline without token: {status} {msg}"
    assert own_stack["gw"].alive(), own_stack["gw"].describe_failure("died while offline")

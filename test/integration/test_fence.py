"""Proves the fence the other tests rely on: a fenced client reaches its endpoint and nothing
else. Pointed straight at the simulator, it can read the API and small git files, but LFS
bytes (on the CDN host) and Xet storage (on the CAS host) are out of reach. So when the
same client succeeds through the gateway, the gateway carried every byte."""

from __future__ import annotations

from hubclient import describe, run_client, sim_log, sim_reset

DIRECT = """
    out["cfg"] = catch(lambda: Path(hf_hub_download("safehub-test/tiny", "config.json")).read_text())
    out["st"] = catch(hf_hub_download, "safehub-test/tiny", "model.safetensors")
"""


def _direct(sim, hf_home, xet):
    sim_reset(sim["hub"])
    out = run_client(sim["hub"], DIRECT, hf_home, xet=xet)
    return out, sim_log(sim["hub"])


def test_fenced_client_cannot_reach_cdn(sim, repos, hf_home):
    out, log = _direct(sim, hf_home, xet=False)
    # Positive control: the endpoint itself is reachable through the fence.
    assert out["cfg"]["ok"], f"fenced client could not even reach its endpoint: {describe(out['cfg'])}"
    assert out["cfg"]["value"].encode() == repos["tiny"].files["config.json"]
    assert not out["st"]["ok"], "an LFS file was fetched although the CDN is fenced off"
    assert [e for e in log if e["listener"] == "hub" and "model.safetensors" in e["path"]], \
        "the client never asked the simulator for the file, so this proves nothing"
    assert not [e for e in log if e["listener"] == "cdn"], "the fenced client reached the CDN"


def test_fenced_client_cannot_reach_xet_cas(sim, hf_home):
    out, log = _direct(sim, hf_home, xet=True)
    assert out["cfg"]["ok"], describe(out["cfg"])
    assert not out["st"]["ok"], "an LFS file was fetched although the CDN and the CAS are fenced off"
    # The client really took the Xet route (token from the hub, then the CAS host) and was
    # stopped at the fence, which is what proves the fence covers hf_xet's own connections.
    cas_host = sim["cas"].removeprefix("http://")
    assert cas_host in out["st"]["msg"], f"the client did not try the Xet CAS: {describe(out['st'])}"
    assert not [e for e in log if e["listener"] in ("cdn", "cas")], \
        f"the fenced client reached the CDN or the Xet CAS: {[e for e in log if e['listener'] != 'hub']}"

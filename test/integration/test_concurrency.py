"""Several users at once, and a slow upstream: cold files are fetched correctly by parallel
clients, fetched upstream once, and HEAD never waits for a fill (DESIGN.md quality bars)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from hubclient import describe, raw_request, run_client, sim_log

PARALLEL = "safehub-test/parallel"


def test_parallel_cold_downloads_get_identical_bytes(gw, repos, workdir):
    want = repos["parallel"].sha256("a.safetensors")
    code = f"""out["r"] = catch(lambda: sha256_of(hf_hub_download({PARALLEL!r}, "a.safetensors")))"""
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: run_client(gw, code, workdir / "homes" / f"parallel-{i}"), range(4)))
    for out in results:
        assert out["r"]["ok"] and out["r"]["value"] == want, describe(out["r"])


def test_parallel_cold_gets_fetch_upstream_once(gw, sim, repos):
    """Single-flight fills (hub-protocol.md §17): eight simultaneous GETs of one cold file
    make one full fetch from the CDN, and every GET gets the whole file."""
    data = repos["parallel"].files["b.safetensors"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: raw_request(gw, "GET", f"/{PARALLEL}/resolve/main/b.safetensors"),
                                range(8)))
    for status, _, body in answers:
        assert status == 200 and body == data
    sha = repos["parallel"].sha256("b.safetensors")
    fetches = [e for e in sim_log(sim["hub"])
               if e["listener"] == "cdn" and sha in e["path"] and e["method"] == "GET" and not e["range"]]
    assert len(fetches) == 1, f"{len(fetches)} full CDN fetches for one cold file"


def test_head_of_cold_file_does_not_wait_for_the_fill(gw, repos):
    """The CDN sends half of this file and then stalls for 20 s; clients give HEAD 10 s."""
    data = repos["slow"].files["big.safetensors"]
    start = time.monotonic()
    status, h, _ = raw_request(gw, "HEAD", "/safehub-test/slow/resolve/main/big.safetensors", timeout=15)
    took = time.monotonic() - start
    assert status == 200, status
    assert h.get("X-Linked-Size") == str(len(data))
    assert took < 5, f"HEAD took {took:.1f} s on a cold file"

"""Listings through the gateway hide refused files (issue 2, point 4) and page correctly."""

from __future__ import annotations

import json
import re
import urllib.parse

from hubclient import describe, raw_request

REFUSED_IN_TINY = {"pytorch_model.bin", "nested/optimizer.pt"}


def test_list_repo_files_and_siblings_hide_pickles(client, repos):
    out = client("""
        out["files"] = sorted(api.list_repo_files("safehub-test/tiny"))
        out["siblings"] = sorted(s.rfilename for s in api.model_info("safehub-test/tiny").siblings)
        info = api.model_info("safehub-test/tiny", files_metadata=True)
        out["blobs"] = {s.rfilename: [s.size, s.lfs.sha256 if s.lfs else None] for s in info.siblings}
        out["tree"] = sorted(e.path for e in api.list_repo_tree("safehub-test/tiny", recursive=True))
        out["top"] = sorted(e.path for e in api.list_repo_tree("safehub-test/tiny"))
        out["sub"] = sorted(e.path for e in api.list_repo_tree("safehub-test/tiny", path_in_repo="nested"))
    """)
    tiny = repos["tiny"]
    visible = sorted(set(tiny.files) - REFUSED_IN_TINY)
    assert out["files"] == visible
    assert out["siblings"] == visible
    assert sorted(out["blobs"]) == visible
    assert out["blobs"]["model.safetensors"] == [len(tiny.files["model.safetensors"]),
                                                 tiny.sha256("model.safetensors")]
    assert out["tree"] == sorted(visible + ["nested", "nested/deeper", "odd names"])
    assert "pytorch_model.bin" not in out["top"] and "config.json" in out["top"]
    assert out["sub"] == ["nested/deeper", "nested/extra.safetensors"]


def test_paths_info_hides_pickles(client):
    out = client("""
        got = api.get_paths_info("safehub-test/tiny",
                                 ["config.json", "pytorch_model.bin", "model.safetensors", "nested/optimizer.pt", "nested"])
        out["paths"] = sorted(p.path for p in got)
    """)
    assert out["paths"] == ["config.json", "model.safetensors", "nested"]


def test_tree_paging_link_points_at_gateway(gw, repos):
    """Raw pages: every `Link rel=next` is on the gateway's origin and the union of pages is
    every file minus the refused ones (which sit on several different pages)."""
    many = repos["many"]
    path = f"/api/models/{many.repo_id}/tree/main?recursive=true&expand=false"
    seen, pages = [], 0
    while path:
        status, headers, body = raw_request(gw, "GET", path)
        assert status == 200, f"page {pages}: {status} {body[:300]!r}"
        page = json.loads(body)
        assert "xetHash" not in body.decode(), "xetHash leaked in a tree page"
        seen += [e["path"] for e in page if e["type"] == "file"]
        pages += 1
        link = headers.get("Link")
        path = None
        if link:
            m = re.search(r'<([^>]+)>;\s*rel="next"', link)
            if m:
                nxt = urllib.parse.urlsplit(m.group(1))
                assert f"{nxt.scheme}://{nxt.netloc}" == gw, f"Link not rewritten to the gateway: {link}"
                path = nxt.path + ("?" + nxt.query if nxt.query else "")
        assert pages < 50, "paging does not end"
    assert pages >= 4, f"expected several pages with the simulator's small page size, got {pages}"
    expected = sorted(f for f in many.files if not f.endswith(".bin"))
    assert sorted(seen) == expected
    assert len(seen) == len(set(seen)), "a file was listed twice"


def test_tree_paging_with_client(client, repos):
    out = client("""
        out["files"] = sorted(api.list_repo_files("safehub-test/many-files"))
        root = snapshot_download("safehub-test/many-files")
        out["snap"] = files_under(root)
    """)
    expected = sorted(f for f in repos["many"].files if not f.endswith(".bin"))
    assert out["files"] == expected
    assert out["snap"] == expected


def test_dataset_listing_hides_pickles(client, repos):
    out = client("""
        out["files"] = sorted(api.list_repo_files("safehub-test/tiny-data", repo_type="dataset"))
        out["r"] = catch(lambda: sorted(s.rfilename for s in api.dataset_info("safehub-test/tiny-data").siblings))
    """)
    expected = sorted(set(repos["dataset"].files) - {"data/features.pkl"})
    assert out["files"] == expected
    assert out["r"]["ok"] and out["r"]["value"] == expected, describe(out["r"])

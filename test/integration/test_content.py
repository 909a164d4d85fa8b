"""Content checks (issue 3): a pickle under a safe-looking name is refused by what its bytes
are, before any byte reaches the client. The file is a pickle.dumps of a __reduce__ object,
never loaded by anyone."""

from __future__ import annotations

from hubclient import describe, raw_request


def test_content_pickle_named_safetensors_refused(client):
    out = client("""
        out["r"] = catch(hf_hub_download, "safehub-test/disguised", "model.safetensors")
        out["cfg"] = catch(lambda: Path(hf_hub_download("safehub-test/disguised", "config.json")).read_text())
        cache = Path(os.environ["HF_HOME"]) / "hub"
        out["blobs"] = [p.name for p in cache.rglob("blobs/*")]
    """)
    r = out["r"]
    assert not r["ok"], "a pickle named model.safetensors was served"
    assert r["type"] == "RemoteEntryNotFoundError", describe(r)
    assert "safehub" in r["msg"] and "not safetensors" in r["msg"], r["msg"]
    assert out["cfg"]["ok"], describe(out["cfg"])  # the rest of the repo still flows
    assert len(out["blobs"]) == 1, f"something beyond config.json reached the client cache: {out['blobs']}"


def test_content_disguised_pickle_bytes_never_sent(gw, repos):
    data = repos["disguised"].files["model.safetensors"]
    status, h, body = raw_request(gw, "GET", "/safehub-test/disguised/resolve/main/model.safetensors")
    assert status == 404 and h.get("X-Error-Code") == "EntryNotFound", f"{status} {dict(h)}"
    assert data not in body and b"print" not in body
    status, h, body = raw_request(gw, "GET", "/safehub-test/disguised/resolve/main/model.safetensors",
                                  {"Range": "bytes=0-15"})
    assert status == 404, f"a Range request got around the content check: {status} {body!r}"

"""Wire-level answers of the gateway (issue 2, points 2 and 5, and "Bad input"), checked with
raw HTTP so nothing is normalised or followed on the way."""

from __future__ import annotations

import json

import pytest

from hubclient import raw_request, sim_log

TINY = "safehub-test/tiny"
XET_HEADERS = ("X-Xet-Hash", "X-Xet-Refresh-Route", "X-Xet-Cas-Url", "X-Xet-Access-Token",
               "X-Xet-Token-Expiration")


def assert_no_xet(headers):
    for h in XET_HEADERS:
        assert headers.get(h) is None, f"{h} relayed: {headers.get(h)}"
    for link in headers.get_all("Link") or []:
        assert "xet-auth" not in link and "xet-reconstruction-info" not in link, f"Xet Link relayed: {link}"


def test_head_lfs_file_metadata(gw, repos):
    tiny = repos["tiny"]
    status, h, body = raw_request(gw, "HEAD", f"/{TINY}/resolve/main/model.safetensors",
                                  {"Accept-Encoding": "identity"})
    assert status == 200, f"HEAD answered {status}, headers {dict(h)}"
    size = str(len(tiny.files["model.safetensors"]))
    assert h.get("Location") is None, f"Location relayed: {h.get('Location')}"
    assert len(h.get("X-Repo-Commit", "")) == 40
    assert h.get("X-Linked-Etag", "").strip('"') == tiny.sha256("model.safetensors")
    assert h.get("X-Linked-Size") == size
    assert h.get("Content-Length") == size
    assert h.get("ETag"), "no ETag"
    assert_no_xet(h)


def test_head_git_file_metadata(gw, repos):
    """A small git file: upstream answers with a relative 307 to resolve-cache; the gateway
    must answer 200 with the metadata itself."""
    tiny = repos["tiny"]
    status, h, _ = raw_request(gw, "HEAD", f"/{TINY}/resolve/main/config.json", {"Accept-Encoding": "identity"})
    assert status == 200, f"HEAD answered {status}, headers {dict(h)}"
    assert h.get("Location") is None
    assert len(h.get("X-Repo-Commit", "")) == 40
    assert h.get("ETag", "").removeprefix("W/").strip('"') == tiny.git_blob_sha1("config.json")
    assert h.get("Content-Length") == str(len(tiny.files["config.json"]))
    assert_no_xet(h)


def test_head_refused_file_is_coded_404(gw):
    status, h, _ = raw_request(gw, "HEAD", f"/{TINY}/resolve/main/pytorch_model.bin")
    assert status == 404
    assert h.get("X-Error-Code") == "EntryNotFound"
    assert len(h.get("X-Repo-Commit", "")) == 40
    assert h.get("X-Error-Message", "").startswith("safehub:"), h.get("X-Error-Message")


def test_range_get(gw, repos):
    data = repos["tiny"].files["model.safetensors"]
    status, h, body = raw_request(gw, "GET", f"/{TINY}/resolve/main/model.safetensors", {"Range": "bytes=100-4195"})
    assert status == 206, f"Range GET answered {status}"
    assert body == data[100:4196]
    assert h.get("Content-Range") == f"bytes 100-4195/{len(data)}"
    assert h.get("Content-Length") == "4096"
    status, h, body = raw_request(gw, "GET", f"/{TINY}/resolve/main/model.safetensors", {"Range": "bytes=1000-"})
    assert status == 206 and body == data[1000:]
    status, h, _ = raw_request(gw, "GET", f"/{TINY}/resolve/main/model.safetensors",
                               {"Range": f"bytes={len(data) + 10}-"})
    assert status == 416, f"unsatisfiable Range answered {status}"


def test_full_get_streams_exact_bytes(gw, repos):
    data = repos["tiny"].files["nested/extra.safetensors"]
    status, h, body = raw_request(gw, "GET", f"/{TINY}/resolve/main/nested/extra.safetensors")
    assert status == 200 and body == data
    assert h.get("Content-Length") == str(len(data))
    assert h.get("Content-Encoding") in (None, "identity")
    assert_no_xet(h)


def test_xet_read_token_refused(gw, sim):
    status, h, body = raw_request(gw, "GET", f"/api/models/{TINY}/xet-read-token/main")
    assert status == 403, f"xet-read-token answered {status}: {body[:200]!r}"
    assert "xet" in (h.get("X-Error-Message") or "").lower()
    assert not [e for e in sim_log(sim["hub"]) if "xet-read-token" in e["path"]], \
        "xet-read-token was forwarded upstream"


def test_api_json_has_no_xet_hash(gw):
    for path in (f"/api/models/{TINY}/tree/main?recursive=true",
                 f"/api/models/{TINY}/revision/main?blobs=true"):
        status, _, body = raw_request(gw, "GET", path)
        assert status == 200, path
        assert "xetHash" not in body.decode(), f"xetHash leaked in {path}"
    status, _, body = raw_request(gw, "POST", f"/api/models/{TINY}/paths-info/main",
                                  {"Content-Type": "application/x-www-form-urlencoded"},
                                  b"paths=model.safetensors&paths=pytorch_model.bin&expand=false")
    assert status == 200
    items = json.loads(body)
    assert [i["path"] for i in items] == ["model.safetensors"]
    assert "xetHash" not in body.decode()


@pytest.mark.parametrize("path", [
    f"/{TINY}/resolve/main/..%2F..%2F..%2Fetc%2Fpasswd",
    f"/{TINY}/resolve/main/../../../etc/passwd",
    f"/{TINY}/resolve/main/nested/%2e%2e/%2e%2e/config.json",
    f"/api/models/{TINY}/tree/main/..%2F..",
    "/api/models/..%2F..%2Fetc/passwd",
    f"/{TINY}/resolve/main/" + "a" * 5000,
    f"/{TINY}/resolve/main/a%00b",
    "/api/notatype/safehub-test/tiny",
])
def test_malformed_url_gets_coded_4xx(gw, sim, path):
    status, h, body = raw_request(gw, "GET", path)
    assert 400 <= status < 500, f"{path} answered {status}"
    assert h.get("X-Error-Code") or h.get("X-Error-Message"), f"{path}: uncoded {status}: {body[:200]!r}"
    forwarded = [e for e in sim_log(sim["hub"]) if ".." in e["path"] or "passwd" in e["path"]]
    assert not forwarded, f"a hostile path reached upstream: {forwarded}"
    # Still serving.
    assert raw_request(gw, "HEAD", f"/{TINY}/resolve/main/config.json")[0] == 200


def test_invalid_escape_is_400(gw):
    # Go's HTTP server rejects this request line before any handler runs, with a plain
    # 400; what matters is that it is a 400 and the gateway keeps serving.
    status, _, _ = raw_request(gw, "GET", f"/{TINY}/resolve/main/%zz")
    assert status == 400
    assert raw_request(gw, "HEAD", f"/{TINY}/resolve/main/config.json")[0] == 200


def test_unknown_route_is_clear_404(gw, sim):
    status, h, body = raw_request(gw, "GET", "/no/such/route/here")
    assert status == 404
    assert h.get("X-Error-Message") or body.strip(), "404 without any explanation"
    status, h, _ = raw_request(gw, "DELETE", f"/api/models/{TINY}")
    assert 400 <= status < 500, f"a write was not refused: {status}"
    assert not [e for e in sim_log(sim["hub"]) if e["method"] == "DELETE"], "a DELETE reached upstream"


def test_not_an_open_proxy(gw, sim):
    cdn_host = sim["cdn"].removeprefix("http://")
    # An absolute-form request line (how a client talks to a forward proxy): whatever the
    # gateway answers, it must not fetch from the named host.
    raw_request(gw, "GET", f"{sim['cdn']}/anything")
    status_connect, _, _ = raw_request(gw, "CONNECT", cdn_host)
    assert status_connect != 200, "CONNECT tunnel opened"
    assert not [e for e in sim_log(sim["hub"]) if e["listener"] == "cdn"], "the gateway proxied to another host"

"""A misbehaving upstream never turns into a truncated or corrupt success, nor into the
code-less errors that clients misreport as network failures ("Bad input" in issue 2)."""

from __future__ import annotations

import http.client

from hubclient import describe, raw_request

FAULTY = "safehub-test/faulty"


def _assert_never_wrong_bytes(gw, client, repos, name):
    data = repos["faulty"].files[name]
    out = client(f"""
        out["r"] = catch(lambda: sha256_of(hf_hub_download({FAULTY!r}, {name!r})))
        out["snap"] = [p.name for p in (Path(os.environ["HF_HOME"]) / "hub").rglob("snapshots/*/*")]
    """)
    r = out["r"]
    if r["ok"]:  # a resumed download may legitimately end with the right bytes
        assert r["value"] == repos["faulty"].sha256(name), f"{name}: the client got wrong bytes"
    else:
        assert name not in out["snap"], f"{name}: a failed download left a file in the snapshot"
    # The gateway must not have kept a bad copy: a full GET is the right bytes or an error
    # (an error status, or a dropped connection once streaming has begun).
    try:
        status, h, body = raw_request(gw, "GET", f"/{FAULTY}/resolve/main/{name}")
    except (http.client.HTTPException, ConnectionError):
        return r
    if status == 200:
        assert body == data, f"{name}: the gateway served {len(body)} wrong or partial bytes with 200"
    else:
        assert status >= 400, status
    return r


def test_cdn_short_body_is_never_a_truncated_success(gw, client, repos):
    _assert_never_wrong_bytes(gw, client, repos, "short.safetensors")


def test_cdn_corrupt_body_is_refused(gw, client, repos):
    r = _assert_never_wrong_bytes(gw, client, repos, "corrupt.safetensors")
    # Every copy upstream is corrupt (Range included), so no honest download can succeed.
    assert not r["ok"], "corrupt bytes (sha256 differs from X-Linked-Etag) were delivered"


def test_upstream_fault_before_first_byte_is_a_coded_error(gw):
    """A small file is verified before its first byte is sent, so when the upstream fails
    the gateway can still answer with a status and a reason instead of dropping the
    connection (which clients report as a network problem)."""
    for name in ("corrupt.safetensors", "short.safetensors"):
        try:
            status, h, _ = raw_request(gw, "GET", f"/{FAULTY}/resolve/main/{name}")
        except (http.client.HTTPException, ConnectionError) as e:
            raise AssertionError(f"{name}: connection dropped with no response ({e!r})") from None
        assert status >= 500 and h.get("X-Error-Message"), f"{name}: {status} {dict(h)}"


def test_rate_limit_is_relayed_with_retry_after(gw):
    status, h, _ = raw_request(gw, "GET", "/api/models/safehub-test/ratelimited")
    assert status == 429, status
    assert h.get("Retry-After") == "7"


def test_codeless_upstream_404_gets_a_code(gw):
    status, h, _ = raw_request(gw, "HEAD", "/safehub-test/broken/resolve/main/gone.json")
    assert 400 <= status < 600
    assert h.get("X-Error-Code") or status >= 500, \
        f"a code-less {status} was passed on (clients report it as a connection problem)"
    status, _, body = raw_request(gw, "GET", "/safehub-test/broken/resolve/main/config.json")
    assert status == 200, "the rest of the repo stopped working"


def test_upstream_errors_surface_as_hub_errors(client):
    out = client("""
        out["gone"] = catch(hf_hub_download, "safehub-test/broken", "gone.json")
    """)
    r = out["gone"]
    assert not r["ok"]
    assert r["type"] != "LocalEntryNotFoundError" or "safehub" in r["msg"], \
        f"the user is told to check their connection: {describe(r)}"

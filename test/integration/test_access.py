"""Gated and private repos keep the Hub's error codes through the gateway (issue 2, point 6),
and nothing the gateway cached for one token is served to a client without it."""

from __future__ import annotations

from hubclient import describe
from repos import GATED_TOKEN, PRIVATE_TOKEN, WRONG_TOKEN

DOWNLOAD_GATED = """
    out["cfg"] = catch(lambda: Path(hf_hub_download("safehub-test/gated", "config.json")).read_text())
    out["st"] = catch(lambda: sha256_of(hf_hub_download("safehub-test/gated", "model.safetensors")))
"""


def test_gated_without_token_raises_gated_repo_error(client):
    out = client(DOWNLOAD_GATED)
    for key in ("cfg", "st"):
        assert out[key]["type"] == "GatedRepoError", describe(out[key])


def test_gated_with_wrong_token_raises_gated_repo_error(client):
    out = client(DOWNLOAD_GATED, token=WRONG_TOKEN)
    assert out["st"]["type"] == "GatedRepoError", describe(out["st"])


def test_gated_with_token_works_and_cache_does_not_leak(client, repos, hf_home, workdir):
    gated = repos["gated"]
    out = client(DOWNLOAD_GATED, token=GATED_TOKEN)
    assert out["cfg"]["ok"], describe(out["cfg"])
    assert out["cfg"]["value"].encode() == gated.files["config.json"]
    assert out["st"]["ok"] and out["st"]["value"] == gated.sha256("model.safetensors"), describe(out["st"])
    # Now the gateway holds these bytes; a client without the token must still be refused.
    anon = client(DOWNLOAD_GATED, home=workdir / "homes" / "gated-anon-after")
    assert anon["st"]["type"] == "GatedRepoError", f"gated bytes served from cache: {describe(anon['st'])}"
    assert anon["cfg"]["type"] == "GatedRepoError", describe(anon["cfg"])
    wrong = client(DOWNLOAD_GATED, token=WRONG_TOKEN, home=workdir / "homes" / "gated-wrong-after")
    assert wrong["st"]["type"] == "GatedRepoError", describe(wrong["st"])


def test_private_repo(client, repos, workdir):
    code = """
        out["info"] = catch(lambda: api.model_info("safehub-test/private").id)
        out["st"] = catch(lambda: sha256_of(hf_hub_download("safehub-test/private", "model.safetensors")))
    """
    ok = client(code, token=PRIVATE_TOKEN)
    assert ok["info"]["ok"] and ok["info"]["value"] == "safehub-test/private", describe(ok["info"])
    assert ok["st"]["value"] == repos["private"].sha256("model.safetensors"), describe(ok["st"])
    anon = client(code, home=workdir / "homes" / "private-anon")
    for key in ("info", "st"):
        assert anon[key]["type"] == "RepositoryNotFoundError", describe(anon[key])


def test_gateway_log_never_contains_tokens(client, gateway, workdir):
    # Make sure every token has gone through the gateway at least once in this test.
    for i, token in enumerate((GATED_TOKEN, PRIVATE_TOKEN, WRONG_TOKEN)):
        client("""out["x"] = catch(hf_hub_download, "safehub-test/gated", "config.json")""", token=token,
               home=workdir / "homes" / f"token-log-{i}")
    text = gateway["proc"].log_text()
    assert text.strip(), "the gateway wrote no log at all"
    for token in (GATED_TOKEN, PRIVATE_TOKEN, WRONG_TOKEN):
        assert token not in text, "a user token was written to the gateway log"

"""Runs the real huggingface_hub client in a fenced subprocess, and talks raw HTTP.

The fence: every proxy variable points at a closed port and NO_PROXY names only the
endpoint's host, so httpx (and hf_xet's reqwest) can reach the endpoint and nothing
else. huggingface_hub reads its settings at import time, hence one subprocess per
scenario, each with its own HF_HOME unless a test shares one on purpose.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

from procs import free_port

RESULT_MARKER = "@@SAFEHUB-IT-RESULT@@"

# Prepended to every scenario. `catch` turns an exception into data the test can assert
# on (class name, every base class name, message) instead of a traceback to parse.
_PRELUDE = textwrap.dedent("""
    import json, os, sys, hashlib
    from pathlib import Path
    import huggingface_hub as hf
    from huggingface_hub import (hf_hub_download, snapshot_download, HfApi,
                                 get_safetensors_metadata)
    api = HfApi()
    out = {}

    def catch(fn, *args, **kwargs):
        try:
            return {"ok": True, "value": fn(*args, **kwargs)}
        except Exception as e:
            return {"ok": False, "type": type(e).__name__,
                    "mro": [c.__name__ for c in type(e).__mro__], "msg": str(e)}

    def sha256_of(path):
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()

    def files_under(root):
        root = Path(root)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
""")

_EPILOGUE = f"\nprint({RESULT_MARKER!r} + json.dumps(out, default=str))\n"

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def fenced_env(endpoint: str, hf_home: Path, *, token: str | None = None, xet: bool = True,
               extra: dict | None = None) -> dict:
    """Environment for a client that may reach only the endpoint's host."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("HF_") or k.startswith("HUGGING") or k.upper() in
                   {v.upper() for v in PROXY_VARS} or k.upper() == "NO_PROXY")}
    closed = f"http://127.0.0.1:{free_port()}"  # bound then released: nothing listens there
    for var in PROXY_VARS:
        env[var] = closed
    host = urllib.parse.urlsplit(endpoint).hostname
    env["NO_PROXY"] = env["no_proxy"] = host
    env.update({
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(hf_home),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        "HF_XET_TELEMETRY_ENABLED": "0",
        # hf_xet retries an unreachable CAS for minutes; a fenced (or leaked) Xet transfer
        # must fail within seconds instead.
        "HF_XET_CLIENT_RETRY_MAX_ATTEMPTS": "1",
        "DO_NOT_TRACK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    if token is not None:
        env["HF_TOKEN"] = token
        del env["HF_HUB_DISABLE_IMPLICIT_TOKEN"]
    if not xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    if extra:
        env.update(extra)
    return env


def run_client(endpoint: str, code: str, hf_home: Path, *, token: str | None = None,
               xet: bool = True, extra_env: dict | None = None, timeout: float = 120) -> dict:
    """Runs `code` (which fills the dict `out`) with the real client; returns `out`."""
    hf_home.mkdir(parents=True, exist_ok=True)
    script = _PRELUDE + textwrap.dedent(code) + _EPILOGUE
    env = fenced_env(endpoint, hf_home, token=token, xet=xet, extra=extra_env)
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=hf_home,
                          capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    # The scenario text is in the test's source; show what the client said.
    raise AssertionError(f"client scenario raised (exit {proc.returncode}); its stderr ends with:\n"
                         f"{proc.stderr[-2500:]}\n--- stdout ---\n{proc.stdout[-1000:]}")


def raw_request(base_url: str, method: str, path: str, headers: dict | None = None,
                body: bytes | None = None, timeout: float = 30) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One HTTP request with the path sent exactly as given (no normalising, no redirects,
    no proxies): for the wire-level tests."""
    parts = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data
    finally:
        conn.close()


def sim_log(hub_url: str) -> list[dict]:
    status, _, body = raw_request(hub_url, "GET", "/_sim/log")
    assert status == 200, f"GET /_sim/log answered {status}: {body[:300]!r}"
    return json.loads(body) or []


def sim_reset(hub_url: str) -> None:
    status, _, body = raw_request(hub_url, "POST", "/_sim/reset")
    assert status in (200, 204), f"POST /_sim/reset answered {status}: {body[:300]!r}"


def describe(result: dict) -> str:
    """Short text of a catch() result for assertion messages."""
    return json.dumps(result, default=str)[:2000]

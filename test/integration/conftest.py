"""Session fixtures: real binaries, generated repos, simulator and gateway processes.

Binaries come from $HUBSIM_BIN / $SAFEHUB_BIN (run.sh builds them once) or are built
here. The simulator listens on 127.0.0.2 (hub), 127.0.0.3 (CDN), 127.0.0.4 (Xet CAS);
the gateway on 127.0.0.1. Client scenarios run fenced so they reach only the gateway
(see hubclient.py).
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import pytest

try:
    import huggingface_hub  # noqa: F401  (the client runs in subprocesses of this interpreter)
    import safetensors  # noqa: F401
except ImportError as e:  # a clear failure, never a skip
    raise SystemExit(f"integration suite: {e}. Run it with /work/main/.venv/bin/python "
                     "(create the venv with scripts/deps.sh, or: python3 -m venv .venv && "
                     ".venv/bin/pip install -r test/requirements.txt)")

import hubclient
import procs
import repos as repo_builder


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("safehub-it")


@pytest.fixture(scope="session")
def bin_dir(workdir) -> Path:
    path = workdir / "bin"
    path.mkdir()
    return path


# Two fixtures, not one: the fence tests need only the simulator, so they still run (and
# prove the fence) while the gateway does not build.
@pytest.fixture(scope="session")
def hubsim_bin(bin_dir) -> Path:
    return procs.binary("HUBSIM_BIN", "./test/hubsim/cmd/hubsim", bin_dir)


@pytest.fixture(scope="session")
def safehub_bin(bin_dir) -> Path:
    return procs.binary("SAFEHUB_BIN", "./cmd/safehub", bin_dir)


@pytest.fixture(scope="session")
def repos(workdir) -> dict[str, repo_builder.Repo]:
    return repo_builder.build(workdir / "repos")


@pytest.fixture(scope="session")
def sim(request, hubsim_bin, repos, workdir) -> dict:
    """The running simulator: {"hub","cdn","cas"} URLs plus "proc"."""
    proc, urls = procs.start_hubsim(hubsim_bin, workdir / "repos", repo_builder.PAGE_SIZE,
                                    workdir / "hubsim.log")
    request.addfinalizer(proc.stop)
    return {**urls, "proc": proc}


@pytest.fixture(scope="session")
def gateway(request, sim, workdir) -> dict:
    """`safehub serve` in front of the simulator: {"url", "proc"}.

    SAFEHUB_IT_GATEWAY_URL=http://127.0.0.1:PORT uses a gateway you started yourself (e.g.
    under a debugger, with --upstream set to the simulator URL printed in hubsim.log)
    instead; tests that read the gateway's own log then fail."""
    external = os.environ.get("SAFEHUB_IT_GATEWAY_URL")
    if external:
        return {"url": external.rstrip("/"), "proc": procs.External(external)}
    safehub_bin = request.getfixturevalue("safehub_bin")
    proc, url = procs.start_gateway(safehub_bin, sim["hub"], workdir / "gw-cache", workdir / "gateway.log")
    request.addfinalizer(proc.stop)
    return {"url": url, "proc": proc}


@pytest.fixture
def gw(gateway, sim):
    """Per test: checks the gateway is still up before and after (a crash fails the test
    that caused it, with the gateway's log), and clears the simulator's request log."""
    if not gateway["proc"].alive():
        pytest.fail(gateway["proc"].describe_failure("was already down before this test"))
    hubclient.sim_reset(sim["hub"])
    yield gateway["url"]
    if not gateway["proc"].alive():
        pytest.fail(gateway["proc"].describe_failure("died during this test"))


_homes = itertools.count()


@pytest.fixture
def hf_home(workdir) -> Path:
    """A fresh client cache for one test."""
    return workdir / "homes" / f"home-{next(_homes)}"


@pytest.fixture
def client(gw, hf_home):
    """run(code, **kw): one fenced client scenario against the gateway."""

    def run(code: str, home: Path | None = None, **kwargs) -> dict:
        return hubclient.run_client(gw, code, home or hf_home, **kwargs)

    return run


def pytest_report_header(config):
    return f"safehub integration suite; client interpreter {sys.executable}"

"""Builds and runs the two real binaries: the Hub simulator and `safehub serve`.

Processes are started in their own process group and always killed by the caller's
finalizer (see conftest.py), so a failing test leaves nothing running.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def build_binary(package: str, out: Path) -> Path:
    """`go build -o out ./package` from the repo root; fails with the compiler's output."""
    proc = subprocess.run(["go", "build", "-o", str(out), package], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"go build {package} failed:\n{proc.stdout}{proc.stderr}")
    return out


def binary(env_var: str, package: str, bin_dir: Path) -> Path:
    """The binary named by env_var if set (run.sh builds once), else a fresh build."""
    given = os.environ.get(env_var)
    if given:
        path = Path(given)
        if not path.is_file():
            raise RuntimeError(f"{env_var}={given} is not a file")
        return path
    return build_binary(package, bin_dir / Path(package).name)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Proc:
    """A running child process with its stderr captured to a file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict | None = None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._log, env=env,
                                      start_new_session=True)

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def describe_failure(self, what: str) -> str:
        rc = self.popen.poll()
        state = f"exited with {rc}" if rc is not None else "still running"
        return f"{self.name} {what} ({state}); argv={self.argv}\n--- stderr tail ---\n{self.log_text()[-3000:]}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL after 5 s."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        if self.popen.stdout:
            self.popen.stdout.close()
        self._log.close()


class External:
    """Stands in for a gateway process the tester started; its log is not ours to read."""

    def __init__(self, url: str):
        self.url = url

    def alive(self) -> bool:
        return True

    def log_text(self) -> str:
        return ""

    def describe_failure(self, what: str) -> str:
        return f"external gateway {self.url} {what}"


def start_hubsim(bin_path: Path, repos_dir: Path, page_size: int, log_path: Path) -> tuple[Proc, dict]:
    """Starts hubsim on 127.0.0.2/3/4 and returns it with its {"hub","cdn","cas"} URLs."""
    proc = Proc("hubsim", [str(bin_path), "--repos", str(repos_dir),
                           "--listen", "127.0.0.2:0", "--cdn-listen", "127.0.0.3:0",
                           "--cas-listen", "127.0.0.4:0", "--page-size", str(page_size)], log_path)
    line: list[bytes] = []

    # readline() blocks; read on a thread so a simulator that never gets ready fails in 30 s.
    def read_first_line():
        line.append(proc.popen.stdout.readline())

    reader = threading.Thread(target=read_first_line, daemon=True)
    reader.start()
    reader.join(timeout=30)
    if not line or not line[0].strip():
        proc.stop()
        raise RuntimeError(proc.describe_failure("printed no ready line within 30 s"))
    try:
        urls = json.loads(line[0])
        assert {"hub", "cdn", "cas"} <= urls.keys()
    except (ValueError, AssertionError):
        proc.stop()
        raise RuntimeError(proc.describe_failure(f"printed an unexpected ready line {line[0]!r}"))
    # Drain further stdout so the simulator never blocks on a full pipe.
    threading.Thread(target=proc.popen.stdout.read, daemon=True).start()
    return proc, urls


def wait_for_port(proc: Proc, host: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(proc.describe_failure("exited before accepting connections"))
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    proc.stop()
    raise RuntimeError(proc.describe_failure(f"did not accept connections on {host}:{port} within {timeout} s"))


def start_gateway(bin_path: Path, upstream: str, cache_dir: Path, log_path: Path,
                  policy: Path | None = None) -> tuple[Proc, str]:
    """Starts `safehub serve` on a free 127.0.0.1 port; returns it and its base URL."""
    port = free_port()
    argv = [str(bin_path), "serve", "--listen", f"127.0.0.1:{port}", "--upstream", upstream,
            "--cache-dir", str(cache_dir)]
    if policy is not None:
        argv += ["--policy", str(policy)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEHUB_")}
    proc = Proc("safehub serve", argv, log_path, env=env)
    wait_for_port(proc, "127.0.0.1", port)
    return proc, f"http://127.0.0.1:{port}"

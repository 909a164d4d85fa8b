#!/usr/bin/env python3
"""Load and fault script for safehub serve (issue 5, point 8). Not a unit test.

Runs on loopback only, against the Hub simulator (test/hubsim), with the
binaries built from this checkout by `go build`:

  (a) --clients concurrent clients download the same cold --size-mib file
      through safehub: exactly one full upstream (CDN) fetch, identical bytes
      for every client (sha256), time to first byte and total time;
  (b) the gateway SIGKILLed during a fill and restarted on the same cache:
      nothing half-written published, staging cleaned, next request completes;
  (c) the simulator SIGKILLed mid-transfer: every client gets an error (never
      a complete-looking response), and the cache keeps nothing.

Every wait is bounded; the whole run stops by itself after --timeout seconds.
Prints a table and writes bench/out/load-results.md. Exit 0 when every check
holds, 1 when one fails, 3 on timeout.

Usage: python3 bench/load/load.py [--clients 100] [--size-mib 1024] [--timeout 900]
Needs: go (to build safehub and hubsim), Python 3.9+ stdlib only.
"""
import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "bench", "out")
BUF = 256 << 10
PROCS = []  # every child, so the watchdog and the finally block can stop them


def fail(msg):
    raise Check(msg)


class Check(Exception):
    """A property the script measures did not hold."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.02)
    fail(f"safehub serve did not listen on 127.0.0.1:{port} within {timeout}s")


def make_safetensors(path, size, tensor="w"):
    """A valid safetensors file of exactly `size` bytes (sparse zeros). The
    tensor name makes files of one size differ: the cache is content-addressed."""
    for hl in range(64, 256, 8):
        body = size - 8 - hl
        h = json.dumps({tensor: {"dtype": "U8", "shape": [body], "data_offsets": [0, body]}}, separators=(",", ":"))
        if len(h) <= hl:
            header = h + " " * (hl - len(h))
            break
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header.encode())
        f.truncate(size)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 << 20):
            h.update(chunk)
    return h.hexdigest()


def get(port, path, timeout=120, host="127.0.0.1"):
    """One GET read to the end. Returns a dict: status, length (announced),
    n (body bytes), sha256, ttfb, total, err (exception text or None),
    complete (the response ended cleanly with all announced bytes)."""
    r = {"status": 0, "length": None, "n": 0, "sha256": None, "ttfb": None, "total": None, "err": None,
         "complete": False, "msg": ""}
    h = hashlib.sha256()
    buf = bytearray(BUF)
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "safehub-load/1"})
        resp = conn.getresponse()
        r["status"] = resp.status
        r["length"] = resp.length
        r["msg"] = resp.getheader("X-Error-Message", "")
        while True:
            k = resp.readinto(buf)
            if not k:
                break
            if r["ttfb"] is None:
                r["ttfb"] = time.perf_counter() - t0
            h.update(memoryview(buf)[:k])
            r["n"] += k
        # http.client ends quietly when a body with a Content-Length is cut
        # (a cut chunked body raises), so judge by the announced length.
        r["complete"] = r["length"] is None or r["n"] == r["length"]
    except (OSError, http.client.HTTPException) as e:
        r["err"] = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    r["total"] = time.perf_counter() - t0
    r["sha256"] = h.hexdigest()
    return r


def looks_complete(r):
    """A response a client would take as a whole file: 200, ended cleanly,
    as many bytes as announced (or no length announced at all)."""
    return r["status"] == 200 and not r["err"] and r["complete"]


def outcome(r):
    """What a client saw, in a few words, for the report."""
    if r["err"]:
        return r["err"].split(":")[0]
    if r["status"] != 200:
        return f"HTTP {r['status']}"
    if not r["complete"]:
        return "body cut short of its Content-Length"
    return "complete"


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class Gateway:
    """A `safehub serve` process on a fixed port and cache dir."""

    def __init__(self, binary, upstream, cache, port, log_path):
        self.args = [binary, "serve", "--listen", f"127.0.0.1:{port}", "--upstream", upstream, "--cache-dir", cache]
        self.port, self.log_path, self.proc = port, log_path, None

    def start(self):
        t0 = time.perf_counter()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        log.close()
        PROCS.append(self.proc)
        wait_port(self.port)
        return time.perf_counter() - t0

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


class Sim:
    def __init__(self, binary, repos):
        self.proc = subprocess.Popen([binary, "--repos", repos], stdout=subprocess.PIPE, text=True)
        PROCS.append(self.proc)
        self.urls = json.loads(self.proc.stdout.readline() or "null") or fail("hubsim did not start")
        self.hub = urllib.parse.urlsplit(self.urls["hub"])

    def request(self, method, path):
        conn = http.client.HTTPConnection(self.hub.hostname, self.hub.port, timeout=300)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def cdn_gets(self, sha):
        """(full GETs, range GETs) of the blob sha on the simulated CDN."""
        _, _, body = self.request("GET", "/_sim/log")
        full = ranged = 0
        for e in json.loads(body):
            if e["listener"] == "cdn" and e["method"] == "GET" and e["path"].endswith("/" + sha):
                if e["range"]:
                    ranged += 1
                else:
                    full += 1
        return full, ranged

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def wait_staged(staging, nbytes, timeout=120):
    """Path of a staging file holding at least nbytes (a fill half done)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for name in os.listdir(staging) if os.path.isdir(staging) else []:
            p = os.path.join(staging, name)
            try:
                if os.path.getsize(p) >= nbytes:
                    return p
            except FileNotFoundError:
                pass
        time.sleep(0.005)
    fail(f"no fill reached {nbytes} bytes in {staging} within {timeout}s")


def cache_ls(safehub, cache):
    out = subprocess.run([safehub, "cache", "ls", "--json", "--cache-dir", cache], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        fail(f"safehub cache ls failed: {out.stderr.strip()}")
    return {b["digest"]: b["size"] for b in json.loads(out.stdout)["blobs"]}


def in_threads(n, fn):
    results = [None] * n
    def run(i):
        results[i] = fn(i)
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def scenario_a(args, sim, gw, sha, size, rows):
    """Many clients, one cold blob."""
    path = "/load/big/resolve/main/model.safetensors"
    t0 = time.perf_counter()
    threads, res = in_threads(args.clients, lambda i: get(gw.port, path, timeout=300))
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    full, ranged = sim.cdn_gets(sha)
    bad = [r for r in res if r["status"] != 200 or r["err"] or r["n"] != size]
    sums = {r["sha256"] for r in res}
    ttfb = [r["ttfb"] for r in res if r["ttfb"] is not None]
    total = [r["total"] for r in res]
    rows += [
        ("a", f"{args.clients} clients, cold {size >> 20} MiB: full upstream fetches", f"{full} (+{ranged} range reads of the header)", full == 1),
        ("a", "clients with status 200 and all bytes", f"{args.clients - len(bad)}/{args.clients}", not bad),
        ("a", "distinct sha256 among clients / equals the file", f"{len(sums)} / {sums == {sha}}", sums == {sha}),
        ("a", "time to first byte median / p95 / max", f"{statistics.median(ttfb):.3f} / {pct(ttfb, 95):.3f} / {max(ttfb):.3f} s" if ttfb else "none", bool(ttfb)),
        ("a", "total time median / p95 / max", f"{statistics.median(total):.2f} / {pct(total, 95):.2f} / {max(total):.2f} s", True),
        ("a", "wall time, aggregate throughput", f"{wall:.1f} s, {args.clients * size / wall / (1 << 20):.0f} MiB/s", True),
    ]
    if bad:
        print("first failures:", bad[:3], file=sys.stderr)
    # The same file again, now from disk: no new upstream fetch.
    r = get(gw.port, path, timeout=300)
    full2, _ = sim.cdn_gets(sha)
    rows.append(("a", "one more request (cache hit): total time, new upstream fetches",
                 f"{r['total']:.2f} s, {full2 - full}", r["sha256"] == sha and full2 == full))


def scenario_b(args, sim, gw, safehub, cache, sha, size, rows):
    """The gateway killed while a fill is half staged, then restarted."""
    path = "/load/crash/resolve/main/model.safetensors"
    staging = os.path.join(cache, "store", "staging")
    threads, res = in_threads(1, lambda i: get(gw.port, path, timeout=120))
    part = wait_staged(staging, size // 2)
    gw.kill()
    threads[0].join(60)
    r = res[0] or {}
    cut = bool(r) and not looks_complete(r)
    rows.append(("b", "client of the killed fill gets an error (not a complete file)",
                 f"{outcome(r) if r else 'no answer'} after {r.get('n', 0) >> 20} of {size >> 20} MiB", cut))
    listed = cache_ls(safehub, cache)
    rows.append(("b", "after the kill: blob listed / stale staging file left",
                 f"{'sha256:' + sha in listed} / {os.path.exists(part)}", "sha256:" + sha not in listed and os.path.exists(part)))
    restart = gw.start()
    left = os.listdir(staging)
    rows.append(("b", "restart time; staging files after restart", f"{restart:.2f} s; {len(left)}", not left))
    r = get(gw.port, path, timeout=120)
    ok = r["status"] == 200 and not r["err"] and r["n"] == size and r["sha256"] == sha
    rows.append(("b", "next request completes with the right bytes (includes the sim's stall)",
                 f"status {r['status']}, {r['n'] >> 20} MiB, sha256 ok {r['sha256'] == sha}, {r['total']:.2f} s", ok))
    # The commit (fsync, link) may end just after the last byte went out.
    t0, end = time.monotonic(), time.monotonic() + 30
    while (listed := cache_ls(safehub, cache)).get("sha256:" + sha) != size and time.monotonic() < end:
        time.sleep(0.05)
    good = listed.get("sha256:" + sha) == size
    rows.append(("b", "blob listed after that (wait for the commit)", f"{good} ({time.monotonic() - t0:.2f} s)", good))


def scenario_c(args, sim, gw, safehub, cache, sha, size, rows):
    """The upstream killed while several clients stream a fill."""
    path = "/load/upkill/resolve/main/model.safetensors"
    staging = os.path.join(cache, "store", "staging")
    n = args.fault_clients
    end = time.monotonic() + 30  # so the fill seen below is this scenario's
    while os.listdir(staging) and time.monotonic() < end:
        time.sleep(0.05)
    if os.listdir(staging):
        fail(f"staging not empty before (c): {os.listdir(staging)}")
    threads, res = in_threads(n, lambda i: get(gw.port, path, timeout=120))
    wait_staged(staging, size // 2)
    sim.kill()
    for t in threads:
        t.join(90)
    complete = [r for r in res if r and looks_complete(r)]
    errors = sorted({outcome(r) for r in res if r})
    started = sum(1 for r in res if r and r["status"] == 200 and r["n"] > 0)
    rows.append(("c", f"{n} clients mid-transfer when the upstream dies: were receiving / complete-looking",
                 f"{started} / {len(complete)} (what they saw: {', '.join(errors)})",
                 started == n and not complete and all(res)))
    end = time.monotonic() + 30
    while os.listdir(staging) and time.monotonic() < end:
        time.sleep(0.05)
    listed = cache_ls(safehub, cache)
    kept = "sha256:" + sha in listed
    rows.append(("c", "cache keeps nothing: blob listed / staging files", f"{kept} / {len(os.listdir(staging))}",
                 not kept and not os.listdir(staging)))
    r = get(gw.port, path, timeout=60)
    rows.append(("c", "a new request with the upstream down", f"HTTP {r['status']} in {r['total']:.2f} s: {r['msg'][:70]}",
                 r["status"] >= 500 and r["n"] < size))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--size-mib", type=int, default=1024, help="size of the shared cold file")
    ap.add_argument("--fault-mib", type=int, default=64, help="size of the files of the fault scenarios")
    ap.add_argument("--fault-clients", type=int, default=5)
    ap.add_argument("--timeout", type=int, default=900, help="whole run, seconds")
    args = ap.parse_args()
    if not shutil.which("go"):
        sys.exit("go not found: install Go 1.26 (see README) to build safehub and hubsim")
    deadline = threading.Timer(args.timeout, watchdog, args=(args.timeout,))
    deadline.daemon = True
    deadline.start()
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="safehub-load-")
    rows, ok = [], False
    try:
        bins = os.path.join(work, "bin")
        subprocess.run(["go", "build", "-o", bins + "/", "./cmd/safehub", "./test/hubsim/cmd/hubsim"], cwd=ROOT,
                       check=True, timeout=600)
        safehub, hubsim = os.path.join(bins, "safehub"), os.path.join(bins, "hubsim")
        repos = os.path.join(work, "repos")
        files = {"big": args.size_mib << 20, "crash": args.fault_mib << 20, "upkill": args.fault_mib << 20}
        shas = {}
        for name, size in files.items():
            p = os.path.join(repos, "models", "load", name, "model.safetensors")
            os.makedirs(os.path.dirname(p))
            make_safetensors(p, size, tensor=name)
            shas[name] = sha256_file(p)
        # Half, then a pause: the window in which (b) and (c) kill a process.
        with open(os.path.join(repos, "hubsim.json"), "w") as f:
            json.dump({"models/load/crash": {"cdn_faults": {"model.safetensors": "stall"}, "stall_ms": 3000},
                       "models/load/upkill": {"cdn_faults": {"model.safetensors": "stall"}, "stall_ms": 60000}}, f)
        sim = Sim(hubsim, repos)
        for name in files:  # the simulator hashes each file once, before any timing
            st, hdr, _ = sim.request("HEAD", f"/load/{name}/resolve/main/model.safetensors")
            if st != 302 or hdr.get("X-Linked-Etag", "").strip('"') != shas[name]:
                fail(f"simulator HEAD of {name}: {st}, X-Linked-Etag {hdr.get('X-Linked-Etag')}")
        cache = os.path.join(work, "cache")
        gw = Gateway(safehub, sim.urls["hub"], cache, free_port(), os.path.join(work, "serve.log"))
        gw.start()
        print(f"running: (a) {args.clients} clients x {args.size_mib} MiB ...", flush=True)
        scenario_a(args, sim, gw, shas["big"], files["big"], rows)
        print("running: (b) gateway killed during a fill ...", flush=True)
        scenario_b(args, sim, gw, safehub, cache, shas["crash"], files["crash"], rows)
        print("running: (c) upstream killed mid-transfer ...", flush=True)
        scenario_c(args, sim, gw, safehub, cache, shas["upkill"], files["upkill"], rows)
        ok = all(r[3] for r in rows)
    except Check as e:
        rows.append(("!", "stopped", str(e), False))
    finally:
        stop_all()
        log = os.path.join(work, "serve.log")
        if not ok and os.path.exists(log):
            with open(log, errors="replace") as f:
                print("serve log (last lines):\n" + "".join(f.readlines()[-15:]), file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    report(args, rows, ok)
    sys.exit(0 if ok else 1)


def report(args, rows, ok):
    lines = [f"# safehub load and fault run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{os.cpu_count()} cores, loopback, Hub simulator)", "",
             "| | check | result | ok |", "|---|---|---|---|"]
    lines += [f"| {s} | {what} | {res} | {'yes' if good else '**NO**'} |" for s, what, res, good in rows]
    lines += ["", f"Overall: {'all checks hold' if ok else 'FAILED'}. "
              f"Command: python3 bench/load/load.py --clients {args.clients} --size-mib {args.size_mib}"]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(OUT, "load-results.md"), "w") as f:
        f.write(text)


def stop_all():
    for p in reversed(PROCS):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def watchdog(secs):
    print(f"load.py: timed out after {secs}s; stopping", file=sys.stderr, flush=True)
    for p in PROCS:
        if p.poll() is None:
            p.kill()
    os._exit(3)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Gateway throughput benchmark (not a test): safehub vs nginx proxy_pass.

Serves 1 GiB safetensors files from the Hub simulator's CDN listener and
downloads them through `safehub serve` (which resolves each on the simulated
Hub, checks its header, fills its verified cache while streaming) and
through Debian's nginx proxying the same CDN URLs; then a cached file from
safehub against nginx serving the same file as a static file. Rounds
alternate so both see the same machine state. Reports median throughputs,
their ratios, safehub's peak RSS during 8 parallel cold downloads, and the
HEAD latency of a cold 10 GiB file. Writes bench/out/gateway-results.md.

Usage: python3 bench/gateway/bench.py [--size-mib 1024] [--rounds 5]
Needs: go, curl, nginx (apt-get install nginx-light).
"""
import argparse
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
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "bench", "out")


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listening on {host}:{port} after {timeout}s")


def make_safetensors(path, size, tensor="w"):
    """A valid safetensors file of exactly `size` bytes (sparse zeros)."""
    # Solve 8 + len(header) + body == size, with body the U8 tensor's bytes.
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


def curl(url, out=os.devnull):
    r = subprocess.run(["curl", "-sS", "--noproxy", "*", "-o", out, "-w", "%{http_code} %{size_download} %{time_total}", url],
                       capture_output=True, text=True, check=True)
    code, size, secs = r.stdout.split()
    if code != "200":
        sys.exit(f"{url}: HTTP {code}")
    return int(size), float(secs)


def parallel(url, n):
    results = [None] * n
    def one(i):
        results[i] = curl(url)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    total = sum(r[0] for r in results)
    return total / wall, results


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--head-gib", type=int, default=10, help="size of the cold files for the HEAD latency check")
    ap.add_argument("--head-files", type=int, default=3)
    args = ap.parse_args()
    for tool in ("go", "curl", "nginx"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/nginx"):
            sys.exit(f"{tool} not found (apt-get install nginx-light curl)")
    os.makedirs(OUT, exist_ok=True)
    bins = os.path.join(OUT, "bin")
    subprocess.run(["go", "build", "-o", bins + "/", "./cmd/safehub", "./test/hubsim/cmd/hubsim"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="safehub-bench-")
    procs = []
    try:
        repo = os.path.join(work, "repos", "models", "bench", "big")
        os.makedirs(repo)
        size = args.size_mib << 20
        # Distinct files (distinct tensor names, so distinct sha256): every
        # cold round meets a blob the gateway has never cached.
        cold_names = [f"cold{i}.safetensors" for i in range(args.rounds + 1)]
        for i, name in enumerate(cold_names + ["hot.safetensors"]):
            make_safetensors(os.path.join(repo, name), size, tensor=f"w{i}")
        for i in range(args.head_files):
            make_safetensors(os.path.join(repo, f"huge{i}.safetensors"), args.head_gib << 30, tensor=f"h{i}")
        sim = subprocess.Popen([os.path.join(bins, "hubsim"), "--repos", os.path.join(work, "repos")],
                               stdout=subprocess.PIPE, text=True)
        procs.append(sim)
        urls = json.loads(sim.stdout.readline())
        opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))

        def cdn_url(name):
            """Where the Hub's 302 for a file points (the simulator hashes it on the way)."""
            req = urllib.request.Request(urls["hub"] + "/bench/big/resolve/main/" + name, method="HEAD")
            try:
                opener.open(req, timeout=300)
            except urllib.error.HTTPError as e:
                return urllib.parse.urlsplit(e.headers["Location"])
            sys.exit("simulator did not redirect to its CDN")

        cdn = {name: cdn_url(name) for name in cold_names + ["hot.safetensors"]}
        origin = next(iter(cdn.values()))

        gw_port = free_port()
        gw = subprocess.Popen([os.path.join(bins, "safehub"), "serve", "--listen", f"127.0.0.1:{gw_port}",
                               "--upstream", urls["hub"], "--cache-dir", os.path.join(work, "cache")],
                              stderr=subprocess.DEVNULL)
        procs.append(gw)
        wait_port("127.0.0.1", gw_port)

        ng_port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""{"user root root; " if os.geteuid() == 0 else ""}worker_processes auto; daemon off; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; client_body_temp_path {work}/ngx-body; proxy_temp_path {work}/ngx-proxy;
  fastcgi_temp_path {work}/ngx-fcgi; uwsgi_temp_path {work}/ngx-uwsgi; scgi_temp_path {work}/ngx-scgi;
  server {{ listen 127.0.0.1:{ng_port};
    location /static/ {{ alias {repo}/; }}
    location / {{ proxy_pass {origin.scheme}://{origin.netloc}; proxy_http_version 1.1; }} }}
}}
""")
        ng = subprocess.Popen(["/usr/sbin/nginx", "-c", conf], stderr=subprocess.DEVNULL)
        procs.append(ng)
        wait_port("127.0.0.1", ng_port)

        def via_safehub(name):
            return f"http://127.0.0.1:{gw_port}/bench/big/resolve/main/{name}"

        def via_nginx(name):
            u = cdn[name]
            return f"http://127.0.0.1:{ng_port}{u.path}?{u.query}"

        def timed(url):
            n, secs = curl(url)
            assert n == size, f"{url} sent {n} bytes, want {size}"
            return n / secs

        # Cold: safehub meets each blob for the first time (fill path, sha256
        # and re-scan before the last byte); nginx proxies the same CDN URL.
        cold = {"safehub": [], "nginx": []}
        for name in cold_names[:-1]:
            cold["nginx"].append(timed(via_nginx(name)))
            cold["safehub"].append(timed(via_safehub(name)))

        peak = [0]
        stop = threading.Event()
        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(gw.pid))
                time.sleep(0.02)
        par = {"nginx": parallel(via_nginx(cold_names[-1]), args.parallel)[0]}
        sampler = threading.Thread(target=sample)
        sampler.start()
        par["safehub"] = parallel(via_safehub(cold_names[-1]), args.parallel)[0]  # 8 cold clients, one fill
        stop.set()
        sampler.join()

        # From cache: safehub serving a verified blob from its store (after
        # asking the upstream about the request) vs nginx serving the same
        # file from disk as a static file.
        timed(via_safehub("hot.safetensors"))  # fill once
        hot = {"safehub": [], "nginx static": []}
        for _ in range(args.rounds):
            hot["nginx static"].append(timed(f"http://127.0.0.1:{ng_port}/static/hot.safetensors"))
            hot["safehub"].append(timed(via_safehub("hot.safetensors")))

        # HEAD of a cold 10 GiB file: the simulator has hashed it already (a
        # direct HEAD first), the gateway has never seen it, so its answer
        # costs the upstream HEAD plus the header read of the content check.
        head_direct, head_gw = [], []
        for i in range(args.head_files):
            path = f"/bench/big/resolve/main/huge{i}.safetensors"
            head(opener, urls["hub"] + path)  # simulator hashes the file once
            head_direct.append(head(opener, urls["hub"] + path))
            head_gw.append(head(opener, f"http://127.0.0.1:{gw_port}" + path))

        mb = 1 << 20
        med = lambda v: statistics.median(v) / mb
        lines = [
            f"# Gateway benchmark ({args.size_mib} MiB files, {args.rounds} alternating rounds, {os.cpu_count()} cores)",
            "",
            "| case | safehub | nginx | safehub/nginx |",
            "|---|---|---|---|",
            f"| cold file, one client (median MiB/s) | {med(cold['safehub']):.0f} | {med(cold['nginx']):.0f} (proxy_pass to the CDN) | {med(cold['safehub'])/med(cold['nginx']):.2f} |",
            f"| cold file, {args.parallel} clients at once (aggregate MiB/s) | {par['safehub']/mb:.0f} | {par['nginx']/mb:.0f} (proxy_pass to the CDN) | {par['safehub']/par['nginx']:.2f} |",
            f"| cached file, one client (median MiB/s) | {med(hot['safehub']):.0f} | {med(hot['nginx static']):.0f} (static file) | {med(hot['safehub'])/med(hot['nginx static']):.2f} |",
            "",
            f"safehub peak RSS during {args.parallel} parallel cold downloads: {peak[0]/1024:.1f} MiB",
            f"HEAD of a cold {args.head_gib} GiB safetensors file (median of {args.head_files}): "
            f"direct to the simulated Hub {statistics.median(head_direct)*1000:.1f} ms, "
            f"through safehub (upstream HEAD + header scan) {statistics.median(head_gw)*1000:.1f} ms",
        ]
        report = "\n".join(lines) + "\n"
        print(report)
        with open(os.path.join(OUT, "gateway-results.md"), "w") as f:
            f.write(report)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def head(opener, url):
    """Seconds for one HEAD (redirects not followed)."""
    t0 = time.perf_counter()
    try:
        opener.open(urllib.request.Request(url, method="HEAD"), timeout=300).close()
    except urllib.error.HTTPError as e:
        if e.code >= 400:
            sys.exit(f"HEAD {url}: {e.code}")
    return time.perf_counter() - t0


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


if __name__ == "__main__":
    main()

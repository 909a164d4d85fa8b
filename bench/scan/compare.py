"""Compare safehub's scanner with picklescan and modelscan on the corpus.

Run by bench.sh inside bench/out/venv (which has picklescan and modelscan):
    python compare.py --corpus DIR --scanjson BIN --safehub BIN [--big FILE] --out FILE.md

Each tool's answer on a file becomes one outcome:
  malicious  the tool names the file malicious (safehub unsafe, picklescan
             "dangerous" global, modelscan CRITICAL/HIGH issue)
  flagged    not named malicious, but a default pipeline would stop on it
             (safehub unknown, picklescan scan error, modelscan error or
             MEDIUM/LOW issue)
  clean      the file would pass (picklescan's "suspicious" globals still
             exit 0, so they count as clean; shown separately)
picklescan and modelscan run in this process, like safehub's scanjson, so
start-up costs stay out of throughput numbers."""

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time

PER_FILE_TIMEOUT = 120
DENSE = ["bench/dense_builtins.pkl", "bench/dense_builtins_p2.pkl", "bench/dense_views.pt"]


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def timed(fn, path):
    """(outcome, detail, seconds) with a wall-clock cap; exceptions are errors."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(PER_FILE_TIMEOUT)
    t0 = time.perf_counter()
    try:
        out, detail = fn(path)
    except Timeout:
        out, detail = "flagged", "timeout after %ds" % PER_FILE_TIMEOUT
    except Exception as ex:  # a crash is what a pipeline sees as an error
        out, detail = "flagged", "crash: %s: %s" % (type(ex).__name__, str(ex)[:80])
    finally:
        signal.alarm(0)
    return out, detail, time.perf_counter() - t0


def picklescan_one(path):
    from picklescan.scanner import scan_file_path
    r = scan_file_path(path)
    if r.infected_files > 0:
        bad = sorted({"%s.%s" % (g.module, g.name) for g in r.globals
                      if g.safety.value == "dangerous"})
        return "malicious", ",".join(bad)[:80]
    if r.scan_err:
        return "flagged", "scan error"
    if r.suspicious_count:
        return "clean", "suspicious only (exit 0)"
    return "clean", ""


def modelscan_one(path):
    from modelscan.modelscan import ModelScan
    rep = ModelScan().scan(path)
    sev = {i.get("severity") for i in rep.get("issues", [])}
    if sev & {"CRITICAL", "HIGH"}:
        return "malicious", ",".join(sorted(sev))
    if sev:
        return "flagged", ",".join(sorted(sev))
    if rep.get("errors"):
        return "flagged", "error: " + str(rep["errors"][0].get("description", ""))[:60]
    if not rep["summary"]["scanned"]["total_scanned"]:
        return "clean", "skipped"
    return "clean", ""


def run_scanjson(scanjson, corpus, entries, repeat=1):
    """safehub verdicts per file, grouped by profile (one process per profile)."""
    by_profile = {}
    for e in entries:
        by_profile.setdefault(e["profile"], []).append(e["file"])
    rows = {}
    for prof, files in by_profile.items():
        cmd = [scanjson, "-profile", prof, "-repeat", str(repeat)] + [
            os.path.join(corpus, f) for f in files]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        for f, r in zip(files, json.loads(out)):
            rows[f] = r
    return rows


def safehub_outcome(r):
    if r.get("error"):
        return "flagged", "error: " + r["error"][:60]
    return {"unsafe": "malicious", "unknown": "flagged", "safe": "clean"}[r["verdict"]], r["verdict"]


def accepted(e):
    return e["expect"] if isinstance(e["expect"], list) else [e["expect"]]


def best_of(n, fn, path):
    return min(timed(fn, path)[2] for _ in range(n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--scanjson", required=True)
    ap.add_argument("--safehub", required=True)
    ap.add_argument("--big")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    logging.disable(logging.CRITICAL)

    entries = json.load(open(os.path.join(a.corpus, "manifest.json")))["entries"]
    sh = run_scanjson(a.scanjson, a.corpus, entries)
    results = {"safehub": {}, "picklescan": {}, "modelscan": {}}
    times = {"safehub": 0.0, "picklescan": 0.0, "modelscan": 0.0}
    per_file = {tool: [] for tool in times}
    for e in entries:
        p = os.path.join(a.corpus, e["file"])
        r = sh[e["file"]]
        results["safehub"][e["file"]] = safehub_outcome(r)
        times["safehub"] += r.get("seconds", 0)
        per_file["safehub"].append((r.get("seconds", 0), e["file"]))
        for tool, fn in (("picklescan", picklescan_one), ("modelscan", modelscan_one)):
            out, detail, secs = timed(fn, p)
            results[tool][e["file"]] = (out, detail)
            times[tool] += secs
            per_file[tool].append((secs, e["file"]))

    lines = []
    say = lines.append
    say("# safehub scan vs picklescan 1.0.5 vs modelscan 0.8.8\n")
    say("Corpus: %d files (%s). Generated by test/corpus/gen.py.\n" % (
        len(entries), a.corpus))
    bad = [e for e in entries if e["class"] != "benign"]
    good = [e for e in entries if e["class"] == "benign" and accepted(e) == ["safe"]]
    say("## Accuracy\n")
    say("Malicious files: %d (bypass classes 1-40, plus ONNX extras). Benign files expected safe: %d.\n" % (
        len(bad), len(good)))
    say("| tool | named malicious | stopped otherwise (unknown/error) | missed (passes) "
        "| false positives on benign (stopped) | benign named malicious |")
    say("|---|---|---|---|---|---|")
    for tool in results:
        res = results[tool]
        mal = sum(res[e["file"]][0] == "malicious" for e in bad)
        flg = sum(res[e["file"]][0] == "flagged" for e in bad)
        miss = sum(res[e["file"]][0] == "clean" for e in bad)
        fp = sum(res[e["file"]][0] != "clean" for e in good)
        fpm = sum(res[e["file"]][0] == "malicious" for e in good)
        say("| %s | %d | %d | %d | %d | %d |" % (tool, mal, flg, miss, fp, fpm))
    say("")

    mism = [(e, sh[e["file"]]) for e in entries
            if sh[e["file"]].get("verdict") not in accepted(e)]
    say("safehub matches the manifest on %d/%d files.\n" % (len(entries) - len(mism), len(entries)))
    if mism:
        say("| file | expected | safehub | class | note |")
        say("|---|---|---|---|---|")
        for e, r in mism:
            say("| %s | %s | %s | %s | %s |" % (e["file"], "/".join(accepted(e)),
                                                r.get("verdict") or r.get("error"), e["class"],
                                                e["note"]))
        say("")

    say("## Throughput (best of 3, in-process, 2-core machine shared with other jobs)\n")
    say("| file | pickle MB | safehub MB/s | picklescan MB/s | modelscan MB/s | safehub/picklescan |")
    say("|---|---|---|---|---|---|")
    emap = {e["file"]: e for e in entries}
    dense = [emap[f] for f in DENSE if f in emap]
    shd = run_scanjson(a.scanjson, a.corpus, dense, repeat=3)
    headline = None
    for e in dense:
        p = os.path.join(a.corpus, e["file"])
        mb = e["pickle_bytes"] / 1e6
        ts = shd[e["file"]]["seconds"]
        tp = best_of(3, picklescan_one, p)
        tm = best_of(3, modelscan_one, p)
        ratio = tp / ts if ts > 0 else float("inf")
        headline = headline or ratio
        say("| %s | %.1f | %.0f | %.1f | %.1f | **%.0fx** |" % (
            e["file"], mb, mb / ts, mb / tp, mb / tm, ratio))
    say("")
    cli = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([a.safehub, "scan", "--json", os.path.join(a.corpus, DENSE[0])],
                       capture_output=True)
        cli.append(time.perf_counter() - t0)
    say("`safehub scan --json %s` as a process (start-up included): best %.3f s.\n" % (
        DENSE[0], min(cli)))
    n = len(entries)
    say("Whole corpus, one pass: safehub %.1f files/s (%.2f s), picklescan %.1f files/s "
        "(%.2f s), modelscan %.1f files/s (%.2f s).\n" % (
            n / times["safehub"], times["safehub"], n / times["picklescan"],
            times["picklescan"], n / times["modelscan"], times["modelscan"]))

    for tool, rows in per_file.items():
        slow = sorted(rows, reverse=True)[:3]
        say("Slowest for %s: %s.\n" % (tool, ", ".join("%s %.2f s" % (f, t) for t, f in slow)))
    say("modelscan runs without its tensorflow extra (about 600 MB), so its Keras scanners "
        "report .keras files as errors, counted above as stopped.\n")

    if a.big:
        r = run_scanjson(a.scanjson, os.path.dirname(a.big),
                         [{"file": os.path.basename(a.big), "profile": ""}])
        r = r[os.path.basename(a.big)]
        say("## Bytes read on a %.1f GB torch zip (sparse file)\n" % (r["size"] / 1e9))
        say("safehub read %d bytes (%.6f%% of the file) in %.3f s; verdict %s.\n" % (
            r["bytes_read"], 100.0 * r["bytes_read"] / r["size"], r["seconds"], r.get("verdict")))
        _, _, tp = timed(picklescan_one, a.big)
        say("picklescan on the same file: %.3f s.\n" % tp)

    say("## Per-file outcomes\n")
    say("| file | expect | safehub | picklescan | modelscan |")
    say("|---|---|---|---|---|")
    for e in entries:
        cells = []
        for tool in results:
            out, detail = results[tool][e["file"]]
            cells.append(out + (" (%s)" % detail if detail and tool != "safehub" else ""))
        say("| %s | %s | %s |" % (e["file"], "/".join(accepted(e)), " | ".join(cells)))

    text = "\n".join(lines) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    # The terminal gets everything but the long per-file table.
    print(text.split("## Per-file outcomes")[0])
    if headline:
        print("Headline: safehub is %.0fx picklescan on %s." % (headline, DENSE[0]))
    print("Full results: " + a.out)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""bench/record.bench.py: what recording (ptyd --record) and metrics (--metrics)
cost, each beside the same measure without them, in the same run with the same
clients: ptyd's output throughput (bench/ptyd.bench.c, the C client) and
keystroke echo (bench/ptyd.bench.py's raw client) with recording off, on, and
with metrics on and scraped every 100 ms; jwt-verify's request rate under wrk
with and without --metrics (scraped alike). Runs alternate so that machine
noise spreads over all variants; the best run of each counts.
Targets: throughput with recording >= 80 % of without; metrics within noise
(>= 97 % of without). Everything binds to 127.0.0.1 and is stopped after.
"""
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.dont_write_bytecode = True
ROOT = os.environ.get("WS_ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("WS_BUILD", os.path.join(ROOT, "build"))
BUILD = os.environ["WS_BUILD"]
os.environ.setdefault("PTYD_BENCH_BYTES", "100000000")

# ptyd.bench.py's clients and measures (it makes its own scratch WS_WORK).
_spec = importlib.util.spec_from_file_location("ptyd_bench", os.path.join(ROOT, "bench", "ptyd.bench.py"))
pb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pb)
WORK = os.environ["WS_WORK"]
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from tap import free_port, wait_port  # noqa: E402

RUNS = int(os.environ.get("RECORD_BENCH_RUNS", 3))
JV_SECONDS = int(os.environ.get("RECORD_BENCH_JV_SECONDS", 5))


class Scraper:
    """Scrapes http://127.0.0.1:PORT/metrics every interval seconds until stopped."""

    def __init__(self, port, interval=0.1):
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.interval = interval
        self.count = 0
        self.last = ""
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_ev.wait(self.interval):
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    self.last = r.read().decode()
                    self.count += 1
            except OSError:
                pass

    def stop(self):
        self.stop_ev.set()
        self.thread.join()
        return self.count


def ptyd_variant(kind, client):
    """One throughput run and one echo run of a fresh ptyd; returns a dict."""
    args, rec_dir, scraper, mport = [], None, None, None
    if kind == "record":
        rec_dir = tempfile.mkdtemp(prefix="rec-", dir=WORK)
        os.chmod(rec_dir, 0o700)
        args = ["--record", rec_dir]
    elif kind == "metrics":
        mport = free_port()
        args = ["--metrics", f"127.0.0.1:{mport}"]
    srv = pb.Server(args, command=pb.SHELL)
    try:
        if kind == "metrics":
            wait_port(mport)
            scraper = Scraper(mport)
        rate, got, _ = pb.ptyd_rate(srv, client)
        p50, p99 = pb.echo_rtt(srv, 1000)
        out = {"rate": rate, "got": got, "p50": p50, "p99": p99}
        if scraper:
            out["scrapes"] = scraper.stop()
        if kind == "record":
            # Both sessions' end lines: bytes written and dropped per file.
            srv.wait_log(r"(recording-end[^\n]*\n[^\n]*){2}", 60)
            ends = re.findall(r"recording-end [^\n]*?file=\S+ bytes=(\d+) dropped=(\d+)", srv.text())
            out["written"] = sum(int(w) for w, _ in ends)
            out["dropped"] = sum(int(d) for _, d in ends)
            out["files"] = len(glob.glob(os.path.join(rec_dir, "*.cast")))
        return out
    finally:
        srv.stop()
        if rec_dir:
            shutil.rmtree(rec_dir, ignore_errors=True)


def jv_rate(metrics, token):
    """jwt-verify pinned to CPU 0 under wrk pinned to CPU 1: requests per second."""
    port = free_port()
    args = [os.path.join(BUILD, "jwt-verify"), "--key",
            os.path.join(ROOT, "tests/jwt-verify/fixtures/ed25519.pub.pem"), "--listen", f"127.0.0.1:{port}"]
    mport = None
    if metrics:
        mport = free_port()
        args += ["--metrics", f"127.0.0.1:{mport}"]
    cpus = os.cpu_count() or 1
    proc = subprocess.Popen(["taskset", "-c", "0"] + args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    scraper = None
    try:
        wait_port(port)
        if mport:
            wait_port(mport)
            scraper = Scraper(mport)
        out = subprocess.run(["taskset", "-c", "1" if cpus > 1 else "0", "wrk", "-t1", "-c16",
                              f"-d{JV_SECONDS}s", "-H", f"X-Forwarded-Uri: /ws?token={token}",
                              f"http://127.0.0.1:{port}/verify"], capture_output=True, text=True,
                             timeout=JV_SECONDS + 30).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if re.search(r"Non-2xx", out):
            raise RuntimeError(f"jwt-verify refused the bench token:\n{out}")
        return float(m.group(1)) if m else 0.0
    finally:
        if scraper:
            scraper.stop()
        proc.terminate()
        proc.wait()


def row(name, value, target, good):
    print(f"| {name:<44} | {value:>18} | {target:>18} | {'yes' if good else 'NO':>4} |")


def main():
    client = pb.build_client()
    if client is None:
        raise SystemExit("cannot build bench/ptyd.bench.c")
    best = {"off": None, "record": None, "metrics": None}
    for _ in range(RUNS):
        for kind in ("off", "record", "metrics"):
            r = ptyd_variant(kind, client)
            b = best[kind]
            if b is None:
                best[kind] = r
            else:
                b["rate"] = max(b["rate"], r["rate"])
                b["p50"] = min(b["p50"], r["p50"])
                b["p99"] = min(b["p99"], r["p99"])
                for k in ("dropped", "written", "got", "scrapes"):
                    if k in r:
                        b[k] = r[k]
    token = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests/lib/mint_jwt.py"), "--key",
                            os.path.join(ROOT, "tests/jwt-verify/fixtures/ed25519.pem"), "--sub", "bench",
                            "--lifetime", "3000"], capture_output=True, text=True, check=True).stdout.strip()
    jv = {False: 0.0, True: 0.0}
    for _ in range(2):
        for on in (False, True):
            jv[on] = max(jv[on], jv_rate(on, token))

    off, rec, met = best["off"], best["record"], best["metrics"]
    share = rec["rate"] / off["rate"]
    mshare = met["rate"] / off["rate"]
    jshare = jv[True] / jv[False] if jv[False] else 0
    recorded = 1 - rec.get("dropped", 0) / max(1, rec["got"])
    print(f"recording and metrics ({pb.BYTES / 1e6:.0f} MB of `{pb.PRODUCER}` per run, "
          f"best of {RUNS} alternating runs; jwt-verify: wrk -c16 {JV_SECONDS}s, best of 2)")
    print(f"| {'measure':<44} | {'value':>18} | {'target':>18} | {'met':>4} |")
    print(f"|{'-' * 46}|{'-' * 20}|{'-' * 20}|{'-' * 6}|")
    row("ptyd throughput, recording off", f"{off['rate']:.1f} MB/s", "(reference)", True)
    row("ptyd throughput, --record", f"{rec['rate']:.1f} MB/s", f">= {0.8 * off['rate']:.1f} MB/s",
        share >= 0.8)
    row("  share of recording off", f"{100 * share:.0f} %", ">= 80 %", share >= 0.8)
    row("  output kept in the recording", f"{100 * recorded:.1f} %", "(reported)", True)
    row("  bytes written to the .cast file", f"{rec.get('written', 0) / 1e6:.1f} MB", "-", True)
    row("echo p50 / p99, recording off", f"{off['p50']:.3f} / {off['p99']:.3f} ms", "(reference)", True)
    row("echo p50 / p99, --record", f"{rec['p50']:.3f} / {rec['p99']:.3f} ms",
        f"<= {off['p50'] + 0.05:.3f} ms p50", rec["p50"] <= off["p50"] + 0.05)
    row("ptyd throughput, --metrics (scraped 10/s)", f"{met['rate']:.1f} MB/s",
        f">= {0.97 * off['rate']:.1f} MB/s", mshare >= 0.97)
    row("  share of metrics off", f"{100 * mshare:.0f} %", ">= 97 % (noise)", mshare >= 0.97)
    row("echo p50 / p99, --metrics", f"{met['p50']:.3f} / {met['p99']:.3f} ms",
        f"<= {off['p50'] + 0.02:.3f} ms p50", met["p50"] <= off["p50"] + 0.02)
    row("jwt-verify requests/s, metrics off", f"{jv[False]:.0f}", "(reference)", True)
    row("jwt-verify requests/s, --metrics (10/s)", f"{jv[True]:.0f}", f">= {0.97 * jv[False]:.0f}",
        jshare >= 0.97)
    row("  share of metrics off", f"{100 * jshare:.0f} %", ">= 97 % (noise)", jshare >= 0.97)


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)

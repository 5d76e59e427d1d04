#!/usr/bin/python3
"""bench/exec.bench.py: the exec channel's figures beside their targets and
their references measured in the same run with the same C client
(bench/exec.bench.c): a command on an open connection against a plain
fork/exec/wait of the same program, a command on a new connection against
the connection's own floor (handshake to hello), 100 MB through stdout
against the same bytes through a terminal, what shell start-up costs
with Debian's default rc files (/etc/skel) on each path, and a shell string
on an open connection beside bash -c true without ptyd and beside the
design figure of a shell started ahead (its script written to a pipe it
waits on), and the same script 30 ms apart and on new connections against
ptyd as it is by default (it keeps such a shell ready) and against ptyd
--no-exec-warm-shell (each script starts its shell).
Everything binds to 127.0.0.1; every process started here is stopped.
"""
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
ROOT = os.environ.get("WS_ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("WS_BUILD", os.path.join(ROOT, "build"))
SCRATCH = tempfile.mkdtemp(prefix="exec-bench-")
os.environ["WS_WORK"] = SCRATCH
sys.path.insert(0, os.path.join(ROOT, "tests", "ptyd"))
from ptylib import Server  # noqa: E402

BYTES = int(os.environ.get("EXEC_BENCH_BYTES", 100_000_000))
N = int(os.environ.get("EXEC_BENCH_N", 200))
RUNS = int(os.environ.get("EXEC_BENCH_RUNS", 3))
PRODUCER = f"head -c {BYTES} /dev/zero | tr '\\\\0' a"


def client(bin_path, *args):
    out = subprocess.run([bin_path] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]}: {out.stderr.strip()}")
    return out.stdout.split("\n")[:-1]


def median_ms(lines, col=0):
    return statistics.median(float(x.split()[col]) for x in lines)


def p90_ms(lines, col=0):
    v = sorted(float(x.split()[col]) for x in lines)
    return v[int(len(v) * 0.9)]


def row(name, value, target, good):
    verdict = "" if good is None else ("ok" if good else "MISSED")
    print(f"| {name:<44} | {value:>22} | {target:>22} | {verdict:<6} |")


def main():
    bin_path = os.path.join(SCRATCH, "exec-bench-client")
    subprocess.run(["cc", "-std=c11", "-O2", "-o", bin_path,
                    os.path.join(ROOT, "bench", "exec.bench.c")], check=True)
    skel = os.path.join(SCRATCH, "home")
    shutil.copytree("/etc/skel", skel)
    os.chmod(skel, 0o755)
    producer_tty = ["/bin/sh", "-c", f"head -c {BYTES} /dev/zero | tr '\\0' a"]
    srv = Server(["--exec-max-commands", "64"], command=producer_tty)
    try:
        port = srv.port
        spawn = client(bin_path, "spawn", 0, N, "/bin/true")
        spawn_sh = client(bin_path, "spawn", 0, N // 2, "/bin/bash", "-c", "true")
        warm = client(bin_path, "warm", 0, N // 4, "/bin/bash")
        lat = client(bin_path, "lat", port, N, json.dumps({"argv": ["/bin/true"]}))
        ping = client(bin_path, "ping", port, N)
        new = client(bin_path, "new", port, N // 2, json.dumps({"argv": ["/bin/true"]}))
        env = {"HOME": skel}
        bare = client(bin_path, "lat", port, N // 2, json.dumps(
            {"argv": ["/bin/bash", "--norc", "--noprofile", "-c", "true"], "env": env}))
        sh_c = client(bin_path, "lat", port, N // 2, json.dumps({"shell": "true", "env": env}))
        sh_plain = client(bin_path, "lat", port, N // 2, json.dumps({"shell": "true", "stdin": False}))
        sh_paused = client(bin_path, "lat", port, N // 4, json.dumps({"shell": "true", "stdin": False}), 30)
        sh_new = client(bin_path, "new", port, N // 2, json.dumps({"shell": "true", "stdin": False}))
        login = client(bin_path, "lat", port, N // 2, json.dumps(
            {"shell": "true", "login": True, "env": env}))
        inter = client(bin_path, "lat", port, N // 4, json.dumps(
            {"argv": ["/bin/bash", "-lic", "true"], "env": env,
             "pty": {"columns": 80, "rows": 24}}))
        tty_runs, out_runs = [], []
        for _ in range(RUNS):
            b, s = client(bin_path, "tty", port)[0].split()
            tty_runs.append((int(b), float(s)))
            b, s = client(bin_path, "out", port, PRODUCER)[0].split()
            out_runs.append((int(b), float(s)))
        # The lat run is the first exec connection: its audit lines say how long
        # each child lived (spawn to reap); the rest of a round trip is ptyd's.
        sha = hashlib.sha256(b"/bin/true\0").hexdigest()
        lived = [float(d) * 1e3 for d in
                 re.findall(rf"exec_end conn=1 .*? sha256={sha} .*? duration=([0-9.]+)", srv.text())]
    finally:
        srv.stop()
    # The same scripts against ptyd --no-exec-warm-shell (each starts its shell).
    cold_srv = Server(["--no-exec-warm-shell"], command=producer_tty)
    try:
        sh_cold = client(bin_path, "lat", cold_srv.port, N // 4,
                         json.dumps({"shell": "true", "stdin": False}), 30)
        sh_new_cold = client(bin_path, "new", cold_srv.port, N // 2,
                             json.dumps({"shell": "true", "stdin": False}))
    finally:
        cold_srv.stop()
        shutil.rmtree(SCRATCH, ignore_errors=True)

    load = os.getloadavg()[0]
    print(f"exec channel benchmark ({N} commands a figure, {BYTES / 1e6:.0f} MB best of {RUNS}; "
          f"load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"| {'measure':<44} | {'measured':>22} | {'target / reference':>22} | {'':<6} |")
    print(f"|{'-' * 46}|{'-' * 24}|{'-' * 24}|{'-' * 8}|")
    row("message round trip, no process (sessions)", f"{median_ms(ping):.3f} ms", "(ptyd's floor)", None)
    ref = median_ms(spawn)
    row("fork+exec+wait of true, no ptyd (ref.)", f"{ref:.2f} ms", "(reference)", None)
    m = median_ms(lat)
    row("exec true, open connection: median", f"{m:.2f} ms (p90 {p90_ms(lat):.2f})", "< 3 ms", m < 3)
    own = m - statistics.median(lived) if lived else float("nan")
    row("  the child alone, spawn to reap (audit)", f"{statistics.median(lived):.2f} ms"
        if lived else "-", "(reference)", None)
    row("  ptyd's own share (round trip minus that)", f"{own:.2f} ms", "< 1 ms", own < 1)
    floor, full = median_ms(new, 0), median_ms(new, 1)
    row("new connection to hello (the floor)", f"{floor:.2f} ms", "(reference)", None)
    row("exec true on a new connection: median", f"{full:.2f} ms", f"< floor + 3 = {floor + 3:.2f}",
        full < floor + 3)
    b_tty = max(b / s for b, s in tty_runs) / 1e6
    b_out = max(b / s for b, s in out_runs) / 1e6
    got = all(b == BYTES for b, _ in tty_runs + out_runs)
    row("terminal throughput, same producer (ref.)", f"{b_tty:.1f} MB/s", "(reference)", None)
    row("100 MB through exec stdout", f"{b_out:.1f} MB/s", f">= {b_tty / 2:.1f} MB/s (half)",
        b_out >= b_tty / 2 and got)
    row("  every byte arrived", "yes" if got else "NO", "yes", got)
    row("bash --norc --noprofile -c true (ref.)", f"{median_ms(bare):.2f} ms", "(reference)", None)
    row("shell 'true' (non-login -c), skel rc files", f"{median_ms(sh_c):.2f} ms",
        f"~ bare bash ({median_ms(bare):.2f})", median_ms(sh_c) < median_ms(bare) * 1.2 + 1)
    row("shell 'true' with login:true, skel rc files", f"{median_ms(login):.2f} ms", "(what login costs)",
        None)
    row("interactive login bash in a PTY, skel rc", f"{median_ms(inter):.2f} ms",
        "(a terminal's shell)", None)
    m_sh = median_ms(sh_plain)
    row("exec shell 'true', open connection: median", f"{m_sh:.2f} ms", "< 3 ms", m_sh < 3)
    row("  bash -c true, fork+exec+wait, no ptyd", f"{median_ms(spawn_sh):.2f} ms", "(reference)", None)
    row("  design: bash started ahead, script on pipe", f"{median_ms(warm):.2f} ms",
        "(a warm shell)", None)
    m_w, m_c = median_ms(sh_paused), median_ms(sh_cold)
    row("exec shell 'true', 30 ms apart: median", f"{m_w:.2f} ms", "< 3 ms", m_w < 3)
    row("  the same, ptyd --no-exec-warm-shell", f"{m_c:.2f} ms", "(reference)", None)
    floor_sh, full_sh = median_ms(sh_new, 0), median_ms(sh_new, 1)
    row("exec shell 'true', new connection: median", f"{full_sh:.2f} ms",
        f"< floor + 3 = {floor_sh + 3:.2f}", full_sh < floor_sh + 3)
    row("  the same, ptyd --no-exec-warm-shell", f"{median_ms(sh_new_cold, 1):.2f} ms",
        f"(floor {median_ms(sh_new_cold, 0):.2f})", None)


if __name__ == "__main__":
    main()

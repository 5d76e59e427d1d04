#!/usr/bin/python3
# sanitize: yes
# tests/audit/metrics.test.py: both services' --metrics endpoints: valid per
# `promtool check metrics` (Debian's prometheus), counters that move as
# sessions and decisions happen, local only (non-loopback refused, unix
# sockets 0660), and never served on the services' own listeners.
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
ROOT = os.environ.get("WS_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "tests", "ptyd"))
sys.path.insert(0, os.path.join(ROOT, "tests", "jwt-verify"))
sys.path.insert(0, os.path.join(ROOT, "tests", "exec"))
import jvlib  # noqa: E402
from execlib import ExecClient  # noqa: E402
from ptylib import BUILD, WORK, Client, Server, run, wait_until  # noqa: E402
from tap import Tap, free_port, wait_port  # noqa: E402

t = Tap()


def scrape(port):
    wait_port(port, 10)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def value(text, name, labels=""):
    """The value of one series (labels as written, e.g. 'cause="exit"'), or None."""
    sel = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "")
    m = re.search(r"^" + sel + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def promtool(text, what):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    t.ok(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
         f"promtool check metrics: {what}", detail=p.stdout + p.stderr)


def test_ptyd():
    port = free_port()
    srv = Server(["--metrics", f"127.0.0.1:{port}"])
    try:
        status, ctype, before = scrape(port)
        t.ok(status == 200 and ctype.startswith("text/plain; version=0.0.4"),
             "ptyd /metrics: 200 text/plain version 0.0.4", detail=ctype)
        promtool(before, "ptyd at start")
        t.eq(value(before, "webshell_ptyd_sessions_started_total"), 0.0, "no session started yet")

        async def go():
            c = await Client.connect(srv, headers={"X-Webshell-User": "alice"})
            await c.ready()
            await c.run("echo metrics-$((1+1))")
            _, _, during = scrape(port)
            await c.input("exit 4\r")
            await c.until_closed(10)
            return during, len(c.output)
        during, nout = run(go())
        t.eq(value(during, "webshell_ptyd_sessions", 'state="attached"'), 1.0,
             "one attached session while it runs")
        t.eq(value(during, "webshell_ptyd_sessions_started_total"), 1.0, "sessions started: 1")
        t.ok((value(during, "webshell_ptyd_input_bytes_total") or 0) >= len("echo metrics-$((1+1))"),
             "input bytes counted")
        t.eq(value(during, "webshell_ptyd_spawn_seconds_count"), 1.0, "one spawn timed")
        promtool(during, "ptyd with a session")
        def ended_total():
            return sum(float(x) for x in re.findall(
                r'^webshell_ptyd_sessions_ended_total\{cause="[a-z_]+"\} (\S+)$', scrape(port)[2],
                re.M))
        wait_until(lambda: ended_total() >= 1, 5)
        _, _, after = scrape(port)
        t.eq(value(after, "webshell_ptyd_sessions", 'state="attached"'), 0.0,
             "no attached session after the end")
        ended = sum(float(x) for x in re.findall(
            r'^webshell_ptyd_sessions_ended_total\{cause="[a-z_]+"\} (\S+)$', after, re.M))
        t.eq(ended, 1.0, "sessions ended: 1, with its cause", )
        t.ok((value(after, "webshell_ptyd_output_bytes_total") or 0) >= nout,
             "output bytes counted (at least what the client got)",
             detail=f"{value(after, 'webshell_ptyd_output_bytes_total')} < {nout}")
        promtool(after, "ptyd after a session")
        t.eq(value(after, "webshell_ptyd_exec_waiting_shells"), 0.0, "no exec shell waiting yet")

        async def exec_go():
            c = await ExecClient.connect(srv, headers={"X-Webshell-User": "alice"})
            await c.run({"shell": "true", "stdin": False})
            counted = wait_until(
                lambda: value(scrape(port)[2], "webshell_ptyd_exec_waiting_shells") == 1.0, 5)
            _, _, text = scrape(port)
            await c.close()
            return counted, text
        counted, waiting = run(exec_go())
        t.ok(counted and value(waiting, "webshell_ptyd_exec_commands_total", 'outcome="ok"') == 1.0,
             "an exec command counted; then the shell started ahead for the next one, as a gauge",
             detail=waiting)
        promtool(waiting, "ptyd with an exec shell waiting")
        # The service's own listener never answers metrics.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            head = s.recv(4096)
        t.ok(b"webshell_" not in head and not head.startswith(b"HTTP/1.1 200"),
             "ptyd's own listener does not serve /metrics", detail=head[:200])
    finally:
        srv.stop()


def test_jwt_verify():
    port = free_port()
    srv = jvlib.Server("--key", jvlib.fix("ed25519.pub.pem"), "--single-use", "--metrics",
                       f"127.0.0.1:{port}", name="jv-metrics")
    try:
        _, _, before = scrape(port)
        promtool(before, "jwt-verify at start")
        t.eq(value(before, "webshell_jwt_verify_keys_loaded"), 1.0, "keys loaded: 1")
        good = jvlib.tok(claims={"jti": "m1"})
        for _ in range(3):
            srv.get("/verify", headers={"Authorization": "Bearer " + jvlib.tok(
                claims={"jti": os.urandom(8).hex()})})
        srv.get("/verify", headers={"Authorization": "Bearer " + good})
        srv.get("/verify", headers={"Authorization": "Bearer " + good})
        srv.get("/verify")
        _, _, after = scrape(port)
        t.eq(value(after, "webshell_jwt_verify_decisions_total", 'result="allow",reason="ok"'), 4.0,
             "allowed decisions counted")
        t.eq(value(after, "webshell_jwt_verify_decisions_total",
                   'result="deny",reason="token replayed (jti seen before)"'), 1.0,
             "a replay counted by its reason")
        t.eq(value(after, "webshell_jwt_verify_decisions_total",
                   'result="deny",reason="token missing"'), 1.0, "a missing token counted")
        t.eq(value(after, "webshell_jwt_verify_verification_seconds_count"), 6.0,
             "every decision timed")
        t.eq(value(after, "webshell_jwt_verify_replay_cache_entries"), 4.0,
             "replay cache size")
        promtool(after, "jwt-verify after decisions")
        status, _, body = srv.get("/metrics")
        t.ok(status == 404 and "webshell_" not in body, "jwt-verify's own listener: /metrics 404")
    finally:
        srv.stop()


def test_endpoint_rules():
    port = free_port()
    srv = Server(["--metrics", f"127.0.0.1:{port}"])
    try:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
            code = 200
        except urllib.error.HTTPError as e:
            code = e.code
        t.eq(code, 404, "metrics listener: other paths 404")
        try:
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics", data=b"x", method="POST"), timeout=5)
            code = 200
        except urllib.error.HTTPError as e:
            code = e.code
        t.ok(code in (404, 405), "metrics listener: POST refused", detail=code)
    finally:
        srv.stop()
    sock = os.path.join(WORK, "metrics.sock")
    srv = Server(["--metrics", f"unix:{sock}"])
    try:
        wait_until(lambda: os.path.exists(sock), 5)
        t.ok(os.path.exists(sock) and stat.S_IMODE(os.stat(sock).st_mode) == 0o660,
             "unix socket endpoint, mode 0660")
        p = subprocess.run(["curl", "-sS", "--unix-socket", sock, "http://x/metrics"],
                           capture_output=True, text=True, timeout=10)
        t.ok("webshell_ptyd_sessions_started_total 0" in p.stdout, "metrics over the unix socket",
             detail=p.stderr)
    finally:
        srv.stop()
    t.ok(not os.path.exists(sock), "unix socket removed at exit")
    ptyd = os.path.join(BUILD, "ptyd")
    jv = os.path.join(BUILD, "jwt-verify")
    for argv, what in (([ptyd, "--allow-root"], "ptyd"),
                       ([jv, "--key", jvlib.fix("ed25519.pub.pem")], "jwt-verify")):
        for addr in ("0.0.0.0:9100", "[::]:9100", "192.0.2.1:9100"):
            p = subprocess.run(argv + ["--metrics", addr], capture_output=True, text=True,
                               timeout=10)
            t.ok(p.returncode == 2 and "loopback" in p.stderr,
                 f"{what} --metrics {addr}: refused, exit 2", detail=p.stderr)
    port = free_port()
    srv = Server(["--metrics", f"0.0.0.0:{port}", "--metrics-allow-remote"])
    try:
        t.eq(scrape(port)[0], 200, "--metrics-allow-remote lets a wildcard address through")
    finally:
        srv.stop()


test_ptyd()
test_jwt_verify()
test_endpoint_rules()
t.done()

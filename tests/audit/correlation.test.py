#!/usr/bin/python3
# sanitize: yes
# tests/audit/correlation.test.py: one connection through real Caddy (the /ws gate of
# scripts/lib/caddyfile.sh), jwt-verify and ptyd, both logging JSON: the request id of
# jwt-verify's decision is in every ptyd line of that connection's session (start, end)
# and in its recording's header, so one query finds a session's whole life; and every
# line of both logs, of every kind this run makes, parses with jq.
import asyncio
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
ROOT = os.environ.get("WS_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "tests", "jwt-verify"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ptyd"))
sys.path.insert(0, os.path.join(ROOT, "tests", "exec"))
from jvlib import WORK, fix, free_port, harness, tok  # noqa: E402
from execlib import ExecClient  # noqa: E402
from tap import Tap  # noqa: E402

import websockets  # noqa: E402

t = Tap()
BUILD = os.environ.get("WS_BUILD", "build")


def caddy_piece(fn, *args):
    lib = os.path.join(ROOT, "scripts/lib/caddyfile.sh")
    return subprocess.run(["bash", "-c", 'source "$0" && "$@"', lib, fn, *args], check=True,
                          capture_output=True, text=True).stdout


def json_lines(text):
    """(parsed lines, lines jq refused): every line through `jq -c .` one by one."""
    parsed, refused = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        p = subprocess.run(["jq", "-c", "."], input=line, capture_output=True, text=True)
        if p.returncode != 0 or not p.stdout.strip().startswith("{"):
            refused.append(line)
        else:
            parsed.append(json.loads(p.stdout))
    return parsed, refused


async def terminal(site, token):
    async with websockets.connect(f"ws://127.0.0.1:{site}/ws", compression=None,
                                  subprotocols=["webshell.bearer." + token, "tty"],
                                  open_timeout=10) as ws:
        await ws.send(b'{"AuthToken":"","columns":80,"rows":24}')
        await ws.send(b"0echo corr-$((20+22)); exit 7\r")
        out = b""
        try:
            while True:
                m = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(m, bytes) and m[:1] == b"0":
                    out += m[1:]
        except websockets.ConnectionClosed as e:
            return out, e.rcvd.code if e.rcvd else None, e.rcvd.reason if e.rcvd else None


async def refused_attach(site, token):
    async with websockets.connect(f"ws://127.0.0.1:{site}/ws", compression=None,
                                  subprotocols=["webshell.bearer." + token, "tty"]) as ws:
        await ws.send(json.dumps({"AuthToken": "", "columns": 80, "rows": 24,
                                  "webshell": {"session": "0" * 32, "offset": 0}}).encode())
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None


def main():
    rec = os.path.join(WORK, "rec-corr")
    os.makedirs(rec, mode=0o700, exist_ok=True)
    verifier = harness.Server([os.path.join(BUILD, "jwt-verify"), "--key", fix("ed25519.pub.pem") + "=alice",
                               "--listen", "127.0.0.1:{port}", "--log-format", "json"], name="jv-corr")
    ptyd = harness.Server([os.path.join(BUILD, "ptyd"), "--allow-root", "--listen", "127.0.0.1:{port}",
                           "--log-format", "json", "--record", rec, "--", "/bin/bash", "--norc", "--noprofile"],
                          name="ptyd-corr")
    site = free_port()
    conf = os.path.join(WORK, "Caddyfile.corr")
    with open(conf, "w") as f:
        f.write("{\n\tadmin off\n\tdefault_bind 127.0.0.1\n" + caddy_piece("caddy::log_filter") + "}\n\n"
                + f"http://127.0.0.1:{site} {{\n"
                + caddy_piece("caddy::ws_route", f"127.0.0.1:{verifier.port}", f"127.0.0.1:{ptyd.port}")
                + "}\n")
    env = dict(os.environ, HOME=WORK, XDG_DATA_HOME=os.path.join(WORK, "data"),
               XDG_CONFIG_HOME=os.path.join(WORK, "config"))
    caddy = harness.Server(["caddy", "run", "--config", conf, "--adapter", "caddyfile"], name="caddy-corr",
                           ready=harness.Port(site), timeout=20, env=env)
    try:
        token = tok(claims={"sub": "alice"}, lifetime=300)
        out, code, reason = asyncio.run(terminal(site, token))
        t.ok(b"corr-42" in out and (code, reason) == (1000, "exit 7"),
             "a terminal through Caddy, jwt-verify and ptyd", detail=(out[-200:], code, reason))
        code = asyncio.run(refused_attach(site, tok(claims={"sub": "alice"}, lifetime=300)))
        t.eq(code, 4004, "a made-up session id refused (another line kind)")

        async def exec_cmd():
            class Srv:
                url = f"ws://127.0.0.1:{site}/ws"
            c = await ExecClient.connect(Srv, protocols=("webshell.bearer." + tok(claims={"sub": "alice"}),
                                                         "webshell-exec.v1"))
            r = await c.run({"argv": ["true"]})
            await c.close()
            return r
        try:
            r = asyncio.run(exec_cmd())
            t.ok(r.code == 0, "an exec command through Caddy (another line kind)")
        except Exception as e:  # the line kinds below still count
            t.ok(False, "an exec command through Caddy", detail=repr(e))
        ptyd.wait_log(r'"event":"?session_end', 10)
        ptyd.wait_log(r"recording-end", 10)
    finally:
        caddy.stop()
        ptyd.stop()
        verifier.stop()

    jv_lines, jv_bad = json_lines(verifier.text())
    pt_lines, pt_bad = json_lines(ptyd.text())
    t.eq(jv_bad, [], "every jwt-verify line parses with jq")
    t.eq(pt_bad, [], "every ptyd line parses with jq")
    kinds = sorted({ln.get("event", "?") for ln in jv_lines}) + sorted({ln.get("event", "?") for ln in pt_lines})
    t.diag(f"line kinds: {kinds}")
    t.ok(all("time" in ln for ln in jv_lines + pt_lines), "every JSON line has its time")
    allowed = [ln for ln in jv_lines if ln.get("event") == "decision" and ln.get("decision") == "allow"]
    t.ok(len(allowed) >= 1 and all(ln.get("request_id") for ln in allowed),
         "jwt-verify's decisions carry a request id", detail=allowed[:2])
    if not allowed:
        return
    rid = allowed[0]["request_id"]
    mine = [ln for ln in pt_lines if ln.get("request_id") == rid]
    events = {ln.get("event") for ln in mine}
    t.ok({"session_start", "session_end", "recording-end"} <= events,
         "the same request id in ptyd's session_start, session_end and recording-end",
         detail=(rid, events))
    t.ok(all(ln.get("user") == "alice" for ln in mine if ln.get("event", "").startswith("session")),
         "those lines carry the identity")
    other = {ln.get("request_id") for ln in allowed[1:]}
    t.ok(rid not in other, "each connection its own request id", detail=(rid, other))
    heads = []
    for name in sorted(os.listdir(rec)):
        with open(os.path.join(rec, name)) as f:
            heads.append(json.loads(f.readline()))
    t.ok(any(h.get("webshell", {}).get("request_id") == rid for h in heads),
         "the recording's header carries the request id", detail=[h.get("webshell") for h in heads])


main()
t.done()

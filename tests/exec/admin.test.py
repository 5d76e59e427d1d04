#!/usr/bin/python3
# sanitize: yes
# tests/exec/admin.test.py: running exec commands on ptyd's admin socket, as an
# operator sees them: `ptyd --list` / `--list --json` show each beside the
# terminal sessions (kind, id prefix, owner, peer, request id, bytes, pid, and
# the command's text only as --exec-audit-text allows, else its hash), and
# `ptyd --end PREFIX` ends one (TERM, then KILL after the grace, as a cancel)
# with a status that tells its client an operator ended it. Real ptyd, real
# commands.
import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from execlib import ExecClient, Server  # noqa: E402
from ptylib import PTYD, WORK, Client, wait_until  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
HEADERS = {"X-Webshell-User": "erin", "X-Webshell-Request-Id": "req-admin-7",
           "X-Forwarded-For": "192.0.2.44"}


def admin(sock, *args):
    p = subprocess.run([PTYD, "--admin-socket", sock] + list(args), capture_output=True, text=True,
                       timeout=20)
    return p.returncode, p.stdout, p.stderr


def exec_rows(sock):
    """The commands listed (kind exec, not a shell started ahead), and the output."""
    rows, text = exec_all(sock)
    return [r for r in rows if r.get("commandId") is not None], text


def exec_all(sock):
    rc, out, err = admin(sock, "--list", "--json")
    rows = json.loads(out) if rc == 0 else []
    return [r for r in rows if r.get("kind") == "exec"], out + err


def waiting_only(rows, conn):
    """rows hold, besides commands, at most one shell started ahead: erin's, waiting for its
    connection conn's next script (None: for erin's next connection). Its pids."""
    w = [r for r in rows if r.get("commandId") is None]
    ok = len(w) <= 1 and all(r["state"] == "waiting" and r["owner"] == "erin" and r["conn"] == conn and
                             r["command"] is None and alive(r["pid"]) for r in w)
    return ok, [r["pid"] for r in w]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


async def test_list_and_end(mode):
    sock = os.path.join(WORK, f"admin-exec-{os.getpid()}-{mode}.sock")
    srv = Server(["--admin-socket", sock, "--exec-audit-text", mode])
    secret = "marker-" + os.urandom(4).hex()
    pooled = []
    try:
        term = await Client.connect(srv, headers={"X-Webshell-User": "erin"})
        ts = await term.init_session("new")
        await term.until_re(rb"[#$] $")
        c = await ExecClient.connect(srv, headers=HEADERS)
        script = f"echo started; : {secret}; cat; sleep 600"
        cid = await c.start({"shell": script}, )
        stdin = b"x" * 1234
        await c.write_stdin(cid, stdin)
        await wait_until_async(lambda: len(c.cmd(cid).stdout) >= len("started\n") + len(stdin), 10)
        argv_id = await c.start({"argv": ["sleep", "600"], "stdin": False})
        await asyncio.sleep(0.3)
        rows, text = exec_rows(sock)
        conn = rows[0].get("conn") if rows else None
        sh = [r for r in rows if r.get("commandId") == cid]
        av = [r for r in rows if r.get("commandId") == argv_id]
        r = sh[0] if sh else {}
        t.ok(len(rows) == 2 and sh and av, f"--list --json ({mode}): a row for each running command", text)
        t.ok(re.fullmatch(r"[0-9a-f]{8}", r.get("id", "")) and r.get("state") == "running" and
             r.get("owner") == "erin" and r.get("peer") == "192.0.2.44" and
             r.get("requestId") == "req-admin-7" and r.get("pid", 0) > 0 and alive(r["pid"]) and
             r.get("bytesIn") == len(stdin) and r.get("bytesOut") == len("started\n") + len(stdin) and
             abs(r.get("started", 0) - time.time()) < 30 and r.get("pty") is False and
             r.get("commandLength") == len(script),
             f"({mode}) each row: id prefix, state, owner, peer, request id, pid, bytes in/out, start",
             r)
        sha = hashlib.sha256(script.encode()).hexdigest()
        if mode == "truncated":
            t.ok(r.get("command") == script and r.get("commandSha256") == sha[:16],
                 "--exec-audit-text truncated: the row carries the command's text", r)
        else:
            t.ok(r.get("command") is None and r.get("commandSha256") == sha[:16] and secret not in text,
                 "--exec-audit-text none: no text in the list, only the hash's prefix", r)
        t.ok(ts["id"][:8] in text and any(x.get("kind") == "terminal" for x in json.loads(text.strip() or "[]")),
             "the terminal session is listed beside the commands", text)
        rc, out, err = admin(sock, "--list")
        lines = out.splitlines()
        t.ok(rc == 0 and lines and lines[0].split()[:3] == ["ID", "STATE", "KIND"] and
             re.search(re.escape(r.get("id", "?")) + r"\s+running\s+exec\s+erin\s+192\.0\.2\.44\s", out) and
             "req-admin-7" in out and
             ((script in out) if mode == "truncated" else ("sha256:" + sha[:16] in out and secret not in out)),
             f"--list ({mode}): a table row with kind, owner, peer, request id and the command as allowed",
             out + err)
        # End the shell command: TERM to its group; `sleep 600` dies, so does the shell.
        t0 = time.monotonic()
        rc, out, err = admin(sock, "--end", r.get("id", "0000"))
        got = await c.wait(cid, 10)
        took = time.monotonic() - t0
        st = got.status or {}
        t.ok(rc == 0 and "ended " + r.get("id", "?") in out and st.get("endedBy") == "operator" and
             st.get("signal") == "TERM" and st.get("cancelled") is False and took < 3,
             f"({mode}) --end PREFIX: the command gets TERM; its client's status says endedBy operator",
             (rc, out, err, st, took))
        t.ok(wait_until(lambda: not alive(r.get("pid", 1 << 30)), 3), "its process is gone")
        t.ok(srv.wait_log(r"exec_end .*exec=" + re.escape(r.get("id", "?")) + r" .*ended_by=operator"),
             "the audit line says an operator ended it", srv.text()[-600:])
        rows, text = exec_all(sock)
        t.ok([x.get("commandId") for x in rows if x.get("commandId") is not None] == [argv_id] and
             waiting_only(rows, conn)[0],
             "the ended command leaves the list (what else is listed is the connection's shell "
             "waiting for its next script)", text)
        t.ok(c.close_code is None and (await c.run({"argv": ["true"]})).code == 0,
             "the connection and its other commands go on")
        # A command that ignores TERM is killed after the grace, as a cancel is.
        hard = await c.start({"shell": "trap '' TERM; echo ready; while :; do sleep 0.05; done",
                              "stdin": False})
        await wait_until_async(lambda: c.cmd(hard).stdout == b"ready\n", 10)
        rows, _ = exec_rows(sock)
        hid = [x["id"] for x in rows if x.get("commandId") == hard]
        t0 = time.monotonic()
        rc, out, err = admin(sock, "--end", hid[0] if hid else "0000")
        got = await c.wait(hard, 10)
        took = time.monotonic() - t0
        t.ok(rc == 0 and got.status and got.status.get("signal") == "KILL" and
             got.status.get("endedBy") == "operator" and 1.5 < took < 5,
             "TERM ignored: KILL after the 2 s grace, still endedBy operator", (got.status, took))
        rc, out, err = admin(sock, "--end", "ffff0000")
        t.ok(rc == 1 and "no such session or command" in err, "--end of an unknown prefix: an error", err)
        await c.close()
        t.ok(wait_until(lambda: not exec_rows(sock)[0], 5),
             "a closed connection's commands leave the list once reaped", exec_rows(sock)[1])
        rows, text = exec_all(sock)
        ok, pooled = waiting_only(rows, None)
        t.ok(ok and len(pooled) == 1,
             "what stays listed is exactly the shell waiting for erin's next connection", text)
        await term.close()
    finally:
        code, _ = srv.stop()
    t.ok(code == 0 and wait_until(lambda: not any(alive(p) for p in pooled), 5),
         "ptyd's stop ends that waiting shell too", pooled)


async def wait_until_async(fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        await asyncio.sleep(0.02)
    return False


async def main():
    await test_list_and_end("truncated")
    await test_list_and_end("none")


asyncio.run(main())
t.done()

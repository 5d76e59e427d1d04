#!/usr/bin/python3
# sanitize: yes
# tests/exec/protocol.test.py: ptyd's exec channel (webshell-exec.v1) against
# the real ptyd and real bash, with a WebSocket client on loopback: exit
# statuses, separate binary streams, stdin with EOF, long commands, many
# commands at once, cancel, timeouts, limits, flow control, bad frames, and
# the audit line.
import asyncio
import hashlib
import http.client
import json
import os
import re
import struct
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from execlib import (ACK, CANCEL, EOF, RESIZE, SESSIONS, START, STDIN, ExecClient, END_SESSION,  # noqa: E402
                     PROTO, Server, frame)
from ptylib import Client, children, fd_count, procs, rss_kb, wait_until  # noqa: E402
from tap import Tap  # noqa: E402

import websockets  # noqa: E402

t = Tap()
# The seconds of the sleeps two tests find in /proc: this run's own (another suite may sleep too).
MARK_CANCEL = f"8{os.getpid():07d}"
MARK_CLOSE = f"9{os.getpid():07d}"


def procs_with(token):
    """Pids of our commands that hold token: a sleep with it as an argument, or a
    shell with it in its script (other programs' command lines are not looked at)."""
    def ours(p):
        argv = p.argv
        prog = os.path.basename(argv[0])
        return (prog == b"sleep" and any(a.startswith(token.encode()) for a in argv[1:])) or \
            (prog in (b"bash", b"sh") and any(token.encode() in a for a in argv[1:]))
    return procs(ours)


def upgrade(srv, protocol):
    """A bare upgrade request: (HTTP status, body) when refused."""
    h = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    h.request("GET", "/ws", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": protocol})
    resp = h.getresponse()
    body = resp.read() if resp.status != 101 else b""
    h.close()
    return resp.status, body


async def test_handshake(srv):
    c = await ExecClient.connect(srv, headers={"X-Webshell-User": "alice@example.com"})
    t.eq(c.ws.subprotocol, PROTO, "offering webshell-exec.v1 and tty selects webshell-exec.v1")
    h = c.hello
    t.ok(h is not None and h["version"] == 1 and h["maxCommands"] == 128 and
         h["window"] == 1048576 and h["maxCommand"] == 4 << 20 and
         h["user"] == "alice@example.com", "hello first: version, limits, window, identity", h)
    r = await c.run({"shell": "echo \"$WEBSHELL_USER|$(printenv TERM || echo unset)|$HOME\""})
    t.eq(r.stdout.decode(), f"alice@example.com|unset|{os.path.expanduser('~')}\n",
         "WEBSHELL_USER set, HOME as a terminal's, no TERM without a PTY")
    await c.close()
    ws = await websockets.connect(srv.url, subprotocols=["tty"], compression=None)
    t.eq(ws.subprotocol, "tty", "offering tty only still gives a terminal")
    await ws.close()
    # Pipelining (docs/protocol.md section 2): a start sent in the same write as nothing else,
    # before the hello was read, is served; the hello is still the first message.
    ws = await websockets.connect(srv.url, subprotocols=[PROTO], compression=None)
    await ws.send(frame(START, 1, json.dumps({"shell": "echo early; exit 3", "stdin": False})))
    got = []
    while not got or got[-1][0] != 3:
        m = await asyncio.wait_for(ws.recv(), 10)
        got.append((m[0], struct.unpack(">I", m[1:5])[0], m[5:]))
    await ws.close()
    st = json.loads(got[-1][2])
    t.ok([g[0] for g in got] == [32, 1, 3] and got[1][2] == b"early\n" and st["exitCode"] == 3,
         "a start sent before the hello arrived runs; hello first, then stdout, then status",
         [(g[0], g[2][:60]) for g in got])


async def test_exit_codes(c):
    r = await c.run({"argv": ["true"]})
    t.ok(r.status == {"exitCode": 0, "signal": None, "timedOut": False, "cancelled": False,
                      "durationMs": r.status.get("durationMs")} and
         isinstance(r.status["durationMs"], int), "argv true: exit 0, status JSON complete",
         r.status)
    r = await c.run({"argv": ["false"]})
    t.eq(r.code, 1, "argv false: exit 1")
    r = await c.run({"argv": ["no-such-command-xyz"]})
    t.ok(r.code == 127 and b"no-such-command-xyz" in r.stderr, "unknown program: 127 and why on stderr",
         (r.status, r.stderr))
    r = await c.run({"shell": "exit 255"})
    t.eq(r.code, 255, "shell exit 255")
    r = await c.run({"shell": "no-such-command-xyz"})
    t.eq(r.code, 127, "shell: command not found is 127")
    r = await c.run({"shell": "kill -KILL $$"})
    t.ok(r.status["exitCode"] is None and r.status["signal"] == "KILL", "death by SIGKILL: signal KILL",
         r.status)
    r = await c.run({"argv": ["sh", "-c", "kill -SEGV $$"]})
    t.ok(r.status["signal"] == "SEGV", "death by SIGSEGV: signal SEGV", r.status)
    t.ok(all(x.statuses == 1 and x.after_status == 0 for x in c.cmds.values()),
         "exactly one status per command, always last")


async def test_streams(c):
    r = await c.run({"shell": "echo out; echo err >&2; printf 'a\\r\\nb'; printf 'x\\r' >&2"})
    t.ok(r.stdout == b"out\na\r\nb" and r.stderr == b"err\nx\r", "stdout and stderr apart, bytes untouched",
         (bytes(r.stdout), bytes(r.stderr)))
    data = bytes(range(256)) * 4096
    r = await c.run({"argv": ["cat"]}, stdin=data)
    t.ok(r.code == 0 and bytes(r.stdout) == data, "all 256 byte values round-trip through stdin/stdout (1 MiB)",
         (r.status, len(r.stdout)))
    r = await c.run({"shell": "cat >&2"}, stdin=data[:70000])
    t.ok(bytes(r.stderr) == data[:70000] and not r.stdout, "and through stderr")
    r = await c.run({"shell": "printf '\\xff\\xfe\\x00\\xc3('"})
    t.eq(bytes(r.stdout), b"\xff\xfe\x00\xc3(", "invalid UTF-8 and NUL arrive as bytes")
    r = await c.run({"argv": ["cat"]}, stdin=b"hello")
    t.eq(bytes(r.stdout), b"hello", "stdin then eof: cat echoes and exits")
    big = os.urandom(1 << 20) * 10
    r = await c.run({"argv": ["wc", "-c"]}, stdin=big, timeout=60)
    t.eq(r.stdout.decode().strip(), str(len(big)), "wc -c of 10 MiB of stdin")
    t.ok(r.acked_in == len(big), "every stdin byte acknowledged", r.acked_in)
    r = await c.run({"argv": ["cat"], "stdin": False})
    t.ok(r.code == 0 and not r.stdout, "stdin:false: stdin is /dev/null")
    t0 = time.monotonic()
    r = await c.run({"shell": "cat /dev/tty; echo rc=$?"})
    t.ok(b"rc=1" in r.stdout and b"No such device or address" in r.stderr and
         time.monotonic() - t0 < 3, "/dev/tty fails at once (ENXIO), no hang", (r.stdout, r.stderr))


async def test_pty(c):
    r = await c.run({"shell": "tty; stty size; echo ${TERM}", "pty": {"columns": 100, "rows": 30}})
    out = r.stdout.decode()
    t.ok(r.code == 0 and "/dev/pts/" in out and "30 100" in out and "xterm" in out and not r.stderr,
         "pty: a terminal of the asked size, TERM set, stderr empty", (out, r.stderr))
    cid = await c.start({"shell": "read x; stty size; echo got:$x", "pty": {"columns": 80, "rows": 24}})
    await asyncio.sleep(0.3)
    await c.send(RESIZE, cid, json.dumps({"columns": 120, "rows": 40}))
    await asyncio.sleep(0.1)
    await c.send(STDIN, cid, b"line\r")
    r = await c.wait(cid)
    t.ok("40 120" in r.stdout.decode() and "got:line" in r.stdout.decode(),
         "pty: resize applies, input reaches the program", r.stdout)


async def test_commands(c):
    r = await c.run({"argv": ["sh", "-c", 'printf "%s|" "$@"', "x", "a b", "", "c"]})
    t.eq(bytes(r.stdout), b"a b||c|", "argv elements reach the program unsplit")
    r = await c.run({"shell": "echo $FOO; pwd", "env": {"FOO": "bar baz"}, "cwd": "/tmp"})
    t.eq(r.stdout.decode(), "bar baz\n/tmp\n", "env additions and cwd")
    r = await c.run({"shell": "pwd", "cwd": "/no/such/dir"})
    t.ok(r.status.get("error", "").find("working directory") >= 0, "a missing cwd is an error status",
         r.status)
    big = "x=" + "a" * (1 << 20) + "\necho ${#x}\n"
    r = await c.run({"shell": big})
    t.ok(r.code == 0 and r.stdout.decode().strip() == "1048576",
         "a 1 MiB shell command runs (script on a memfd)", (r.status, r.stdout[:80], r.stderr[:200]))
    mid = "x=" + "b" * 100000 + "; echo ${#x} $0"
    r = await c.run({"shell": mid})
    t.ok(r.stdout.decode().strip().startswith("100000 "), "a 100 KB shell command runs with -c",
         r.stdout[:80])
    r = await c.run({"argv": ["echo", "a" * 200000]})
    t.ok("error" in r.status and "131071" in r.status["error"],
         "an argv element over 128 KiB: a clear error", r.status)
    tmp = tempfile.mkdtemp(prefix="exec-home-")
    for name in (".bashrc", ".profile", ".bash_profile"):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(f"echo RC:{name}\n")
    os.chmod(tmp, 0o755)
    r = await c.run({"shell": "echo run", "env": {"HOME": tmp}})
    t.eq(r.stdout.decode(), "run\n", "non-login -c reads no rc file")
    r = await c.run({"shell": "shopt -q login_shell && echo login", "login": True, "env": {"HOME": tmp}})
    t.ok("RC:.bash_profile" in r.stdout.decode() and "login" in r.stdout.decode(),
         "login:true reads the login rc files", r.stdout)
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    body = '{"exitCode":0,"signal":null,"timedOut":false,"cancelled":false,"durationMs":1}'
    fake = b"\x03\x00\x00\x00" + bytes([c.next_id]) + body.encode()
    script = ("printf '\\003\\000\\000\\000\\" + format(c.next_id, "03o") + "'; "
              "printf '%s' \"$F\"; printf '\\033]8487;D;0\\007'; printf '%s' \"$F\" >&2; exit 7")
    r = await c.run({"shell": script, "env": {"F": body}})
    t.ok(r.code == 7 and r.statuses == 1 and fake in bytes(r.stdout) and bytes(r.stderr) == body.encode(),
         "a command printing a fake status frame and end marker gains nothing (exit 7 reported)",
         (r.status, r.stdout[:40]))


async def test_parallel(srv):
    c = await ExecClient.connect(srv)
    ids = []
    for i in range(100):
        ids.append(await c.start({"shell": f"sleep 0.$((RANDOM%3)); echo out{i}; echo err{i} >&2; exit {i}"}))
    res = [await c.wait(cid, 60) for cid in ids]
    good = [r for i, r in enumerate(res)
            if r.stdout == f"out{i}\n".encode() and r.stderr == f"err{i}\n".encode() and r.code == i]
    t.eq(len(good), 100, "100 commands at once on one connection: each its own output and status")
    await c.close()


async def test_cancel_timeout(srv):
    c = await ExecClient.connect(srv)
    keep = await c.start({"shell": "sleep 1; echo survived"})
    cid = await c.start({"shell": f"trap '' TERM; sleep {MARK_CANCEL}1 & sleep {MARK_CANCEL}2; echo never"})
    await asyncio.sleep(0.3)
    t.ok(len(procs_with(MARK_CANCEL)) >= 2, "the command and its background job run")
    t0 = time.monotonic()
    await c.send(CANCEL, cid)
    r = await c.wait(cid, 10)
    took = time.monotonic() - t0
    t.ok(r.status["cancelled"] and r.status["signal"] == "KILL" and 1.5 < took < 5,
         "cancel: TERM (ignored), KILL after the 2 s grace; status says cancelled", (r.status, took))
    t.ok(wait_until(lambda: not procs_with(MARK_CANCEL), 3), "cancel leaves no process behind",
         procs_with(MARK_CANCEL))
    r2 = await c.wait(keep, 10)
    t.ok(r2.code == 0 and r2.stdout == b"survived\n", "the other command was not touched", r2.status)
    cid = await c.start({"shell": "sleep 30"})
    await c.send(CANCEL, cid, json.dumps({"signal": "INT"}))
    r = await c.wait(cid, 10)
    t.ok(r.status["cancelled"] and r.status["signal"] == "INT", "cancel with {\"signal\":\"INT\"}", r.status)
    t0 = time.monotonic()
    r = await c.run({"shell": "sleep 30", "timeoutMs": 300})
    took = time.monotonic() - t0
    t.ok(r.status["timedOut"] and r.status["signal"] == "TERM" and not r.status["cancelled"] and
         took < 3, "timeoutMs: TERM at the deadline, status says timedOut", (r.status, took))
    await c.send(CANCEL, cid)      # a late cancel of a finished command is ignored
    await c.send(ACK, cid, struct.pack(">I", 1))
    r = await c.run({"argv": ["true"]})
    t.eq(r.code, 0, "late cancel/ack for a finished command are ignored")
    await c.close()


async def test_server_timeout():
    srv = Server(["--exec-timeout", "1"])
    try:
        c = await ExecClient.connect(srv)
        t0 = time.monotonic()
        r = await c.run({"shell": "sleep 20"})
        t.ok(r.status["timedOut"] and 0.8 < time.monotonic() - t0 < 4,
             "--exec-timeout 1 ends a command without its own timeout", r.status)
        r = await c.run({"shell": "sleep 20", "timeoutMs": 100000})
        t.ok(r.status["timedOut"], "a command's timeoutMs cannot raise --exec-timeout", r.status)
        await c.close()
    finally:
        srv.stop()


async def test_limits():
    srv = Server(["--exec-max-commands", "3", "--exec-max-per-user", "4", "--max-clients", "3"])
    try:
        a = await ExecClient.connect(srv, headers={"X-Webshell-User": "bob"})
        b = await ExecClient.connect(srv, headers={"X-Webshell-User": "bob"})
        o = await ExecClient.connect(srv, headers={"X-Webshell-User": "carol"})
        st, body = upgrade(srv, PROTO)
        t.ok(st == 503 and b"max-clients" in body, "exec connections count toward --max-clients",
             (st, body))
        ids = [await a.start({"shell": "sleep 30"}) for _ in range(3)]
        extra = await a.start({"shell": "echo no"})
        r = await a.wait(extra)
        t.eq(r.status, {"error": "too many commands on this connection (3)"},
             "the 4th command on a connection of --exec-max-commands 3: a clear error")
        await b.start({"shell": "sleep 30"})
        bx = await b.start({"shell": "echo no"})
        r = await b.wait(bx)
        t.eq(r.status, {"error": "too many commands for this identity (4)"},
             "the 5th command of one identity across connections: a clear error")
        r = await o.run({"argv": ["true"]})
        t.eq(r.code, 0, "another identity is not limited by it")
        await a.send(CANCEL, ids[0], json.dumps({"signal": "KILL"}))
        await a.wait(ids[0])
        r = await a.run({"argv": ["true"]})
        t.eq(r.code, 0, "a slot is free again once a command ended")
        for x in (a, b, o):
            await x.close()
        t.ok(wait_until(lambda: srv.wait_log(r"exec_disconnect.*user=bob.*commands=4", 0.1), 5),
             "closing the connections ends their commands")
    finally:
        srv.stop()


async def test_flow_control(srv):
    c = await ExecClient.connect(srv, auto_ack=False)
    before = rss_kb(srv.pid)
    cid = await c.start({"shell": "head -c 20000000 /dev/zero"})
    await asyncio.sleep(1.0)
    got = len(c.cmds[cid].stdout)
    t.ok(got == c.hello["window"], "without acks ptyd sends exactly one window and stops", got)
    grew = rss_kb(srv.pid) - before
    # 20 MB held back would be ~19,500 KiB; 8 MiB leaves room for ASan's quarantine (4.6 MiB seen).
    t.ok(grew < 8192, "ptyd does not buffer the rest (RSS grew by under 8 MiB of 19 MiB)", f"{grew} KiB")
    total = got
    await c.send(ACK, cid, struct.pack(">I", got))
    while not c.cmds[cid].done.is_set():
        await asyncio.sleep(0.01)
        n = len(c.cmds[cid].stdout) - total
        if n:
            total += n
            await c.send(ACK, cid, struct.pack(">I", n))
    r = c.cmds[cid]
    t.ok(r.code == 0 and len(r.stdout) == 20000000, "acks let the rest through, then the status",
         (r.status, len(r.stdout)))
    await c.close()


async def bad(srv, payload, want_code, name, setup=None):
    c = await ExecClient.connect(srv)
    if setup:
        await c.start(setup)
    try:
        await c.ws.send(payload)
    except websockets.ConnectionClosed:
        pass  # closed while we were still sending: what is asked
    code, reason = await c.wait_closed()
    t.ok(code == want_code, f"{name}: closed {want_code}", (code, reason))
    return reason


async def test_bad_frames(srv):
    other = await ExecClient.connect(srv)
    running = await other.start({"shell": "sleep 2; echo still"})
    await bad(srv, "text", 1003, "a text frame")
    reason = await bad(srv, frame(99, 1, b"x"), 1008, "an unknown channel")
    t.ok("unknown channel" in reason, "the close reason says why", reason)
    await bad(srv, b"\x10\x00", 1008, "a message shorter than the header")
    await bad(srv, frame(START, 1, b"{not json"), 1008, "start with bad JSON")
    await bad(srv, frame(START, 0, b'{"argv":["true"]}'), 1008, "start with id 0")
    await bad(srv, frame(STDIN, 77, b"x"), 1008, "stdin for an id never started")
    await bad(srv, frame(STDIN, 1, b"x" * 70000), 1009, "a 70 KB stdin message", {"argv": ["cat"]})
    await bad(srv, frame(START, 1, b'{"shell":"' + b"a" * (5 << 20) + b'"}'), 1009,
              "a start over --exec-max-command")
    c = await ExecClient.connect(srv)
    cid = await c.start({"shell": "sleep 5"})
    await c.send(ACK, cid, struct.pack(">I", 10))
    code, reason = await c.wait_closed()
    t.ok(code == 1008 and "ack" in reason, "an ack of output never sent: 1008", (code, reason))
    c = await ExecClient.connect(srv)
    r = await c.run({"argv": []})
    t.ok("non-empty" in r.status.get("error", ""), "a start with bad contents: error status, connection goes on",
         r.status)
    r = await c.run({"argv": ["true"]})
    t.eq(r.code, 0, "the same connection still runs commands")
    await c.close()
    r = await other.wait(running)
    t.ok(r.stdout == b"still\n", "another connection's command ran on through all of it", r.status)
    await other.close()


async def test_close_kills(srv):
    c = await ExecClient.connect(srv)
    await c.start({"shell": f"sleep {MARK_CLOSE}3 & sleep {MARK_CLOSE}4"})
    await c.start({"shell": f"trap '' TERM HUP; sleep {MARK_CLOSE}5"})
    await asyncio.sleep(0.3)
    t.ok(len(procs_with(MARK_CLOSE)) >= 3, "commands run")
    c.ws.transport.abort()
    await asyncio.sleep(0.1)  # the loop closes the socket
    t.ok(wait_until(lambda: not procs_with(MARK_CLOSE), 5),
         "a connection lost: its commands are killed (TERM, then KILL), nothing left", procs_with(MARK_CLOSE))
    t.ok(wait_until(lambda: not [p for p in children(srv.pid) if open(f"/proc/{p}/stat").read().split()[2] == "Z"], 3),
         "and reaped: no zombie children of ptyd")


async def test_sessions(srv):
    who = {"X-Webshell-User": "erin"}
    tty = await Client.connect(srv, headers=who)
    await tty.send(b'{"AuthToken":"","columns":80,"rows":24,"webshell":{"session":"new"}}')
    await tty.recv_one()
    sid = json.loads(tty.messages[0][1])["id"] if tty.messages and tty.messages[0][0] == b"S" else None
    c = await ExecClient.connect(srv, headers=who)
    cid = c.new_id()
    await c.send(SESSIONS, cid)
    r = await c.wait(cid)
    t.ok(isinstance(r.answer, list) and [s["id"] for s in r.answer] == [sid] and
         r.answer[0]["state"] == "attached" and isinstance(r.answer[0]["started"], int),
         "sessions lists the caller's own terminal session", (sid, r.answer))
    other = await ExecClient.connect(srv, headers={"X-Webshell-User": "frank"})
    cid = other.new_id()
    await other.send(SESSIONS, cid)
    r = await other.wait(cid)
    t.eq(r.answer, [], "another identity sees none of them")
    cid = other.new_id()
    await other.send(END_SESSION, cid, json.dumps({"id": sid}))
    r = await other.wait(cid)
    t.eq(r.status, {"error": "no such session"}, "nor can it end them")
    # A shell busy with a program that ignores the hang-up: the session stays "ending" until
    # the kill grace, and must already be gone from the list asked for right after the end.
    await tty.send(b"0trap '' HUP; sleep 30\r")
    await asyncio.sleep(0.3)
    cid = c.new_id()
    await c.send(END_SESSION, cid, json.dumps({"id": sid}))
    r = await c.wait(cid)
    t.eq(r.status, {"ended": True}, "end-session ends the caller's own session")
    cid = c.new_id()
    await c.send(SESSIONS, cid)
    r = await c.wait(cid)
    t.eq(r.answer, [], "a session that is ending is no longer listed (nothing left to attach or end)")
    code, reason = await tty.until_closed()
    t.ok(code == 1000 and reason == "session ended", "its terminal gets close 1000 'session ended'",
         (code, reason))
    await c.close()
    await other.close()


async def test_audit():
    secret = "s3cr3t-" + os.urandom(4).hex()
    for mode in ("truncated", "none"):
        srv = Server(["--exec-audit-text", mode])
        try:
            c = await ExecClient.connect(srv, headers={"X-Webshell-User": "dora",
                                                       "X-Webshell-Request-Id": "req-42",
                                                       "X-Forwarded-For": "203.0.113.9"})
            cmd = f"echo {secret} | wc -c; cat >/dev/null"
            r = await c.run({"shell": cmd}, stdin=b"12345")
            await c.close()
            m = srv.wait_log(r"exec_end .*\n")
            line = m.group(0) if m else ""
            sha = hashlib.sha256(cmd.encode()).hexdigest()
            t.ok(all(s in line for s in ("user=dora", "peer=203.0.113.9", "request_id=req-42",
                                         f"command={r.id}", f"sha256={sha}", f"length={len(cmd)}",
                                         "status=\"exit 0\"", "bytes_in=5", "bytes_out=")) and
                 re.search(r"duration=\d+\.\d{3}", line), f"audit ({mode}): one line with identity, "
                 "peer, request id, command id, sha256, length, status, duration, bytes", line)
            if mode == "truncated":
                t.ok(secret in line, "--exec-audit-text truncated: the text is in the line", line)
            else:
                t.ok(secret not in srv.text(), "--exec-audit-text none: the text is nowhere in the log")
        finally:
            srv.stop()
    srv = Server()
    try:
        c = await ExecClient.connect(srv)
        r = await c.run({"shell": "echo " + "y" * 500 + " >/dev/null"})
        await c.close()
        m = srv.wait_log(r'text="echo (y+)')
        t.ok(m and len(m.group(1)) == 195, "default: the text is cut at 200 bytes",
             m and len(m.group(1)))
    finally:
        srv.stop()


async def test_no_exec():
    srv = Server(["--no-exec"])
    try:
        ws = await websockets.connect(srv.url, subprotocols=[PROTO, "tty"], compression=None)
        t.eq(ws.subprotocol, "tty", "--no-exec: a client offering both gets tty")
        await ws.close()
        st, body = upgrade(srv, PROTO)
        t.ok(st == 400 and b"subprotocol tty required" in body,
             "--no-exec: exec alone is refused with 400 and the reason", (st, body))
    finally:
        srv.stop()


async def main():
    srv = Server(["--exec-max-commands", "128", "--exec-max-per-user", "256"])
    try:
        base_fds = fd_count(srv.pid)
        await test_handshake(srv)
        c = await ExecClient.connect(srv)
        await test_exit_codes(c)
        await test_streams(c)
        await test_pty(c)
        await test_commands(c)
        await c.close()
        await test_sessions(srv)
        await test_parallel(srv)
        await test_cancel_timeout(srv)
        await test_flow_control(srv)
        await test_bad_frames(srv)
        await test_close_kills(srv)
        t.ok(wait_until(lambda: fd_count(srv.pid) <= base_fds, 5),
             "ptyd holds no more descriptors than before it all", (fd_count(srv.pid), base_fds))
        t.ok(srv.proc.poll() is None, "ptyd is still serving")
    finally:
        code, _ = srv.stop()
        t.eq(code, 0, "ptyd stops cleanly on SIGTERM")
    await test_server_timeout()
    await test_limits()
    await test_audit()
    await test_no_exec()


asyncio.run(main())
t.done()

#!/usr/bin/python3
# sanitize: yes
# tests/ptyd/session.test.py: sessions outlive connections (docs/protocol.md 1):
# resume with exact bytes after dropped connections, reset at a safe boundary
# when the offset is too old, refusals (another identity, a made-up id, a
# malformed member), takeover, 'X', the detach timeout leaving nothing behind,
# output flowing while detached, idle timeout on typed input only, SIGTERM.
# The real binary, real bash, a real WebSocket client on loopback.
import asyncio
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptylib import WORK, Client, Server, children, fd_count, proc_state, run, wait_until  # noqa: E402
from tap import Tap  # noqa: E402

import websockets  # noqa: E402

t = Tap()
ALICE = {"X-Webshell-User": "alice"}
BOB = {"X-Webshell-User": "bob"}


def gone(pid):
    return proc_state(pid) is None


def nothing_left(srv, base_fds, timeout=8):
    def clean():
        return not children(srv.pid) and fd_count(srv.pid) <= base_fds
    ok = wait_until(clean, timeout)
    return bool(ok), f"children={children(srv.pid)} fds={fd_count(srv.pid)}/{base_fds}"


async def resumed(srv, sid, offset, headers=ALICE):
    """A new connection attaching to sid at offset; (client, S JSON or None)."""
    c = await Client.connect(srv, headers=headers)
    s = await c.init_session(sid, offset)
    return c, s


async def test_new(srv):
    c = await Client.connect(srv, headers=ALICE)
    s = await c.init_session("new", cols=100, rows=30)
    t.ok(s and re.fullmatch(r"[0-9a-f]{32}", s["id"]) and s["offset"] == 0 and s["reset"] is False,
         "'S' comes first: a 128-bit id in hex, offset 0, no reset", s)
    await c.until_re(rb"[#$] $")
    types = [m[0] for m in c.messages]
    t.ok(types[:3] == [b"S", b"1", b"2"], "then title and preferences, as in ttyd", types[:4])
    out = await c.run("stty size")
    t.ok(out and "30 100" in out, "the init size is applied", repr(out))
    ids = {s["id"]}
    for _ in range(3):
        d = await Client.connect(srv, headers=ALICE)
        ds = await d.init_session("new")
        ids.add(ds["id"] if ds else None)
        await d.send(b"X")
        await d.until_closed(5)
    t.ok(len(ids) == 4 and None not in ids, "every session has its own id", ids)
    t.ok(srv.wait_log(r"session_start session=" + s["id"][:8] + r" user=alice .*resumable=yes") and
         s["id"] not in srv.text(), "logs carry the first 8 digits of the id, never all of it")
    await c.send(b"X")
    code, reason = await c.until_closed(5)
    t.ok((code, reason) == (1000, "session ended"), "'X' ends the session: 1000 'session ended'",
         (code, reason))
    c2, s2 = await resumed(srv, s["id"], 0)
    code, reason = await c2.until_closed(5)
    t.ok(s2 is None and (code, reason) == (4004, "no such session"),
         "an ended session cannot be resumed: 4004", (code, reason))


async def test_exact_resume(srv):
    """Numbered lines; the TCP connection dropped three times mid-stream; every line once."""
    n = 200000
    c = await Client.connect(srv, headers=ALICE)
    s = await c.init_session("new")
    sid = s["id"]
    await c.until_re(rb"[#$] $")
    await c.input(f"seq 1 {n}; echo __DO''NE__\r")
    chunks = []
    for cut in range(3):
        await c.until_re(rb"(?s)\r\n\d+\r\n.{%d}" % (60000 + cut * 7919), 20)
        await c.drop()
        chunks.append(c.output)
        offset = c.offset
        c, s = await resumed(srv, sid, offset)
        t.ok(s and s["offset"] == offset and s["end"] >= offset and s["reset"] is False,
             f"drop {cut + 1}: resumed at the offset seen, no reset, the replay's end given", (offset, s))
    ok = await c.until("__DONE__", 30)
    chunks.append(c.output)
    data = re.sub(rb"\x1b\[\?2004[hl]\r?", b"", b"".join(chunks))  # bash's bracketed paste
    nums = [int(x) for x in re.findall(rb"^(\d+)\r$", data, re.M)]
    t.ok(ok and nums == list(range(1, n + 1)),
         f"every one of {n} lines arrived exactly once, in order, across 3 drops",
         f"done={ok} count={len(nums)} first bad={next((i for i, v in enumerate(nums) if v != i + 1), None)}")
    t.ok(srv.wait_log(r"session_detach session=" + sid[:8] + r" .*code=1006 reason=\"connection lost\"") and
         srv.wait_log(r"session_attach session=" + sid[:8] + r" .*reset=no"),
         "detach and attach are logged with the close code and the resume point")
    await c.send(b"X")
    await c.until_closed(5)


async def test_refusals(srv):
    c = await Client.connect(srv, headers=ALICE)
    s = await c.init_session("new")
    await c.until_re(rb"[#$] $")
    sid = s["id"]
    for headers, who in ((BOB, "another identity"), ({}, "no identity")):
        d, ds = await resumed(srv, sid, 0, headers)
        code, reason = await d.until_closed(5)
        t.ok(ds is None and (code, reason) == (4003, "session belongs to another identity"),
             f"{who}: refused 4003 'session belongs to another identity'", (code, reason))
    fake = "0123456789abcdef0123456789abcdef"
    d, ds = await resumed(srv, fake, 0)
    code, reason = await d.until_closed(5)
    t.ok(ds is None and (code, reason) == (4004, "no such session"), "a made-up id: 4004 'no such session'",
         (code, reason))
    t.ok(srv.wait_log(r"attach_refused user=bob .*id=" + sid[:8] + r" code=4003") and
         srv.wait_log(r"attach_refused user=alice .*id=01234567 code=4004"), "each refusal is logged with its reason")
    for bad in ('{"webshell":{"session":"NEW"}}', '{"webshell":{"session":"' + sid + '","offset":-5}}',
                '{"webshell":7}'):
        d = await Client.connect(srv, headers=ALICE)
        await d.send(bad.encode())
        code, reason = await d.until_closed(5)
        t.ok(code == 1002 and reason.startswith("webshell"), f"malformed {bad[:40]}: 1002 with the reason",
             (code, reason))
    out = await c.run("echo STILL$((1+1))")
    t.ok(out and "STILL2" in out, "the owner's session is untouched by all of that", repr(out))
    # Takeover: a second attach of the owner takes it; the first gets 4001.
    d, ds = await resumed(srv, sid, c.offset)
    code, reason = await c.until_closed(5)
    t.ok((code, reason) == (4001, "session taken over") and ds and ds["reset"] is False,
         "a new attach takes the session over: the old connection gets 4001", (code, reason))
    out = await d.run("echo TAKEN$((2+2))")
    t.ok(out and "TAKEN4" in out, "the new connection drives the shell", repr(out))
    await d.send(b"X")
    await d.until_closed(5)


async def test_reset(srv):
    """Offset older than a 4 KiB ring: reset, lost bytes counted, a safe first byte."""
    c = await Client.connect(srv, headers=ALICE)
    s = await c.init_session("new")
    sid = s["id"]
    await c.until_re(rb"[#$] $")
    flag = os.path.join(WORK, f"reset-{os.getpid()}")
    await c.input("for i in $(seq 1 3000); do printf '\\e[1;31mLINE\\e[0m \\xc3\\xa9\\r\\n'; done; "
                  f"touch {flag}; echo __DO''NE__\r")
    await c.until("LINE", 10)
    seen = c.offset
    await c.drop()
    t.ok(wait_until(lambda: os.path.exists(flag), 20),
         "while detached the program runs on (its output goes to the ring, never blocking it)")
    d, ds = await resumed(srv, sid, seen)
    ok = await d.until("__DONE__", 10)
    t.ok(ds and ds["reset"] is True and ds["offset"] > seen and ds["lost"] == ds["offset"] - seen,
         "offset older than the buffer: reset true, lost = the bytes skipped", ds)
    first = d.output[:1]
    t.ok(ok and first in (b"\x1b", b"L", b"I", b"N", b"E", b" ", b"\xc3", b"\r", b"\n"),
         "replay starts at a safe boundary (never in an escape sequence or a UTF-8 character)",
         repr(d.output[:40]))
    t.ok(4096 - 64 <= ds["offset"] and len(d.output) >= 4096 - 64 - 16,
         "what the 4 KiB buffer holds is replayed", (ds, len(d.output)))
    os.unlink(flag)
    await d.send(b"X")
    await d.until_closed(5)


async def test_exit_detached(srv):
    c = await Client.connect(srv, headers=ALICE)
    s = await c.init_session("new")
    await c.until_re(rb"[#$] $")
    await c.input("sleep 0.5; echo BYE-$((40+2)); exit 3\r")
    await c.until("exit 3", 5)
    seen = c.offset
    await c.drop()
    await asyncio.sleep(1.5)
    d, ds = await resumed(srv, s["id"], seen)
    code, reason = await d.until_closed(5)
    t.ok(ds and ds["reset"] is False and b"BYE-42" in d.output and (code, reason) == (1000, "exit 3"),
         "a shell that exits while detached: the resume gets its last output, then 1000 'exit 3'",
         (ds, d.output[-60:], code, reason))


async def test_detach_timeout(base_args):
    srv = Server(base_args + ["--detach-timeout", "1"])
    try:
        time.sleep(0.3)  # start-up descriptors (cgroup setup) closed first
        base = fd_count(srv.pid)
        c = await Client.connect(srv, headers=ALICE)
        s = await c.init_session("new")
        await c.until_re(rb"[#$] $")
        await c.input("sleep 1000 & echo BG=$! SH=$$\r")
        m = await c.until_re(rb"BG=(\d+) SH=(\d+)")
        bg, sh = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        t0 = time.monotonic()
        await c.drop()
        await asyncio.sleep(0.5)
        t.ok(bg and not gone(sh) and not gone(bg), "dropped: the shell and its job keep running (detached)")
        ok = wait_until(lambda: gone(sh) and gone(bg), 6)
        took = time.monotonic() - t0
        t.ok(ok and took >= 0.9, f"--detach-timeout 1: shell and job gone after the timeout ({took:.1f}s)")
        ok, detail = nothing_left(srv, base)
        t.ok(ok, "no process, zombie or fd left behind", detail)
        t.ok(srv.wait_log(r"session_end session=" + s["id"][:8] + r" .*reason=\"detach timeout\""),
             "the end is logged: 'detach timeout'")
        d, ds = await resumed(srv, s["id"], 0)
        code, _ = await d.until_closed(5)
        t.ok(ds is None and code == 4004, "after the timeout the id is unknown: 4004", code)
    finally:
        srv.stop()
    srv = Server(base_args + ["--detach-timeout", "0"])
    try:
        c = await Client.connect(srv, headers=ALICE)
        s = await c.init_session("new")
        await c.until_re(rb"[#$] $")
        out = await c.run("echo SH=$$")
        sh = int(re.search(r"SH=(\d+)", out).group(1))
        await c.drop()
        ok = wait_until(lambda: gone(sh), 4)
        d, ds = await resumed(srv, s["id"], 0)
        code, _ = await d.until_closed(5)
        t.ok(ok and code == 4004, "--detach-timeout 0: the session ends with its connection (as in ttyd)")
    finally:
        srv.stop()


async def test_idle(base_args):
    srv = Server(base_args + ["--idle-timeout", "2"])
    try:
        c = await Client.connect(srv, headers=ALICE)
        s = await c.init_session("new")
        await c.until_re(rb"[#$] $")
        await c.input("echo typed\r")
        t0 = time.monotonic()
        closed = None
        sid = s["id"]
        for i in range(12):  # resizes and a reconnect do not count as input
            await asyncio.sleep(0.3)
            if i == 3:
                seen = c.offset
                await c.drop()
                c, _ = await resumed(srv, sid, seen)
            else:
                try:
                    await c.send(b'1{"columns":%d,"rows":20}' % (80 + i))
                except websockets.ConnectionClosed:
                    break
        code, reason = await c.until_closed(5)
        closed = time.monotonic() - t0
        t.ok((code, reason) == (1000, "idle timeout (no input for 2 s)") and 1.8 <= closed <= 4.5,
             f"idle timeout counts typed input only: resizes and a reconnect did not keep it ({closed:.1f}s)",
             (code, reason))
    finally:
        srv.stop()


async def test_sigterm(base_args):
    srv = Server(base_args)
    a = await Client.connect(srv, headers=ALICE)
    await a.init_session("new")
    await a.until_re(rb"[#$] $")
    sh_a = int(re.search(r"SH=(\d+)", await a.run("echo SH=$$")).group(1))
    b = await Client.connect(srv, headers=ALICE)
    await b.init_session("new")
    await b.until_re(rb"[#$] $")
    sh_b = int(re.search(r"SH=(\d+)", await b.run("echo SH=$$")).group(1))
    await b.drop()
    tty = await Client.connect(srv)
    await tty.ready()
    os.kill(srv.pid, signal.SIGTERM)
    ra = await a.until_closed(5)
    rt = await tty.until_closed(5)
    status, took = srv.stop()
    t.ok(ra == (1012, "service restart") and rt == (1012, "service restart"),
         "SIGTERM: attached clients (resumable or not) get 1012 'service restart'", (ra, rt))
    t.ok(status == 0 and took < 5 and gone(sh_a) and gone(sh_b),
         "SIGTERM: detached sessions end too; ptyd exits 0 with no shell left", (status, took))


def main():
    base_args = ["--replay-buffer", str(4 << 20)]
    srv = Server(base_args)
    try:
        time.sleep(0.3)
        base = fd_count(srv.pid)
        run(test_new(srv))
        run(test_exact_resume(srv))
        run(test_refusals(srv))
        ok, detail = nothing_left(srv, base)
        t.ok(ok, "sessions ended by 'X': nothing left behind", detail)
    finally:
        srv.stop()
    srv = Server(["--replay-buffer", "4096"])
    try:
        run(test_reset(srv))
        run(test_exit_detached(srv))
    finally:
        srv.stop()
    run(test_detach_timeout(base_args))
    run(test_idle(base_args))
    run(test_sigterm(base_args))
    t.done()


main()

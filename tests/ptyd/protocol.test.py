#!/usr/bin/python3
# tests/ptyd/protocol.test.py: ptyd speaks ttyd's protocol and beats ttyd where
# it is wrong: the real binary, real bash, a real WebSocket client on loopback.
# sanitize: yes
import asyncio
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptylib import BASH, PTYD, WORK, Client, Server, run  # noqa: E402
from tap import Tap, free_port  # noqa: E402

import websockets  # noqa: E402

t = Tap()
HOST = socket.gethostname()


def http_get(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def upgrade_headers(extra=None):
    h = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "tty"}
    h.update(extra or {})
    return h


def test_http(srv, index):
    st, ctype, body = http_get(srv.port, "/token")
    t.ok(st == 200 and body == b'{"token": ""}' and ctype.startswith("application/json"),
         "GET /token answers ttyd's {\"token\": \"\"}", f"{st} {ctype} {body!r}")
    st, ctype, body = http_get(srv.port, "/")
    with open(index, "rb") as f:
        want = f.read()
    t.ok(st == 200 and body == want and ctype.startswith("text/html"),
         "GET / serves --index FILE", f"{st} {ctype} {body[:80]!r}")
    st, _, _ = http_get(srv.port, "/nothing-here")
    t.eq(st, 404, "GET of another path is 404")
    st, _, body = http_get(srv.port, "/ws", upgrade_headers({"Sec-WebSocket-Protocol": "chat"}))
    t.ok(st == 400 and b"subprotocol tty" in body, "upgrade without subprotocol tty: 400 with reason",
         f"{st} {body!r}")
    st, _, body = http_get(srv.port, "/other", upgrade_headers())
    t.eq(st, 404, "upgrade on a path other than /ws: 404")


async def test_order(srv):
    c = await Client.connect(srv)
    t.eq(c.ws.subprotocol, "tty", "handshake echoes subprotocol tty")
    try:
        await asyncio.wait_for(c.ws.recv(), 0.3)
        t.ok(False, "nothing is sent before the init message")
    except asyncio.TimeoutError:
        t.ok(True, "nothing is sent before the init message")
    await c.ready(100, 30)
    types = [m[0] for m in c.messages]
    t.ok(types[:3] == [b"1", b"2", b"0"] and all(x == b"0" for x in types[2:]),
         "messages arrive as title, preferences, then output", types)
    t.eq(c.messages[0][1].decode(), f"{' '.join(BASH)} ({HOST})", "title is 'COMMAND (HOSTNAME)'")
    t.eq(json.loads(c.messages[1][1]), {}, "preferences are a JSON object")
    t.ok(not any(m[0] == b"T" for m in c.messages), "every server message is a binary frame")
    out = await c.run("stty size")
    t.ok(out is not None and "30 100" in out, "init size is applied (stty size)", repr(out))
    await c.send(b'1{"columns":120,"rows":40}')
    out = await c.run("stty size")
    t.ok(out is not None and "40 120" in out, "resize is applied (stty size)", repr(out))
    for bad in (b'1{"columns":0,"rows":5}', b'1{"columns":5000,"rows":5}', b"1not json",
                b'1{"columns":"a","rows":5}'):
        await c.send(bad)
    out = await c.run("stty size")
    t.ok(out is not None and "40 120" in out, "bad resize messages are ignored", repr(out))
    t.ok(srv.wait_log(r"message_ignored .*message=resize reason=\"?invalid JSON") and
         srv.wait_log(r"message_ignored .*message=resize reason=\"columns and rows must be within"),
         "bad resize messages are logged with the reason")
    await c.send("0echo te$((1+1))xt\r", text=True)
    t.ok(await c.until("te2xt"), "input in a text frame works")
    await c.send(b"9whatever")
    out = await c.run("echo still$((3))here")
    t.ok(out is not None and "still3here" in out and srv.wait_log(r"unknown message type"),
         "unknown message type is ignored and logged")
    # One binary message in fragments that split UTF-8 characters.
    start = len(c.output)
    await c.ws.send([b"0echo \xe2\x82", b"\xac\xc3", b"\xa9\xf0\x9f\x98", b"\x80$((5))\r"])
    t.ok(await c.until("\u20ac\u00e9\U0001f6005".encode(), 5),
         "UTF-8 split across input fragments arrives intact",
         repr(c.output[start:][-80:]))
    # Output: 90,000 bytes of 3-byte characters cross frame boundaries.
    start = len(c.output)
    # printf builds the character, so the echoed command line holds none.
    await c.input("printf '\\xe2\\x82\\xac%.0s' {1..30000}; echo; echo __D$((1))__\r")
    ok = await c.until("__D1__", 15)
    text = c.output[start:].decode("utf-8", "strict") if ok else ""
    t.ok(ok and text.count("\u20ac") == 30000,
         "UTF-8 output split across frames decodes intact", f"count={text.count(chr(0x20ac))}")
    await c.close()


async def test_before_init(srv):
    c = await Client.connect(srv)
    await c.input("echo hi\r")
    code, reason = await c.until_closed(5)
    t.ok(code == 1002 and reason == "input before init",
         "input before init closes with 1002 and a reason", f"{code} {reason!r}")


def raw_ws(port):
    """A socket after a tty upgrade, for frames a WebSocket library will not send."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 b"Sec-WebSocket-Protocol: tty\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    return sock, head.split(b"\r\n\r\n", 1)[1]


def frame(opcode, payload, masked=True):
    if masked:
        key = os.urandom(4)
        data = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + data
    return bytes([0x80 | opcode, len(payload)]) + payload


def close_of(sock, rest, timeout=5):
    """Reads frames until a close frame; (code, reason) or (None, None)."""
    sock.settimeout(timeout)
    buf = rest
    try:
        while True:
            while len(buf) >= 2:
                ln = buf[1] & 127
                h = 2 + (2 if ln == 126 else 8 if ln == 127 else 0)
                if ln >= 126:
                    ln = int.from_bytes(buf[2:h], "big")
                if len(buf) < h + ln:
                    break
                op, payload, buf = buf[0] & 15, buf[h:h + ln], buf[h + ln:]
                if op == 8:
                    return int.from_bytes(payload[:2], "big"), payload[2:].decode()
            chunk = sock.recv(65536)
            if not chunk:
                return None, None
            buf += chunk
    except OSError:
        return None, None


async def test_frames(srv):
    # RFC 6455 5.1: a client masks every frame; lws 4.1.6 would take an unmasked one.
    sock, rest = raw_ws(srv.port)
    sock.sendall(frame(2, b'{"columns":80,"rows":24}'))
    time.sleep(0.3)
    marker = os.path.join(WORK, "unmasked-ran")
    sock.sendall(frame(2, f"0touch {marker}\r".encode(), masked=False))
    code, reason = close_of(sock, rest)
    sock.close()
    time.sleep(0.5)
    t.ok((code, reason) == (1002, "unmasked frame") and not os.path.exists(marker),
         "an unmasked client frame: 1002 'unmasked frame', and its input never reaches the shell",
         (code, reason))
    t.ok(srv.wait_log(r"session_end .*code=1002 reason=\"unmasked frame\""), "logged with the code sent")
    # The same request and frame in one write (the frame right behind the upgrade).
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 b"Sec-WebSocket-Protocol: tty\r\n\r\n" + frame(2, b"2", masked=False))
    head = b""
    sock.settimeout(5)
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    code, reason = close_of(sock, head.split(b"\r\n\r\n", 1)[-1])
    sock.close()
    t.ok((code, reason) == (1002, "unmasked frame"), "an unmasked frame glued to the upgrade request: 1002",
         (code, reason))
    # A text frame that is not UTF-8: the 1007 sent is the 1007 logged.
    sock, rest = raw_ws(srv.port)
    sock.sendall(frame(2, b'{"columns":80,"rows":24}'))
    sock.sendall(frame(1, b"0\xc3("))
    code, reason = close_of(sock, rest)
    sock.close()
    t.ok(code == 1007 and srv.wait_log(r"session_end .*code=1007 reason=\"text frame is not UTF-8\""),
         "a text frame that is not UTF-8: 1007, and the log says 1007", (code, reason))
    # Float sizes far out of range are refused before any conversion (UBSan's float-cast-overflow).
    c = await Client.connect(srv)
    await c.send(b'{"AuthToken":"","columns":1e300,"rows":-1e300}')
    await c.send(b'1{"columns":1e308,"rows":3.5e38}')
    out = await c.run("stty size")
    t.ok(out is not None and "24 80" in out, "init and resize with 1e300: ignored with a reason, 80x24 kept",
         repr(out))
    await c.close()


async def test_late_init(srv):
    # --ping-interval 1: a ping goes out before the init message (ttyd then never reads the PTY).
    c = await Client.connect(srv)
    await asyncio.sleep(1.6)
    ok = await c.ready()
    out = await c.run("echo la$((2))te") if ok else None
    t.ok(out is not None and "la2te" in out, "late init after a ping still gets output", repr(out))
    await c.close()


async def test_too_big(srv):
    a = await Client.connect(srv)
    b = await Client.connect(srv)
    await a.ready()
    await b.ready()
    await a.send(b"0" + b"x" * 70000)
    code, reason = await a.until_closed(5)
    t.ok(code == 1009, "a message over 64 KiB closes with 1009", f"{code} {reason!r}")
    out = await b.run("echo ot$((4))her")
    t.ok(out is not None and "ot4her" in out, "another session is untouched by it", repr(out))
    # The limit is exact: a 65,536-byte resize message is applied, one byte more is not.
    def resize_msg(total, cols):
        head = b'1{"columns":%d,"rows":30,"pad":"' % cols
        return head + b"x" * (total - len(head) - 2) + b'"}'
    await b.send(resize_msg(65536, 111))
    out = await b.run("stty size")
    t.ok(out is not None and "30 111" in out, "a message of exactly 64 KiB is accepted", repr(out))
    big = resize_msg(65537, 112)
    try:
        await b.ws.send([big[:65536], big[65536:]])
    except websockets.ConnectionClosed:
        pass  # the close may beat websockets' empty final fragment
    code, reason = await b.until_closed(5)
    t.ok(code == 1009 and reason == "message too big",
         "64 KiB + 1 byte in two fragments closes with 1009 'message too big'", f"{code} {reason!r}")


async def test_exit(srv):
    # ttyd lost the tail of this output in 3 of 20 runs and sent no close frame.
    good = 0
    details = []
    for i in range(8):
        c = await Client.connect(srv)
        await c.ready()
        await c.input("head -c 1000000 /dev/zero | tr '\\0' x; exit 3\r")
        code, reason = await c.until_closed(20)
        n = c.output.count(b"x")
        if code == 1000 and reason == "exit 3" and n >= 1000000:
            good += 1
        else:
            details.append(f"run {i}: {code} {reason!r} x={n}")
    t.ok(good == 8, "child exit: all output, then close 1000 'exit 3' (8 runs)", "\n".join(details))
    c = await Client.connect(srv)
    await c.ready()
    await c.input("kill -KILL $$\r")
    code, reason = await c.until_closed(10)
    t.ok(code == 1000 and reason == "signal 9", "child killed: close 1000 'signal 9'",
         f"{code} {reason!r}")


async def test_pause(srv):
    c = await Client.connect(srv)
    await c.ready()
    await c.send(b"2")
    await c.input("seq 1 200000; echo __P$((1))__\r")
    await asyncio.sleep(0.2)
    mark = len(c.output)
    try:
        while True:
            await c.recv_one(0.8)
    except asyncio.TimeoutError:
        pass
    got = len(c.output) - mark
    t.ok(got <= 70000 and b"__P1__" not in c.output,
         "PAUSE stops output (at most one frame after it)", f"{got} bytes while paused")
    for _ in range(5):
        await c.send(b"3")
    ok = await c.until("__P1__", 20)
    text = c.output.decode()
    nums = re.findall(r"(?<![\d_])(\d+)\r\n", text)
    t.ok(ok and nums == [str(i) for i in range(1, 200001)],
         "RESUME (sent 5 times) delivers everything in order", f"{len(nums)} lines")
    await c.close()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read()
    fields = st[st.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


async def test_exit_while_paused(srv):
    # The child exits (its PTY hung up) while the client has paused output.
    c = await Client.connect(srv)
    await c.ready()
    await c.send(b"2")
    await c.input("seq 1 300; exit 5\r")
    await asyncio.sleep(0.5)
    ticks = cpu_ticks(srv.pid)
    try:
        m = await c.recv_one(1.0)
    except asyncio.TimeoutError:
        m = None
    spent = cpu_ticks(srv.pid) - ticks
    t.ok(m is None and c.code is None and spent <= 20,
         "child exits while paused: output held, session open, no busy loop",
         f"msg={m!r} code={c.code} cpu ticks={spent}")
    await c.send(b"3")
    code, reason = await c.until_closed(10)
    lines = (ln.rstrip("\r").rsplit("\r", 1)[-1] for ln in c.output.decode().split("\n"))
    nums = [x for x in lines if x.isdigit()]
    t.ok(code == 1000 and reason == "exit 5" and nums == [str(i) for i in range(1, 301)],
         "after RESUME: all of its output, then 1000 'exit 5'", f"{code} {reason!r} {len(nums)}")


async def test_refusals():
    srv = Server(["--max-clients", "2"])
    a = await Client.connect(srv)
    b = await Client.connect(srv)
    st, _, body = http_get(srv.port, "/ws", upgrade_headers())
    t.ok(st == 503 and b"too many sessions" in body, "--max-clients: 503 with a reason",
         f"{st} {body!r}")
    t.ok(srv.wait_log(r"refused peer=127.0.0.1 status=503 reason=\"too many sessions"),
         "--max-clients refusal is logged", srv.text()[-400:])
    await a.close()
    await asyncio.sleep(0.3)
    try:
        c = await Client.connect(srv)
        t.ok(True, "a slot freed by a closed session is usable again")
        await c.close()
    except Exception as e:  # noqa: BLE001
        t.ok(False, "a slot freed by a closed session is usable again", repr(e))
    await b.close()
    srv.stop()

    srv = Server(["--check-origin", "https://shell.example.com"])
    st, _, body = http_get(srv.port, "/ws", upgrade_headers({"Origin": "https://evil.example"}))
    t.ok(st == 403 and b"origin" in body, "--check-origin: other Origin gets 403", f"{st} {body!r}")
    st, _, _ = http_get(srv.port, "/ws", upgrade_headers())
    t.eq(st, 403, "--check-origin: missing Origin gets 403")
    c = await Client.connect(srv, origin="https://shell.example.com")
    ok = await c.ready()
    t.ok(ok, "--check-origin: the right Origin is accepted")
    await c.close()
    srv.stop()

    srv = Server(["--check-origin", "https://shell.example.com", "--check-origin", "https://other.example:8443"])
    oks = []
    for origin in ("https://shell.example.com", "https://other.example:8443"):
        c = await Client.connect(srv, origin=origin)
        oks.append(await c.ready())
        await c.close()
    st, _, _ = http_get(srv.port, "/ws", upgrade_headers({"Origin": "https://third.example"}))
    t.ok(oks == [True, True] and st == 403, "--check-origin repeated: each listed Origin accepted, others 403",
         (oks, st))
    srv.stop()


async def test_timeouts():
    srv = Server(["--idle-timeout", "1"])
    c = await Client.connect(srv)
    await c.ready()
    t0 = time.monotonic()
    for _ in range(4):  # input keeps it alive past the limit
        await asyncio.sleep(0.4)
        await c.input(" ")
    alive = c.code is None
    code, reason = await c.until_closed(5)
    took = time.monotonic() - t0
    t.ok(alive and code == 1000 and reason == "idle timeout (no input for 1 s)" and took >= 2.0,
         "--idle-timeout: input keeps it open, silence closes 1000 'idle timeout (no input for 1 s)'",
         f"{code} {reason!r} after {took:.2f}s")
    srv.stop()

    srv = Server(["--max-session", "1"])
    t0 = time.monotonic()  # the limit counts from the upgrade
    c = await Client.connect(srv)
    await c.ready()
    await c.input("while :; do echo tick; sleep 0.1; done\r")
    code, reason = await c.until_closed(5)
    took = time.monotonic() - t0
    t.ok(code == 1000 and reason == "session time limit" and 0.9 < took < 4,
         "--max-session: 1000 'session time limit' even while busy", f"{code} {reason!r} {took:.2f}s")
    srv.stop()


async def test_logs(srv):
    c = await Client.connect(srv, headers={"X-Webshell-User": "alice", "X-Forwarded-For": "203.0.113.9",
                                           "X-Webshell-Request-Id": "req-42"})
    await c.ready(90, 20)
    await c.input("exit 4\r")
    await c.until_closed(5)
    m = srv.wait_log(r"session_start session=([0-9a-f]{8}) user=alice peer=203\.0\.113\.9 "
                     r"request_id=req-42 pid=(\d+) size=90x20 resumable=no "
                     r"command=\"/bin/bash --norc --noprofile\"")
    t.ok(m, "session start line: session, user, peer (X-Forwarded-For), request id, pid, size, command",
         srv.text()[-600:])
    sid = m.group(1) if m else "?"
    m = srv.wait_log(r"session_end session=" + sid + r" user=alice peer=203\.0\.113\.9 "
                     r"request_id=req-42 duration=[0-9.]+ "
                     r"bytes_in=(\d+) bytes_out=(\d+) status=\"exit 4\" code=1000 reason=\"exit 4\"")
    t.ok(m and int(m.group(1)) == len("exit 4\r") and int(m.group(2)) > 0,
         "session end line: duration, bytes in/out, exit status, close code and reason",
         srv.text()[-600:])


def test_flags():
    for args, what in ((["--bogus"], "unknown flag"), (["--max-clients", "x"], "bad number"),
                       (["--idle-timeout", "-1"], "negative number"),
                       (["--listen", "localhost"], "bad listen address"),
                       (["--index", "/nonexistent"], "missing index file"),
                       (["--cwd", "/etc/passwd"], "--cwd not a directory"),
                       (["--max-session"], "missing value")):
        p = subprocess.run([PTYD, "--allow-root"] + args, capture_output=True, timeout=10)
        t.ok(p.returncode == 2 and b"usage: ptyd" in p.stderr,
             f"bad flag ({what}): usage and exit 2", f"rc={p.returncode} {p.stderr[:300]!r}")
    p = subprocess.run([PTYD, "--help"], capture_output=True, timeout=10)
    t.ok(p.returncode == 0 and b"--max-clients" in p.stdout, "--help prints the usage, exit 0")
    described = [o for o in (b"--detach-timeout", b"--replay-buffer", b"--replay-total", b"--admin-socket",
                             b"--check-origin", b"--log-format") if re.search(rb"\n  " + o + rb" .*\S", p.stdout)]
    t.ok(len(described) == 6, "--help describes each option on its own line", described)
    p2 = subprocess.run([PTYD, "-h"], capture_output=True, timeout=10)
    t.ok(p2.returncode == 0 and p2.stdout == p.stdout, "-h is --help")
    p = subprocess.run([PTYD, "--version"], capture_output=True, timeout=10)
    t.ok(p.returncode == 0 and p.stdout.startswith(b"ptyd "), "--version")
    if os.geteuid() == 0:
        port = free_port()
        p = subprocess.run([PTYD, "--listen", f"127.0.0.1:{port}"], capture_output=True, timeout=10)
        t.ok(p.returncode == 1 and b"refusing to run as root" in p.stderr,
             "as root without --allow-root: refuses to start", f"rc={p.returncode} {p.stderr!r}")
    else:
        t.skip("as root without --allow-root: refuses to start", "not running as root")


async def test_title_term():
    srv = Server(["--title", "My \"shell\"", "--term", "vt100"])
    try:
        c = await Client.connect(srv)
        await c.ready()
        t.eq(c.messages[0], (b"1", b'My "shell"'), "--title replaces the window title")
        out = await c.run("echo T=$TERM")
        t.ok(out is not None and "T=vt100" in out, "--term sets the child's TERM", repr(out))
        await c.close()
    finally:
        srv.stop()


async def test_unix():
    path = os.path.join(WORK, "ptyd.sock")
    # Ready once it accepts on the socket (the file exists a moment before ptyd listens).
    srv = Server(unix=path)
    try:
        ws = await websockets.unix_connect(path, "ws://localhost/ws", subprotocols=["tty"])
        c = Client(ws)
        await c.ready()
        out = await c.run("echo un$((1))ix")
        t.ok(out is not None and "un1ix" in out, "--listen unix:PATH serves sessions", repr(out))
        await c.close()
    finally:
        rc, _ = srv.stop()
    text = srv.text()
    t.ok(rc == 0 and "peer=unix" in text and not os.path.exists(path),
         "unix socket: peer logged as 'unix', socket removed at exit", text[-300:])


async def main():
    index = os.path.join(WORK, "index.html")
    with open(index, "w") as f:
        f.write("<!doctype html><title>ptyd test</title>\n")
    srv = Server(["--ping-interval", "1", "--index", index])
    try:
        test_http(srv, index)
        await test_order(srv)
        await test_before_init(srv)
        await test_frames(srv)
        await test_late_init(srv)
        await test_too_big(srv)
        await test_exit(srv)
        await test_pause(srv)
        await test_exit_while_paused(srv)
        await test_logs(srv)
        await test_refusals()
        await test_timeouts()
        await test_unix()
        await test_title_term()
        test_flags()
    finally:
        rc, _ = srv.stop()
    t.eq(rc, 0, "ptyd exits 0 on SIGTERM after all that")


run(main())
t.done()

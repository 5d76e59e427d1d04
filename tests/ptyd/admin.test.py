#!/usr/bin/python3
# sanitize: yes
# tests/ptyd/admin.test.py: the admin socket (ptyd --list / --end, who may use
# it), and ptyd's logs under abuse: per-connection lines rate limited, and a
# log reader that stops reading never stalls a session (issue 9 section 6).
import asyncio
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptylib import BASH, PTYD, WORK, Client, Server, run  # noqa: E402
from tap import Tap, free_port, wait_port  # noqa: E402

t = Tap()
ALICE = {"X-Webshell-User": "alice"}


def admin(sock, *args, as_nobody=False, groups=None):
    argv = [PTYD, "--admin-socket", sock] + list(args)
    if as_nobody:
        argv = ["setpriv", "--reuid=65534", "--regid=65534",
                "--groups=" + (groups or "65534"), "--"] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


async def test_admin():
    sock = os.path.join(WORK, f"admin-{os.getpid()}.sock")
    srv = Server(["--admin-socket", sock, "--admin-group", "adm"])
    try:
        st = os.stat(sock)
        t.ok(oct(st.st_mode & 0o777) == "0o660" and st.st_gid == 4,
             "the admin socket is 0660 and belongs to --admin-group", (oct(st.st_mode), st.st_gid))
        a = await Client.connect(srv, headers={**ALICE, "X-Forwarded-For": "198.51.100.7"})
        sa = await a.init_session("new")
        await a.until_re(rb"[#$] $")
        await a.input("echo typed\r")
        await a.until("typed\r\n", 5)
        b = await Client.connect(srv, headers={"X-Webshell-User": "bob"})
        sb = await b.init_session("new")
        await b.until_re(rb"[#$] $")
        await b.drop()
        rc, out, err = admin(sock, "--list", "--json")
        rows = json.loads(out) if rc == 0 else []
        byid = {r["id"]: r for r in rows}
        ra, rb_ = byid.get(sa["id"][:8]), byid.get(sb["id"][:8])
        t.ok(rc == 0 and ra and rb_ and ra["state"] == "attached" and rb_["state"] == "detached",
             "--list --json: both sessions, attached and detached", out + err)
        t.ok(ra and ra["owner"] == "alice" and ra["peer"] == "198.51.100.7" and ra["bytesIn"] >= 11 and
             ra["bytesOut"] > 0 and ra["pid"] > 0 and ra["started"] <= ra["lastInput"] <= time.time() + 1,
             "each row: owner, peer, start, last input, bytes in/out, pid", ra)
        t.ok(sa["id"] not in out and all(len(r["id"]) == 8 for r in rows),
             "the list shows id prefixes only, never a whole id")
        rc, out, err = admin(sock, "--list")
        t.ok(rc == 0 and out.splitlines()[0].split()[:4] == ["ID", "STATE", "KIND", "OWNER"] and
             re.search(sa["id"][:8] + r"\s+attached\s+terminal\s+alice\s+198\.51\.100\.7", out),
             "--list: a table", out)
        rc, out, err = admin(sock, "--list", as_nobody=True, groups="65534,4")
        t.ok(rc == 0 and sa["id"][:8] in out, "a member of --admin-group may list", err)
        rc, out, err = admin(sock, "--list", as_nobody=True)
        t.ok(rc != 0 and sa["id"][:8] not in out and "Permission denied" in err,
             "another uid outside the group cannot connect", (rc, err))
        os.chmod(sock, 0o666)  # a mistake by hand: the credentials check still holds
        rc, out, err = admin(sock, "--list", as_nobody=True)
        t.ok(rc != 0 and sa["id"][:8] not in out and "permission denied" in err and
             srv.wait_log(r"admin_refused peer=\"uid=65534 "),
             "even with the socket opened to all: refused by its credentials, and logged", (rc, out, err))
        os.chmod(sock, 0o660)
        rc, out, err = admin(sock, "--end", sb["id"][:8])
        c, cs = Client(None), None
        t.ok(rc == 0 and "ended " + sb["id"][:8] in out, "--end PREFIX ends a detached session", out + err)
        d = await Client.connect(srv, headers={"X-Webshell-User": "bob"})
        ds = await d.init_session(sb["id"], 0)
        code, _ = await d.until_closed(5)
        t.ok(ds is None and code == 4004, "and it can no longer be resumed", code)
        rc, out, err = admin(sock, "--end", sa["id"][:8])
        code, reason = await a.until_closed(5)
        t.ok(rc == 0 and (code, reason) == (1000, "ended by an administrator"),
             "--end on an attached session: its client gets 1000 'ended by an administrator'", (code, reason))
        t.ok(srv.wait_log(r"session_end session=" + sa["id"][:8] + r" .*reason=\"ended by an administrator\""),
             "the end is logged with its reason")
        rc, out, err = admin(sock, "--end", "ffff0000")
        t.ok(rc == 1 and "no such session or command" in err, "--end of an unknown prefix: an error", err)
        rc, out, err = admin(sock, "--end", "zz")
        t.ok(rc != 0 and "hex" in err, "--end of a malformed prefix: an error", err)
        del c, cs
    finally:
        srv.stop()
    t.ok(not os.path.exists(sock), "the admin socket is removed at exit")
    # Without --admin-socket, --list asks the provisioned ptyd's (web-shell.sh's unit).
    p = subprocess.run([PTYD, "--list"], capture_output=True, text=True)
    default = "/run/web-shell-admin/admin.sock"
    if os.path.exists(default):
        t.skip("--list without a socket asks the default one", f"{default} exists on this machine")
    else:
        t.ok(p.returncode == 1 and p.stderr.startswith(f"ptyd: {default}: No such file") and
             "--admin-socket PATH" in p.stderr, "--list without a socket asks the default one, "
             "and says how to name another", p.stderr[:200])


async def test_rate_limit():
    srv = Server([])
    try:
        c = await Client.connect(srv)
        for i in range(3000):
            await c.send(b"Z%d" % i)
        await c.close()
        t.ok(srv.wait_log(r"log_suppressed .*event=message_ignored count=2995"),
             "3,000 bad frames before init: 5 lines, then one count", srv.text()[-400:])
        t.eq(len(re.findall(r"message_ignored", srv.text())), 5 + 1, "no more lines than that")
    finally:
        srv.stop()


async def test_json_log():
    srv = Server(["--log-format", "json"])
    try:
        c = await Client.connect(srv, headers={"X-Webshell-User": "alice", "X-Webshell-Request-Id": "req-77"})
        await c.init_session("new")
        await c.send(b"X")
        await c.until_closed(5)
        srv.wait_log(r"session_end")
    finally:
        srv.stop()
    lines = [ln for ln in srv.text().splitlines() if ln.strip()]
    objs = []
    for ln in lines:
        try:
            objs.append(json.loads(ln))
        except ValueError:
            objs.append(None)
    start = [o for o in objs if o and o.get("event") == "session_start"]
    t.ok(lines and None not in objs, "--log-format json: every line is one JSON object",
         [ln for ln, o in zip(lines, objs) if o is None][:3])
    t.ok(start and start[0].get("service") == "ptyd" and start[0].get("request_id") == "req-77" and
         re.fullmatch(r"[0-9a-f]{8}", start[0].get("session", "")),
         "its session lines carry session and request_id", start[:1])


async def echo_time(c, marker):
    start = len(c.output)
    t0 = time.monotonic()
    await c.input(f"echo {marker}\r")
    ok = await c.until(f"{marker}\r\n", 10, start)
    return time.monotonic() - t0 if ok else None


async def test_slow_log_reader():
    """stderr is a pipe nobody reads: sessions must not stall."""
    port = free_port()
    r, w = os.pipe()
    proc = subprocess.Popen([PTYD, "--listen", f"127.0.0.1:{port}", "--allow-root", "--"] + BASH,
                            stdout=subprocess.DEVNULL, stderr=w, stdin=subprocess.DEVNULL)
    os.close(w)

    class S:
        url = f"ws://127.0.0.1:{port}/ws"
    try:
        wait_port(port, 10)
        c = await Client.connect(S)
        await c.ready()
        before = await echo_time(c, "A1")
        # Flood the log past its 1 MiB queue: five ignored messages and a count
        # per connection, each line carrying a long identity and request id.
        hdr = {"X-Webshell-User": "u" * 120, "X-Webshell-Request-Id": "r" * 60}

        async def flood():
            d = await Client.connect(S, headers=hdr)
            for i in range(8):
                await d.send(b"Z%d" % i)
            await d.close()
        t0 = time.monotonic()
        for _ in range(80):
            await asyncio.gather(*(flood() for _ in range(20)))
        t.diag(f"1,600 flooding connections in {time.monotonic() - t0:.1f}s")
        import fcntl
        fl = fcntl.fcntl(r, fcntl.F_GETFL)
        fcntl.fcntl(r, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        stalled = await echo_time(c, "B2")
        t.ok(before is not None and stalled is not None and stalled < 1.0,
             f"log reader stopped (pipe full): a session still echoes ({stalled}s)")
        data = b""
        deadline = time.monotonic() + 10
        while b"log_dropped" not in data and time.monotonic() < deadline:
            try:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                data += chunk
            except BlockingIOError:
                await asyncio.sleep(0.05)
        t.ok(re.search(rb"log_dropped lines=\d+", data), "once the reader reads again, the drops are counted",
             f"{len(data)} bytes read")
        lines = data.split(b"\n")[:-1]
        t.ok(lines and all(ln.startswith(b"ptyd: ") for ln in lines),
             "every line in the log is whole (none cut by a drop)",
             [ln[:80] for ln in lines if not ln.startswith(b"ptyd: ")][:3])
        await c.close()
    finally:
        proc.terminate()
        try:
            while os.read(r, 65536):
                pass
        except OSError:
            pass
        proc.wait(10)
        os.close(r)
    t.ok(proc.returncode == 0, "ptyd stops cleanly after", proc.returncode)


def main():
    run(test_admin())
    run(test_rate_limit())
    run(test_json_log())
    run(test_slow_log_reader())
    t.done()


main()

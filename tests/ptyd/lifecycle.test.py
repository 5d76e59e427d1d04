#!/usr/bin/python3
# sanitize: yes
# tests/ptyd/lifecycle.test.py: ptyd cleans up after every session (close
# frame, dropped TCP, shells that ignore SIGHUP), keeps memory flat behind a
# stalled client, runs the child with a clean environment and the identity of
# its user, and shuts down on SIGTERM as soon as its sessions are gone. The
# real binary, real bash, a real WebSocket client on loopback. Under load
# (1,000 cycles, 200 sessions at once): lifecycle-load.test.py (slow tier).
import asyncio
import os
import pwd
import re
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptylib import (Client, Server, children, descendants_ok, one_ptyd, proc_state,  # noqa: E402
                    rss_kb, run, session_members, wait_until)
from tap import Tap  # noqa: E402

import websockets  # noqa: E402

t = Tap()


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def stalled(pid):
    """(CPU ticks,) of pid once they stopped moving for 0.5 s, else None."""
    a = cpu_ticks(pid)
    time.sleep(0.5)
    b = cpu_ticks(pid)
    return (b,) if a is not None and a == b else None


async def shell_pid(c):
    out = await c.run("echo PID=$$")
    m = re.search(r"PID=(\d+)", out or "")
    return int(m.group(1)) if m else None


def gone(pid):
    return proc_state(pid) in (None,)


async def test_client_gone(srv, base_fds):
    # Close frame.
    c = await Client.connect(srv)
    await c.ready()
    pid = await shell_pid(c)
    await c.close()
    t.ok(pid and wait_until(lambda: gone(pid), 5), "close frame: the shell is hung up and reaped")
    # Dropped TCP, with a child of the shell in the same process group.
    c = await Client.connect(srv)
    await c.ready()
    pid = await shell_pid(c)
    await c.input("sleep 1000 & echo BG=$!\r")
    m = await c.until_re(rb"BG=(\d+)")
    bg = int(m.group(1)) if m else None
    await c.drop()
    t.ok(pid and bg and wait_until(lambda: gone(pid) and gone(bg), 5),
         "dropped TCP: the shell and its background job are gone")
    # A job that ignores SIGHUP (and does not read the terminal) gets SIGKILL after the grace.
    c = await Client.connect(srv)
    await c.ready()
    await c.input("trap '' HUP; echo TRAP=$$; sleep 1000\r")
    m = await c.until_re(rb"TRAP=(\d+)")
    pid = int(m.group(1)) if m else None
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    await c.close()
    members = session_members(pid) if pid else []
    ok = pid and len(members) == 2 and wait_until(lambda: not session_members(pid), 6)
    t.ok(ok and srv.wait_log(r"session_kill session=[0-9a-f]{8} .*reason=\"survived SIGHUP\""),
         f"a job ignoring SIGHUP is killed after the grace ({time.monotonic() - t0:.1f}s)",
         members)
    ok, detail = descendants_ok(srv, base_fds)
    t.ok(ok, "no zombies, no leaked shells, no leaked fds afterwards", detail)


async def test_stalled(srv):
    # A client that stops reading: the TCP window fills, ptyd must stop reading the PTY.
    c = Client(await websockets.connect(srv.url, subprotocols=["tty"], compression=None,
                                        max_size=None, max_queue=1, read_limit=4096,
                                        write_limit=4096))
    await c.ready()
    sh = await shell_pid(c)
    await c.input("yes\r")
    yes = wait_until(lambda: [p for p in session_members(sh or -1) if comm(p) == "yes"], 5)
    # Stop consuming: only the websockets internals read, up to max_queue/read_limit.
    # The stall is reached once the kernel buffers are full and `yes` stops running.
    await asyncio.sleep(0.5)
    cpu = wait_until(lambda: stalled(yes[0]) if yes else None, 20, 0.1)
    # Let the last frames settle in the kernel and lws (and ASan's allocator) first.
    await asyncio.sleep(1.0)
    cpu = stalled(yes[0]) if yes else None
    r1 = rss_kb(srv.pid)
    await asyncio.sleep(3.0)
    r2 = rss_kb(srv.pid)
    after = cpu_ticks(yes[0]) if yes else None
    # A free `yes` burns ~300 ticks in 3 s; blocked, it gets at most a few wake-ups.
    t.ok(yes and cpu and after is not None and after - cpu[0] < 20,
         "stalled client: `yes` blocks on the full PTY", f"yes={yes} cpu={cpu} -> {after}")
    t.ok(r2 - r1 < 512, f"stalled client behind `yes`: ptyd RSS flat ({r1} -> {r2} kB)")
    # Reading again: the output flows, then the session closes cleanly.
    got = len(c.output)
    for _ in range(50):
        await c.recv_one(5)
    t.ok(len(c.output) > got, "output resumes when the client reads again")
    await c.drop()
    t.ok(wait_until(lambda: not children(srv.pid), 5), "and the `yes` behind it is gone after",
         yes)


async def test_environment():
    # ptyd runs as nobody: the child's USER/HOME come from nobody's password entry.
    pw = pwd.getpwnam("nobody")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "SECRET_TOKEN": "must-not-leak", "LD_PRELOAD": "", "HISTFILE": "/x"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
            # nobody must be able to write its sanitizer report where the harness looks.
            m = re.search(r"log_path=([^:]+)", os.environ[k])
            if m and os.path.isdir(os.path.dirname(m.group(1))):
                os.chmod(os.path.dirname(m.group(1)), 0o1777)
    srv = Server(["--cwd", "/tmp"], allow_root=False, user="nobody", env=env)
    try:
        c = await Client.connect(srv, headers={"X-Webshell-User": "alice@example.com"})
        await c.ready()
        out = await c.run("env | sort; id -un; pwd")
        lines = (out or "").replace("\r", "").split("\n")
        seen = {ln.split("=", 1)[0]: ln.split("=", 1)[1] for ln in lines if "=" in ln}
        # bash adds PWD, SHLVL and _ itself; ASan's variables are the harness's.
        allowed = {"TERM", "WEBSHELL_USER", "HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG",
                   "PWD", "SHLVL", "_", "OLDPWD", "ASAN_OPTIONS", "UBSAN_OPTIONS"}
        t.ok(set(seen) <= allowed and "SECRET_TOKEN" not in seen,
             "the child's environment is clean", sorted(seen))
        t.ok(seen.get("USER") == "nobody" and seen.get("HOME") == pw.pw_dir and
             seen.get("SHELL") == pw.pw_shell and "nobody" in lines,
             "USER, HOME, SHELL come from the password entry of the uid ptyd runs as", seen)
        t.ok(seen.get("TERM") == "xterm-256color" and seen.get("LANG") == "C.UTF-8" and
             seen.get("PATH") == env["PATH"], "TERM default, PATH and LANG from ptyd's own", seen)
        t.eq(seen.get("WEBSHELL_USER"), "alice@example.com", "X-Webshell-User becomes WEBSHELL_USER")
        t.ok("/tmp" in lines, "--cwd is the starting directory", lines[-3:])
        # Only the terminal reaches the shell (bash itself adds 255, its copy of it).
        out = await c.run("echo FDS; ls -m /proc/$$/fd")
        m = re.search(r"FDS\r\n([\d, ]+)", out or "")
        t.ok(m and set(m.group(1).replace(",", " ").split()) == {"0", "1", "2", "255"},
             "no descriptor of ptyd leaks into the shell", repr(out))
        await c.close()
        for bad, what in (("{\"sub\":\"x\"}", "a '{'"), ("bob\x01", "a control character"),
                          ("a" * 129, "over 128 bytes")):
            try:
                c = await Client.connect(srv, headers={"X-Webshell-User": bad})
            except Exception as e:  # noqa: BLE001
                t.ok(False, f"X-Webshell-User with {what} is treated as absent", repr(e))
                continue
            await c.ready()
            out = await c.run("echo U=${WEBSHELL_USER-unset}")
            t.ok(out is not None and "U=unset" in out,
                 f"X-Webshell-User with {what} is treated as absent", repr(out))
            await c.close()
        t.ok(srv.wait_log(r"session_start session=[0-9a-f]{8} user=alice@example.com ") and
             srv.wait_log(r"session_start session=[0-9a-f]{8} user=- "), "the log names the user, '-' when absent")
    finally:
        srv.stop()


async def test_login_shell():
    # No command: the running user's login shell, as a login shell ("-bash").
    srv = Server([], command=None)
    try:
        shell = pwd.getpwuid(os.getuid()).pw_shell
        c = await Client.connect(srv)
        await c.init()
        await c.input("shopt -q login_shell && echo LOGIN$((1)) $0\r")
        # A login shell reads the account's profile: slow on a loaded machine.
        m = await c.until_re(rb"LOGIN1 (\S+)", 40)
        t.ok(m and m.group(1).decode() == "-" + os.path.basename(shell),
             "default command: the user's login shell as a login shell",
             m.group(0) if m else c.output[-200:])
        t.ok(c.messages and c.messages[0][1].decode().startswith(shell + " ("),
             "its title names the shell", c.messages[:1])
        await c.close()
    finally:
        srv.stop()


async def test_sigterm():
    srv = Server([])
    clients = [await Client.connect(srv) for _ in range(3)]
    for c in clients[:2]:
        await c.ready()
    await clients[1].input("trap '' HUP; echo T$((1))\r")   # ignores SIGHUP
    await clients[1].until("T1")
    kids = children(srv.pid)
    t0 = time.monotonic()
    os.kill(srv.pid, signal.SIGTERM)
    results = await asyncio.gather(*(c.until_closed(8) for c in clients))
    rc = srv.proc.wait(8)
    took = time.monotonic() - t0
    t.ok(all(r == (1012, "service restart") for r in results),
         "SIGTERM: every session gets close 1012 'service restart'", results)
    t.ok(rc == 0 and took < 5, f"SIGTERM: ptyd exits 0 within 5 s ({took:.2f}s)", f"rc={rc}")
    t.ok(all(gone(k) for k in kids), "SIGTERM: every child is gone", kids)
    t.ok(srv.wait_log(r"ptyd: stopped"), "SIGTERM: logged and stopped")
    srv.stop()


async def main():
    await one_ptyd(t, [test_client_gone, lambda srv, _: test_stalled(srv)])
    await test_environment()
    await test_login_shell()
    await test_sigterm()


run(main())
t.done()

#!/usr/bin/python3
# sanitize: yes
# tests/exec/warm.test.py: shells started ahead (ptyd's default; opt-out
# --no-exec-warm-shell), a bash started ahead for an exec connection's next
# plain script, against the real ptyd and bash: the script runs in it with the
# same stdout, stderr and status as `bash -c` gives ($0, $-, LINENO, SECONDS,
# BASH_EXECUTION_STRING, identity, directory), only plain scripts up to 1 KiB
# take it (not argv, env, cwd, stdin, pty); operators see each waiting shell in
# `ptyd --list` (state "waiting", kind exec) and the metrics gauge, and can end
# it with `ptyd --end`; the user's own sessions list never shows it; a shell
# that dies waiting costs the command nothing; a closed connection hands its
# identity's next connection its shell started ahead (its own identity only);
# every waiting shell is ended after 10 s unused, by SIGHUP, when its identity's
# --exec-max-per-user needs its place, and by ptyd's stop, leaving nothing;
# none is started with --no-exec-warm-shell or for an account whose shell is
# not bash.
import asyncio
import atexit
import json
import os
import pwd
import re
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from execlib import CANCEL, SESSIONS, ExecClient, Server  # noqa: E402
from ptylib import PTYD, WORK, procs, wait_until  # noqa: E402
from tap import Tap, free_port, wait_port  # noqa: E402

t = Tap()
SCRIPT = ('echo "0=$0 flags=$- line=$LINENO s=$SECONDS x=[$BASH_EXECUTION_STRING]"; '
          'echo "$WEBSHELL_USER $PWD $#"; echo to-stderr >&2; exit 3')


def warm_shells(ptyd_pid):
    """Pids of the shells started ahead: children of ptyd running the bootstrap."""
    return procs(lambda p: int(p.stat[1]) == ptyd_pid and p.stat[0] != "Z" and
                 b"BASH_EXECUTION_STRING" in p.cmdline)


def listed(sock, table=False):
    """ptyd --list --json's rows (or --list's table lines), and the output for a failure."""
    p = subprocess.run([PTYD, "--admin-socket", sock, "--list"] + ([] if table else ["--json"]),
                       capture_output=True, text=True, timeout=20)
    if table:
        return p.stdout.splitlines()[1:], p.stdout + p.stderr
    return (json.loads(p.stdout) if p.returncode == 0 else None), p.stdout + p.stderr


def waiting_rows(sock):
    rows, _ = listed(sock)
    return [r for r in rows or [] if r.get("state") == "waiting"]


def gauge(port):
    """webshell_ptyd_exec_waiting_shells now."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        m = re.search(r"^webshell_ptyd_exec_waiting_shells (\S+)$", r.read().decode(), re.M)
    return float(m.group(1)) if m else None


def gone(pids):
    return not any(os.path.exists(f"/proc/{p}") for p in pids)


def audit_lines(srv, at_least=0):
    """The exec_end lines so far (each is written just after its status is sent)."""
    wait_until(lambda: len(re.findall(r"exec_end .*", srv.text())) >= at_least, 5)
    return re.findall(r"exec_end .*", srv.text())


async def test_warm():
    sock = os.path.join(WORK, f"warm-{os.getpid()}.sock")
    mport = free_port()
    # No flag: shells started ahead are the default.
    srv = Server(["--admin-socket", sock, "--metrics", f"127.0.0.1:{mport}"])
    left = []
    try:
        wait_port(mport, 10)
        t.eq(gauge(mport), 0.0, "metrics: webshell_ptyd_exec_waiting_shells 0 at start")
        c = await ExecClient.connect(srv, headers={"X-Webshell-User": "wendy"})
        r1 = await c.run({"shell": SCRIPT, "stdin": False})
        t.ok(wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5),
             "by default, after a command and a quiet moment, one shell waits for the next script",
             warm_shells(srv.pid))
        first = warm_shells(srv.pid)
        rows, text = listed(sock)
        me = pwd.getpwuid(os.geteuid()).pw_name
        w = rows[0] if rows and len(rows) == 1 else {}
        t.ok(re.fullmatch(r"[0-9a-f]{8}", w.get("id", "")) and w.get("kind") == "exec" and
             w.get("state") == "waiting" and w.get("owner") == "wendy" and w.get("account") == me and
             w.get("pid") == first[0] and abs(w.get("started", 0) - time.time()) < 30 and
             w.get("peer") == "127.0.0.1" and isinstance(w.get("conn"), int) and
             w.get("command") is None and w.get("commandSha256") is None and
             w.get("commandId") is None and w.get("requestId") is None and
             w.get("bytesIn") == 0 and w.get("bytesOut") == 0,
             "ptyd --list --json shows it as its own row: kind exec, state waiting, owner, account, "
             "pid, start, its connection; no command", text)
        lines, text = listed(sock, table=True)
        t.ok(len(lines) == 1 and lines[0].split()[:3] == [w.get("id"), "waiting", "exec"] and
             lines[0].rstrip().endswith("(waiting for a script)") and str(first[0]) in lines[0].split(),
             "ptyd --list's table shows it as waiting for a script", text)
        t.eq(gauge(mport), 1.0, "metrics: webshell_ptyd_exec_waiting_shells counts it")
        cid = c.new_id()
        await c.send(SESSIONS, cid)
        t.eq((await c.wait(cid)).answer, [], "the user's own sessions list does not show it")
        r2 = await c.run({"shell": SCRIPT, "stdin": False})
        lines = audit_lines(srv, 2)
        t.ok(len(lines) == 2 and "warm=yes" not in lines[0] and "warm=yes" in lines[1],
             "the first script ran cold, the second in the shell started ahead (audit warm=yes)", lines)
        t.ok(first and not os.path.exists(f"/proc/{first[0]}") or
             wait_until(lambda: first[0] not in warm_shells(srv.pid), 5),
             "that shell was used up")
        t.ok(wait_until(lambda: w.get("id") not in [r["id"] for r in listed(sock)[0]], 5),
             "and its waiting row is gone (a shell that takes a script is listed under a new id)",
             listed(sock)[1])
        t.ok((r2.stdout, r2.stderr, r2.code, r2.status.get("signal")) ==
             (r1.stdout, r1.stderr, r1.code, r1.status.get("signal")) and r1.code == 3 and
             r1.stdout.startswith(b"0=bash flags=hBc line=1 s=0 x=[echo ") and
             r1.stdout.endswith(f"wendy {os.path.expanduser('~')} 0\n".encode()) and
             r1.stderr == b"to-stderr\n",
             "the same stdout, stderr and status as bash -c: $0, $-, LINENO, SECONDS, "
             "BASH_EXECUTION_STRING, identity, directory", (r1.stdout, r2.stdout, r1.stderr, r2.stderr))
        assert wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5)
        warm = warm_shells(srv.pid)[0]
        others = [
            ({"argv": ["true"], "stdin": False}, "argv"),
            ({"shell": "true", "env": {"A": "1"}, "stdin": False}, "env"),
            ({"shell": "true", "cwd": "/tmp", "stdin": False}, "cwd"),
            ({"shell": "cat"}, "stdin"),
            ({"shell": "true", "pty": {"columns": 80, "rows": 24}, "stdin": False}, "pty"),
            ({"shell": ": " + "x" * 1100, "stdin": False}, "over 1 KiB"),
        ]
        before = len(audit_lines(srv))
        for req, _ in others:
            if req.get("shell") == "cat":
                r = await c.run(req, stdin=b"")
            else:
                r = await c.run(req)
            assert r.code == 0, (req, r.status)
        new = audit_lines(srv, before + len(others))[before:]
        t.ok(len(new) == len(others) and not any("warm=yes" in ln for ln in new) and
             warm_shells(srv.pid) == [warm],
             "argv, env, cwd, stdin, pty and scripts over 1 KiB start cold; the waiting shell stays", new)
        os.kill(warm, 9)
        t.ok(wait_until(lambda: warm not in warm_shells(srv.pid), 5) and
             wait_until(lambda: waiting_rows(sock) == [] and gauge(mport) == 0.0, 5),
             "a waiting shell killed from outside: no longer listed or counted")
        r = await c.run({"shell": "echo after", "stdin": False})
        t.ok(r.code == 0 and r.stdout == b"after\n" and r.stderr == b"",
             "the next script runs unharmed (cold)", r.status)
        t.ok(wait_until(lambda: len(warm_shells(srv.pid)) == 1 and warm not in warm_shells(srv.pid), 5),
             "and another shell waits for the one after", warm_shells(srv.pid))
        # The race: the waiting shell dies, and the next script comes before ptyd has reaped it
        # (ptyd is stopped meanwhile): the script runs all the same.
        assert wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5)
        dead = warm_shells(srv.pid)[0]
        os.kill(srv.pid, 19)  # SIGSTOP
        try:
            os.kill(dead, 9)
            cid = await c.start({"shell": "echo raced", "stdin": False})
            await asyncio.sleep(0.2)
        finally:
            os.kill(srv.pid, 18)  # SIGCONT
        r = await c.wait(cid, 10)
        t.ok(r.code == 0 and r.stdout == b"raced\n",
             "a script that comes while its waiting shell lies dead, not yet reaped, still runs", r.status)
        assert wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5)
        n = len(audit_lines(srv))
        r = await c.run({"shell": "sleep 0.2; echo slept", "stdin": False, "timeoutMs": 5000})
        t.ok(r.code == 0 and r.stdout == b"slept\n" and "warm=yes" in audit_lines(srv, n + 1)[-1],
             "a script with a time limit runs warm too")
        await asyncio.sleep(0.1)
        own = warm_shells(srv.pid)
        await c.close()
        t.ok(len(own) == 1 and wait_until(lambda: waiting_rows(sock) and
                                          waiting_rows(sock)[0]["conn"] is None, 5) and
             warm_shells(srv.pid) == own,
             "a closed connection's own waiting shell is kept for the identity's next connection",
             (own, warm_shells(srv.pid)))
        pooled = warm_shells(srv.pid)
        rows, text = listed(sock)
        t.ok(rows is not None and len(rows) == 1 and rows[0]["state"] == "waiting" and
             rows[0]["owner"] == "wendy" and rows[0]["pid"] == pooled[0] and rows[0]["conn"] is None and
             rows[0]["peer"] == "",
             "it is listed as waiting for wendy's next connection (no connection, no peer)", text)
        c = await ExecClient.connect(srv, headers={"X-Webshell-User": "wendy"})
        n = len(audit_lines(srv))
        r3 = await c.run({"shell": SCRIPT, "stdin": False})
        t.ok(r3.stdout == r1.stdout and r3.stderr == r1.stderr and r3.code == 3 and
             "warm=yes" in audit_lines(srv, n + 1)[-1] and
             wait_until(lambda: not set(pooled) & set(warm_shells(srv.pid)), 5),
             "the identity's next connection runs its first script in it, with the same result",
             (r3.stdout, audit_lines(srv)[-1]))
        await c.close()
        other = await ExecClient.connect(srv, headers={"X-Webshell-User": "zoe"})
        n = len(audit_lines(srv))
        await other.run({"shell": "true", "stdin": False})
        t.ok("warm=yes" not in audit_lines(srv, n + 1)[-1],
             "another identity's first script does not take it", audit_lines(srv)[-1])
        await other.close()
        t.ok(wait_until(lambda: len(warm_shells(srv.pid)) == 2, 5),
             "each identity has its own", warm_shells(srv.pid))
        # A connection that stays open: its own waiting shell also ends after 10 s unused.
        c = await ExecClient.connect(srv, headers={"X-Webshell-User": "yan"})
        await c.run({"shell": "true", "stdin": False})
        t.ok(wait_until(lambda: len(warm_shells(srv.pid)) == 3 and len(waiting_rows(sock)) == 3 and
                        gauge(mport) == 3.0, 5),
             "listed and counted: two for the identities' next connections, one for an open one",
             listed(sock)[1])
        left = warm_shells(srv.pid)
        t0 = time.monotonic()
        t.ok(wait_until(lambda: gone(left), 15) and time.monotonic() - t0 > 5,
             "unused for 10 s, each is ended, the open connection's too", warm_shells(srv.pid))
        t.ok(waiting_rows(sock) == [] and gauge(mport) == 0.0 and listed(sock)[0] == [],
             "then nothing is listed or counted", listed(sock)[1])
        t.ok(warm_shells(srv.pid) == [], "and the open connection starts none until its next command")
        await c.run({"shell": "true", "stdin": False})
        t.ok(wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5), "after it, one waits again")
        # An operator ends a connection's waiting shell.
        wid = waiting_rows(sock)[0]["id"]
        wpid = warm_shells(srv.pid)
        p = subprocess.run([PTYD, "--admin-socket", sock, "--end", wid], capture_output=True,
                           text=True, timeout=20)
        t.ok(p.returncode == 0 and p.stdout.strip() == f"ended {wid}" and
             wait_until(lambda: gone(wpid), 5) and
             wait_until(lambda: waiting_rows(sock) == [] and gauge(mport) == 0.0, 5),
             "ptyd --end PREFIX ends a waiting shell: gone, no longer listed or counted",
             p.stdout + p.stderr)
        n = len(audit_lines(srv))
        r = await c.run({"shell": "echo still", "stdin": False})
        await asyncio.sleep(0.3)
        t.ok(r.code == 0 and r.stdout == b"still\n" and "warm=yes" not in audit_lines(srv, n + 1)[-1] and
             warm_shells(srv.pid) == [],
             "its connection still runs scripts (cold) and starts no other waiting shell",
             (r.status, warm_shells(srv.pid)))
        await c.close()
        t.ok(wait_until(lambda: len(waiting_rows(sock)) == 0, 5) and warm_shells(srv.pid) == [],
             "nor does its identity's next connection find one")
        # An operator ends one waiting for an identity's next connection.
        c = await ExecClient.connect(srv, headers={"X-Webshell-User": "zed"})
        await c.run({"shell": "true", "stdin": False})
        await c.close()
        assert wait_until(lambda: len(waiting_rows(sock)) == 1 and len(warm_shells(srv.pid)) == 1, 5)
        wid, wpid = waiting_rows(sock)[0]["id"], warm_shells(srv.pid)
        p = subprocess.run([PTYD, "--admin-socket", sock, "--end", wid[:6]], capture_output=True,
                           text=True, timeout=20)
        t.ok(p.returncode == 0 and wait_until(lambda: gone(wpid), 5) and
             wait_until(lambda: listed(sock)[0] == [], 5),
             "ptyd --end also ends one waiting for an identity's next connection", p.stdout + p.stderr)
        c = await ExecClient.connect(srv)
        await c.run({"shell": "true", "stdin": False})
        t.ok(wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5), "a connection warms one again")
        left = warm_shells(srv.pid)
    finally:
        code, _ = srv.stop()
    t.eq(code, 0, "ptyd stops cleanly with a shell waiting")
    t.ok(left and wait_until(lambda: gone(left), 5), "and that shell is gone", left)


async def test_off():
    """--no-exec-warm-shell: no shell is ever started ahead: not after commands with pauses,
    not for the identity's next connection; nothing listed or counted."""
    sock = os.path.join(WORK, f"warm-off-{os.getpid()}.sock")
    mport = free_port()
    srv = Server(["--no-exec-warm-shell", "--admin-socket", sock, "--metrics", f"127.0.0.1:{mport}"])
    seen = set()
    try:
        c = await ExecClient.connect(srv, headers={"X-Webshell-User": "olga"})
        n = len(audit_lines(srv))
        for _ in range(3):
            await c.run({"shell": "true", "stdin": False})
            # Well past the 5 ms quiet moment after which one would be started.
            for _ in range(10):
                seen.update(warm_shells(srv.pid))
                await asyncio.sleep(0.02)
        await c.close()
        c = await ExecClient.connect(srv, headers={"X-Webshell-User": "olga"})
        await c.run({"shell": "true", "stdin": False})
        for _ in range(10):
            seen.update(warm_shells(srv.pid))
            await asyncio.sleep(0.02)
        wait_port(mport, 10)
        t.ok(not seen and waiting_rows(sock) == [] and gauge(mport) == 0.0 and
             not any("warm=yes" in ln for ln in audit_lines(srv, n + 4)[n:]),
             "--no-exec-warm-shell: no shell is ever started ahead, listed or counted", seen)
        await c.close()
    finally:
        srv.stop()


async def test_limit():
    """A waiting shell counts toward its identity's --exec-max-per-user without ever making a
    command be refused: it is ended when a command needs its place, and none is started while
    the identity's commands fill the limit."""
    sock = os.path.join(WORK, f"warm-limit-{os.getpid()}.sock")
    srv = Server(["--exec-max-per-user", "2", "--admin-socket", sock])
    who = {"X-Webshell-User": "lim"}
    seen_over = []

    def processes():
        rows = listed(sock)[0] or []
        n = len([r for r in rows if r["owner"] == "lim" and r["state"] in ("waiting", "running")])
        if n > 2:
            seen_over.append(rows)
        return n
    try:
        a = await ExecClient.connect(srv, headers=who)
        b = await ExecClient.connect(srv, headers=who)
        await a.run({"shell": "true", "stdin": False})
        assert wait_until(lambda: len(waiting_rows(sock)) == 1, 5)
        apid = warm_shells(srv.pid)
        s1 = await b.start({"argv": ["sleep", "30"], "stdin": False})
        await asyncio.sleep(0.3)
        t.ok(warm_shells(srv.pid) == apid and processes() == 2,
             "one command and one waiting shell fit a limit of 2", listed(sock)[1])
        s2 = await b.start({"argv": ["sleep", "30"], "stdin": False})
        t.ok(wait_until(lambda: gone(apid), 5) and processes() == 2 and waiting_rows(sock) == [],
             "a second command takes the waiting shell's place: it is ended", listed(sock)[1])
        rows = [r for r in listed(sock)[0] if r["state"] == "running"]
        t.ok(len(rows) == 2 and b.cmd(s1).status is None and b.cmd(s2).status is None,
             "and neither command was refused", [b.cmd(s1).status, b.cmd(s2).status])
        await b.send(CANCEL, s1)
        await b.wait(s1)
        await asyncio.sleep(0.2)
        t.ok(waiting_rows(sock) == [],
             "a connection that ran only what a waiting shell cannot run (argv) gets none")
        r = await a.run({"shell": "echo a", "stdin": False})
        t.ok(r.code == 0 and r.stdout == b"a\n" and
             wait_until(lambda: len(waiting_rows(sock)) == 1 and processes() == 2, 5),
             "once one command ended, the next script runs and a waiting shell fits again",
             (r.status, listed(sock)[1]))
        c = await ExecClient.connect(srv, headers=who)
        r = await c.run({"shell": "echo c", "stdin": False})
        t.ok(r.code == 0 and r.stdout == b"c\n" and
             wait_until(lambda: len(waiting_rows(sock)) == 1 and processes() == 2, 5),
             "a third connection's script runs too; still never more than 2 commands and waiting "
             "shells", (r.status, listed(sock)[1]))
        await c.close()
        t.eq(seen_over, [], "at no point over the limit")
        await b.send(CANCEL, s2)
        await b.wait(s2)
        await a.close()
        await b.close()
    finally:
        srv.stop()


ACCTS = [f"wswa{os.getpid() % 100000}", f"wswb{os.getpid() % 100000}", f"wswc{os.getpid() % 100000}"]


def drop_accounts():
    for a in ACCTS:
        subprocess.run(["userdel", "-r", a], capture_output=True)


async def test_accounts():
    """The shell started ahead runs as the identity's account; a SIGHUP ends it at once, and
    after one that maps the identity to another account its script runs as the new one; an
    account whose shell is not bash never gets one."""
    if os.geteuid() != 0:
        t.skip("warm shells as accounts", "needs root (useradd)")
        return
    atexit.register(drop_accounts)
    drop_accounts()
    for a in ACCTS:
        shell = "/bin/sh" if a == ACCTS[2] else "/bin/bash"
        subprocess.run(["useradd", "--shell", shell, "--create-home", a], check=True)
    path = os.path.join(WORK, f"warm-accounts-{os.getpid()}")
    with open(path, "w") as f:
        f.write(f"wendy@test {ACCTS[0]}\nsam@test {ACCTS[2]}\n")
    os.chmod(path, 0o600)
    sock = os.path.join(WORK, f"warm-accounts-{os.getpid()}.sock")
    # --exec-warm-shell (the default) is still accepted.
    srv = Server(["--accounts", path, "--exec-warm-shell", "--admin-socket", sock], allow_root=False)
    try:
        c = await ExecClient.connect(srv, headers={"X-Webshell-User": "wendy@test"})
        r = await c.run({"shell": "id -un", "stdin": False})
        assert wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5)
        n = len(audit_lines(srv))
        r2 = await c.run({"shell": "id -un; echo $HOME", "stdin": False})
        home = os.path.expanduser(f"~{ACCTS[0]}")
        t.ok(r.stdout == f"{ACCTS[0]}\n".encode() and r2.stdout == f"{ACCTS[0]}\n{home}\n".encode() and
             "warm=yes" in audit_lines(srv, n + 1)[-1],
             "a shell started ahead runs as the identity's account, with its home", (r.stdout, r2.stdout))
        assert wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5)
        stale = warm_shells(srv.pid)
        rows = waiting_rows(sock)
        t.ok(len(rows) == 1 and rows[0]["account"] == ACCTS[0] and rows[0]["owner"] == "wendy@test" and
             rows[0]["pid"] == stale[0] and uid_of(stale[0]) == pwd.getpwnam(ACCTS[0]).pw_uid,
             "listed with the account it runs as", rows)
        sam = await ExecClient.connect(srv, headers={"X-Webshell-User": "sam@test"})
        for _ in range(3):
            r = await sam.run({"shell": "echo $0", "stdin": False})
            await asyncio.sleep(0.05)
        await sam.close()
        await asyncio.sleep(0.2)
        t.ok(r.stdout == b"sh\n" and warm_shells(srv.pid) == stale and
             [w["owner"] for w in waiting_rows(sock)] == ["wendy@test"],
             "an account whose shell is not bash gets no shell started ahead", (r.stdout, waiting_rows(sock)))
        with open(path, "w") as f:
            f.write(f"wendy@test {ACCTS[1]}\n")
        os.kill(srv.pid, 1)
        assert srv.wait_log(r"SIGHUP: accounts reloaded")
        t.ok(wait_until(lambda: gone(stale), 5) and wait_until(lambda: waiting_rows(sock) == [], 5),
             "SIGHUP ends the waiting shell at once (made for the old map)", listed(sock)[1])
        n = len(audit_lines(srv))
        r3 = await c.run({"shell": "id -un", "stdin": False})
        t.ok(r3.stdout == f"{ACCTS[1]}\n".encode() and "warm=yes" not in audit_lines(srv, n + 1)[-1],
             "the next script runs cold, as the account the identity maps to now",
             (r3.stdout, audit_lines(srv)[-1]))
        assert wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5)
        n = len(audit_lines(srv))
        r4 = await c.run({"shell": "id -un", "stdin": False})
        t.ok(r4.stdout == f"{ACCTS[1]}\n".encode() and "warm=yes" in audit_lines(srv, n + 1)[-1],
             "and the one started after it runs as the new account", (r4.stdout, audit_lines(srv)[-1]))
        await c.close()
    finally:
        srv.stop()
        drop_accounts()


def uid_of(pid):
    return os.stat(f"/proc/{pid}").st_uid


async def main():
    await test_warm()
    await test_off()
    await test_limit()
    await test_accounts()


asyncio.run(main())
t.done()

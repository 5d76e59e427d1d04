#!/usr/bin/python3
# sanitize: yes
# tests/exec/warm.test.py: ptyd --exec-warm-shell, a bash started ahead for an
# exec connection's next plain script, against the real ptyd and bash: the
# script runs in it with the same stdout, stderr and status as `bash -c` gives
# ($0, $-, LINENO, SECONDS, BASH_EXECUTION_STRING, identity, directory), only
# plain scripts up to 1 KiB take it (not argv, env, cwd, stdin, pty), it is never
# listed as a command, a shell that dies waiting is replaced and costs the
# command nothing; a closed connection hands its identity's next connection a
# shell started ahead (its own identity only, ended after 10 s unused), and a
# stopped ptyd leaves none.
import asyncio
import atexit
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from execlib import ExecClient, Server  # noqa: E402
from ptylib import PTYD, WORK, procs, wait_until  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
SCRIPT = ('echo "0=$0 flags=$- line=$LINENO s=$SECONDS x=[$BASH_EXECUTION_STRING]"; '
          'echo "$WEBSHELL_USER $PWD $#"; echo to-stderr >&2; exit 3')


def warm_shells(ptyd_pid):
    """Pids of the shells started ahead: children of ptyd running the bootstrap."""
    return procs(lambda p: int(p.stat[1]) == ptyd_pid and p.stat[0] != "Z" and
                 b"BASH_EXECUTION_STRING" in p.cmdline)


def audit_lines(srv, at_least=0):
    """The exec_end lines so far (each is written just after its status is sent)."""
    wait_until(lambda: len(re.findall(r"exec_end .*", srv.text())) >= at_least, 5)
    return re.findall(r"exec_end .*", srv.text())


async def test_warm():
    sock = os.path.join(WORK, f"warm-{os.getpid()}.sock")
    srv = Server(["--exec-warm-shell", "--admin-socket", sock])
    try:
        c = await ExecClient.connect(srv, headers={"X-Webshell-User": "wendy"})
        r1 = await c.run({"shell": SCRIPT, "stdin": False})
        t.ok(wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5),
             "after a command and a quiet moment, one shell waits for the next script",
             warm_shells(srv.pid))
        first = warm_shells(srv.pid)
        p = subprocess.run([PTYD, "--admin-socket", sock, "--list", "--json"], capture_output=True,
                           text=True, timeout=20)
        t.ok(p.returncode == 0 and [r for r in json.loads(p.stdout) if r["kind"] == "exec"] == [],
             "a shell started ahead is not a command: ptyd --list shows none", p.stdout + p.stderr)
        r2 = await c.run({"shell": SCRIPT, "stdin": False})
        lines = audit_lines(srv, 2)
        t.ok(len(lines) == 2 and "warm=yes" not in lines[0] and "warm=yes" in lines[1],
             "the first script ran cold, the second in the shell started ahead (audit warm=yes)", lines)
        t.ok(first and not os.path.exists(f"/proc/{first[0]}") or
             wait_until(lambda: first[0] not in warm_shells(srv.pid), 5),
             "that shell was used up")
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
        t.ok(wait_until(lambda: warm not in warm_shells(srv.pid), 5), "a waiting shell killed from outside")
        r = await c.run({"shell": "echo after", "stdin": False})
        t.ok(r.code == 0 and r.stdout == b"after\n" and r.stderr == b"",
             "the next script runs unharmed (cold, or in the shell started in its place)", r.status)
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
        t.ok(wait_until(lambda: len(warm_shells(srv.pid)) == 1 and
                        not set(own) & set(warm_shells(srv.pid)), 5),
             "a closed connection's own waiting shell goes; one waits for the identity's next "
             "connection instead", (own, warm_shells(srv.pid)))
        pooled = warm_shells(srv.pid)
        p = subprocess.run([PTYD, "--admin-socket", sock, "--list", "--json"], capture_output=True,
                           text=True, timeout=20)
        t.ok(p.returncode == 0 and json.loads(p.stdout) == [], "it is neither a command nor a connection",
             p.stdout)
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
        left = warm_shells(srv.pid)
        t.ok(wait_until(lambda: warm_shells(srv.pid) == [], 15),
             "unused for 10 s, they are ended", warm_shells(srv.pid))
        c = await ExecClient.connect(srv)
        await c.run({"shell": "true", "stdin": False})
        t.ok(wait_until(lambda: len(warm_shells(srv.pid)) == 1, 5), "a connection warms one again")
        left = warm_shells(srv.pid)
    finally:
        code, _ = srv.stop()
    t.eq(code, 0, "ptyd stops cleanly with a shell waiting")
    t.ok(wait_until(lambda: not any(os.path.exists(f"/proc/{p}") for p in left), 5),
         "and that shell is gone", left)


async def test_off():
    srv = Server([])
    try:
        c = await ExecClient.connect(srv)
        await c.run({"shell": "true", "stdin": False})
        time.sleep(0.3)
        t.eq(warm_shells(srv.pid), [], "without --exec-warm-shell no shell is started ahead")
        await c.close()
    finally:
        srv.stop()


ACCTS = [f"wswa{os.getpid() % 100000}", f"wswb{os.getpid() % 100000}"]


def drop_accounts():
    for a in ACCTS:
        subprocess.run(["userdel", "-r", a], capture_output=True)


async def test_accounts():
    """The shell started ahead runs as the identity's account; after SIGHUP maps the identity
    to another account, it is not used (its script runs cold, as the new account)."""
    if os.geteuid() != 0:
        t.skip("warm shells as accounts", "needs root (useradd)")
        return
    atexit.register(drop_accounts)
    drop_accounts()
    for a in ACCTS:
        subprocess.run(["useradd", "--shell", "/bin/bash", "--create-home", a], check=True)
    path = os.path.join(WORK, f"warm-accounts-{os.getpid()}")
    with open(path, "w") as f:
        f.write(f"wendy@test {ACCTS[0]}\n")
    os.chmod(path, 0o600)
    srv = Server(["--accounts", path, "--exec-warm-shell"], allow_root=False)
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
        with open(path, "w") as f:
            f.write(f"wendy@test {ACCTS[1]}\n")
        os.kill(srv.pid, 1)
        assert srv.wait_log(r"SIGHUP: accounts reloaded")
        n = len(audit_lines(srv))
        r3 = await c.run({"shell": "id -un", "stdin": False})
        t.ok(r3.stdout == f"{ACCTS[1]}\n".encode() and "warm=yes" not in audit_lines(srv, n + 1)[-1] and
             wait_until(lambda: not set(stale) & set(warm_shells(srv.pid)), 5),
             "after SIGHUP maps the identity elsewhere, the shell started as the old account is "
             "ended unused; the script runs as the new one", (r3.stdout, audit_lines(srv)[-1]))
        await c.close()
    finally:
        srv.stop()
        drop_accounts()


async def main():
    await test_warm()
    await test_off()
    await test_accounts()


asyncio.run(main())
t.done()

#!/usr/bin/python3
# sanitize: yes
# tests/exec/accounts.test.py: exec commands run as the identity's account
# (--accounts) with a terminal's environment, in a cgroup of their own that
# takes everything they started with them (setsid included), and an identity
# without an account is refused per command. As root, with a real account made
# by useradd and removed (userdel -r) at the end; skipped when not root.
import asyncio
import atexit
import os
import pwd
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from execlib import ExecClient, Server  # noqa: E402
from ptylib import BASH, WORK, procs, wait_until  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
ACCT = f"wsex{os.getpid() % 100000}"
TOKEN = str(900000 + os.getpid() % 99999)


def sleepers():
    """Pids of `sleep TOKEN` processes (only ours carry the token)."""
    return procs(lambda p: os.path.basename(p.argv[0]) == b"sleep" and TOKEN.encode() in p.argv[1:])


def cleanup():
    for pid in sleepers():
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    subprocess.run(["userdel", "-r", ACCT], capture_output=True)


async def checks(srv, acct):
    c = await ExecClient.connect(srv, headers={"X-Webshell-User": "ida@test"})
    r = await c.run({"shell": 'id -un; echo "$HOME|$USER|$SHELL|$WEBSHELL_USER|$0"; pwd'})
    t.eq(r.stdout.decode(), f"{ACCT}\n{acct.pw_dir}|{ACCT}|/bin/bash|ida@test|bash\n{acct.pw_dir}\n",
         "a command runs as the identity's account, with its home, names, shell and WEBSHELL_USER")
    r = await c.run({"argv": ["cat", "/proc/self/cgroup"]})
    t.ok(r.code == 0 and "/s-x" in r.stdout.decode(), "in a cgroup of its own", r.stdout)
    t0 = time.monotonic()
    r = await c.run({"shell": f"setsid sleep {TOKEN} </dev/null >/dev/null 2>&1 & echo started"})
    t.ok(r.code == 0 and r.stdout == b"started\n" and time.monotonic() - t0 < 5,
         "a command that leaves a setsid daemon behind ends", r.status)
    t.ok(wait_until(lambda: not sleepers(), 3), "and its cgroup takes the daemon with it", sleepers())
    r = await c.run({"shell": "touch /root/x 2>&1; echo rc=$?"})
    t.ok("rc=1" in r.stdout.decode(), "it has the account's rights, not ptyd's", r.stdout)
    await c.close()
    n = await ExecClient.connect(srv, headers={"X-Webshell-User": "nobody@test"})
    r = await n.run({"argv": ["true"]})
    t.eq(r.status, {"error": "no account for this identity"},
         "an identity without an account: each command is refused with the reason")
    await n.close()


def main():
    if os.geteuid() != 0:
        t.skip("exec as accounts", "needs root (useradd, account switch)")
        t.done()
    atexit.register(cleanup)
    subprocess.run(["userdel", "-r", ACCT], capture_output=True)
    subprocess.run(["useradd", "--shell", "/bin/bash", "--create-home", ACCT], check=True)
    acct = pwd.getpwnam(ACCT)
    path = os.path.join(WORK, "accounts")
    with open(path, "w") as f:
        f.write(f"ida@test {ACCT}\n")
    os.chmod(path, 0o600)
    srv = Server(["--accounts", path], command=BASH, allow_root=False)
    try:
        asyncio.run(checks(srv, acct))
    finally:
        code, _ = srv.stop()
        t.eq(code, 0, "ptyd stops cleanly")
    t.done()


main()

#!/usr/bin/python3
# sanitize: yes
# tests/exec/signal-as.test.py: the shipped arrangement signals its shells.
# ptyd runs as a service account holding only CAP_SETUID and CAP_SETGID
# (ambient, as units/ptyd.service gives them) and starts commands as another
# account; a process of one uid may not signal another's, so a cancel's TERM
# was refused (EPERM) and only the KILL after the grace landed. ptyd now
# signals as the command's account (spawn.c kill_as): the command's TERM trap
# runs, ptyd is back to its own uids afterwards, and the shell account still
# cannot signal ptyd. As root, with accounts made by useradd and removed.
import asyncio
import atexit
import os
import pwd
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from execlib import CANCEL, ExecClient, Server  # noqa: E402
from ptylib import BASH  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
TAG = str(os.getpid() % 100000)
ACCT = f"wssa{TAG}"      # the commands' account
SVC = f"wsss{TAG}"       # ptyd's own account


def cleanup():
    for name in (ACCT, SVC):
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        subprocess.run(["pkill", "-KILL", "-u", str(uid)], capture_output=True)
        subprocess.run(["userdel", "-r", name], capture_output=True)


def uids_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


async def checks(srv, acct, svc):
    c = await ExecClient.connect(srv)
    cid = await c.start({"shell": "trap 'echo got TERM; exit 7' TERM; echo ready; "
                                  "while :; do sleep 0.05; done"})
    cmd = c.cmd(cid)
    deadline = time.monotonic() + 10
    while b"ready" not in cmd.stdout and not cmd.done.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    t.ok(b"ready" in cmd.stdout, "the command runs", cmd.status)
    t0 = time.monotonic()
    await c.send(CANCEL, cid)
    r = await c.wait(cid, 10)
    took = time.monotonic() - t0
    t.ok(r.stdout.endswith(b"got TERM\n") and r.code == 7 and r.status["cancelled"],
         "a cancel's TERM reaches a command of another account (its trap runs, exit 7)",
         (bytes(r.stdout), r.status))
    t.ok(took < 1.5, "well before the KILL that follows a refused TERM after 2 s", took)
    t.eq(uids_of(srv.pid), [svc.pw_uid] * 4, "ptyd is back to its own uid (real, effective, saved, fs)")
    r = await c.run({"argv": ["id", "-u"]})
    t.eq(r.stdout.decode().strip(), str(acct.pw_uid), "the next command still runs as the account")
    r = await c.run({"shell": f"kill -TERM {srv.pid}; echo rc=$?"})
    t.ok(b"rc=1" in r.stdout and uids_of(srv.pid), "the account still cannot signal ptyd",
         bytes(r.stdout))
    await c.close()


def main():
    if os.geteuid() != 0:
        t.skip("signals as the command's account", "needs root (useradd, setpriv)")
        t.done()
    atexit.register(cleanup)
    cleanup()
    subprocess.run(["useradd", "--shell", "/bin/bash", "--create-home", ACCT], check=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SVC],
                   check=True)
    acct, svc = pwd.getpwnam(ACCT), pwd.getpwnam(SVC)
    wrapper = ["setpriv", f"--reuid={svc.pw_uid}", f"--regid={svc.pw_gid}", "--init-groups",
               "--inh-caps=+setuid,+setgid", "--ambient-caps=+setuid,+setgid", "--"]
    srv = Server(["--user", ACCT], command=BASH, allow_root=False, wrapper=wrapper)
    try:
        asyncio.run(checks(srv, acct, svc))
    finally:
        code, _ = srv.stop()
        t.eq(code, 0, "ptyd stops cleanly")
    t.done()


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()

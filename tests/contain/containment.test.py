#!/usr/bin/python3
# sanitize: yes
# tests/contain/containment.test.py: ptyd's containment (issue 9, sections 2-4)
# with the real binary and real bash as root: everything a session starts dies
# with it (setsid, nohup, a double-forked daemon, a new session and group);
# a fork storm is capped where the pids controller exists (else: skip); shells
# run as the target account with no capability and cannot read or signal ptyd,
# also when ptyd is a service account with ambient CAP_SETUID/CAP_SETGID;
# --accounts gives two identities two accounts that cannot reach each other and
# refuses an unmapped one; --check on good and bad files; an unprivileged ptyd
# is unchanged. Test accounts are made with useradd and removed (userdel -r),
# also on failure; every cgroup made is checked to be gone.
import asyncio
import atexit
import os
import pwd
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("WS_ROOT", "."), "tests", "ptyd"))
from ptylib import (BASH, PTYD, WORK, Client, Server, cgroup2_mount, procs, run,  # noqa: E402
                    wait_until)
from tap import Tap  # noqa: E402

t = Tap()
TAG = f"{os.getpid() % 100000:05d}"  # fixed width: no tag is a prefix of another
ACCT_A = f"wsca{TAG}"      # the shell accounts
ACCT_B = f"wscb{TAG}"
ACCT_SVC = f"wscs{TAG}"    # ptyd's own service account (ambient capabilities)
made_accounts = []


def sh(*argv, check=True):
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def pids_of_uid(uid):
    return procs(lambda p: p.uid == uid)


def cleanup():
    """Kills what the test accounts still run (by pid: only this test's accounts)
    and removes them with their homes."""
    for name in made_accounts:
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        for pid in pids_of_uid(uid):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        wait_until(lambda: not pids_of_uid(uid), 3)
        subprocess.run(["userdel", "-r", name], capture_output=True)
    made_accounts.clear()


atexit.register(cleanup)


def add_account(name, system=False):
    subprocess.run(["userdel", "-r", name], capture_output=True)
    argv = ["useradd", "--shell", "/bin/bash"]
    argv += ["--system", "--no-create-home"] if system else ["--create-home"]
    sh(*argv, name)
    made_accounts.append(name)
    return pwd.getpwnam(name)


def cgroup_of(pid):
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        return None
    return None


def pids_with(marker):
    """Pids whose command line holds marker."""
    return procs(lambda p: marker.encode() in p.cmdline)


_seq = [0]


async def out_of(c, cmd, timeout=10.0):
    """cmd's output alone: between markers the shell computes, so the echo of the
    command line (which holds only the expressions) never matches them."""
    _seq[0] += 1
    n = _seq[0] * 1000
    begin, end = f"<B{n + 1}>", f"<E{n + 1}>"
    start_at = len(c.output)
    await c.input(f"echo '<B'$(({n}+1))'>'; {cmd}; echo '<E'$(({n}+1))'>'\r")
    if not await c.until(end, timeout, start_at):
        return None
    text = c.output[start_at:].decode("utf-8", "replace")
    return text.split(begin, 1)[1].split(end, 1)[0].replace("\r", "")


async def start(srv, headers=None, command_ready=True):
    c = await Client.connect(srv, headers=headers)
    if command_ready:
        await c.init(cols=400)  # no wrapped echo of long commands
        await c.until_re(rb"[#$] $")
    return c


# Each of these leaves the shell's process group or session one way or another.
ESCAPES = {
    "setsid sleep": "setsid sleep 7101{t} >/dev/null 2>&1 & true",
    "nohup sleep": "nohup sleep 7102{t} >/dev/null 2>&1 & true",
    "double-forked daemon": "( ( exec sleep 7103{t} >/dev/null 2>&1 & ) & )",
    "new session and process group (setsid -f)": "setsid -f sh -c 'exec sleep 7104{t}' "
                                                 ">/dev/null 2>&1",
}


def test_containment():
    mnt = cgroup2_mount()
    srv = Server(command=BASH)
    try:
        m = srv.wait_log(r"sessions are contained: one cgroup each under (\S+)")
        t.ok(m is not None, "ptyd says once where sessions are contained", srv.text())
        if m is None:
            return
        base = m.group(1)
        t.ok(mnt is not None and base.startswith(mnt + "/"),
             "the base is under the cgroup2 mount found in mountinfo", f"{base} vs {mnt}")

        async def go():
            c = await start(srv)
            for cmd in ESCAPES.values():
                await out_of(c, cmd.format(t=TAG))
            found = wait_until(lambda: all(pids_with(f"710{i}{TAG}") for i in (1, 2, 3, 4)), 5)
            if not found:
                t.ok(False, "every escape started",
                     {k: pids_with(f"710{i + 1}{TAG}") for i, k in enumerate(ESCAPES)})
                return
            pid = pids_with(f"7101{TAG}")
            cg = cgroup_of(pid[0]) if pid else None
            t.ok(cg is not None and os.path.join(mnt, cg.lstrip("/")).startswith(base + "/s-"),
                 "a setsid process is still in the session's cgroup", cg)
            groups = [d for d in os.listdir(base) if d.startswith("s-")]
            t.eq(len(groups), 1, "one group for the one session")
            await c.close()
            for i, name in enumerate(ESCAPES):
                gone = wait_until(lambda: not pids_with(f"710{i + 1}{TAG}"), 6)
                t.ok(gone, f"{name}: dies with its session", pids_with(f"710{i + 1}{TAG}"))
            gone = wait_until(lambda: not [d for d in os.listdir(base) if d.startswith("s-")], 5)
            t.ok(gone, "the session's cgroup is removed", os.listdir(base))
            t.ok(srv.wait_log(r"session_kill .*survived SIGHUP") is not None,
                 "the kill is logged")

        run(go())
    finally:
        srv.stop()
    t.ok(not os.path.exists(base), "the base cgroup is removed when ptyd stops", base)
    t.ok(not pids_with(f"710"+"1"+TAG), "nothing is left after ptyd stops")


def test_delegated():
    """As under systemd with Delegate=yes: ptyd starts alone in a group of its own,
    moves itself into the leaf <group>/ptyd and makes the session groups beside it."""
    mnt = cgroup2_mount()
    own = os.path.join(mnt, f"wsc-delegated-{TAG}")
    os.mkdir(own)
    # The shell moves itself into the group, then becomes ptyd: alone there.
    wrapper = ["/bin/sh", "-c", f'echo $$ > {own}/cgroup.procs && exec "$@"', "sh"]
    srv = None
    try:
        srv = Server(command=BASH, wrapper=wrapper)
        m = srv.wait_log(r"sessions are contained: one cgroup each under (\S+)")
        t.ok(m is not None and m.group(1) == own, "delegated: the base is ptyd's own group",
             srv.text())
        leaf = cgroup_of(srv.pid)
        t.ok(leaf is not None and os.path.join(mnt, leaf.lstrip("/")) == own + "/ptyd",
             "delegated: ptyd moved itself into the leaf <own>/ptyd", leaf)

        async def go():
            c = await start(srv)
            sh_pid = (await out_of(c, "echo $$") or "").strip()
            cg = cgroup_of(int(sh_pid)) if sh_pid.isdigit() else None
            t.ok(cg is not None and os.path.dirname(os.path.join(mnt, cg.lstrip("/"))) == own and
                 os.path.basename(cg).startswith("s-"),
                 "delegated: the session's group is beside ptyd's leaf", cg)
            await out_of(c, f"setsid sleep 7301{TAG} >/dev/null 2>&1 & true")
            await c.close()
            t.ok(wait_until(lambda: not pids_with(f"7301{TAG}"), 6),
                 "delegated: a setsid process dies with its session")
            t.ok(wait_until(lambda: sorted(d for d in os.listdir(own)
                                           if os.path.isdir(os.path.join(own, d))) == ["ptyd"], 5),
                 "delegated: only the leaf is left", os.listdir(own))
        run(go())
    finally:
        if srv is not None:
            srv.stop()
        for d in ("ptyd", ""):
            path = os.path.join(own, d) if d else own
            wait_until(lambda: not os.path.isdir(path) or _rmdir(path), 3)
    t.ok(not os.path.exists(own), "delegated: the test's group is removed", own)


def _rmdir(path):
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False


def test_fork_storm():
    srv = Server(["--session-pids-max", "40"], command=BASH)
    try:
        warn = srv.wait_log(r"--session-pids-max: (the pids controller is not available[^\n]*|"
                            r"cannot enable[^\n]*)", 2)
        if warn:
            t.skip("a fork storm is capped by --session-pids-max",
                   f"this machine's cgroup v2 has no pids controller: {warn.group(1)}")
            return

        async def go():
            c = await start(srv)
            await c.input("for i in $(seq 200); do sleep 7200" + TAG + " & done 2>/dev/null; "
                          "echo STORM-DONE\r")
            await c.until("STORM-DONE", 20)
            n = len(pids_with(f"7200{TAG}"))
            t.ok(0 < n <= 40, "a fork storm is capped at pids.max", f"{n} sleeps")
            await c.close()
            t.ok(wait_until(lambda: not pids_with(f"7200{TAG}"), 6),
                 "the storm dies with its session")

        run(go())
    finally:
        srv.stop()


def proc_caps(text):
    return {k: v for k, v in re.findall(r"(Cap(?:Inh|Prm|Eff|Amb)):\s*([0-9a-f]+)", text)}


async def shell_checks(srv, acct, label, ptyd_pid):
    """The shell runs as acct with no capability and cannot read or signal ptyd."""
    c = await start(srv)
    out = await out_of(c, "id -u; id -G; echo H=$HOME U=$USER L=$LOGNAME S=$SHELL; pwd")
    lines = [x.strip() for x in (out or "").strip().splitlines()]
    want_groups = sorted(os.getgrouplist(acct.pw_name, acct.pw_gid))
    t.ok(len(lines) >= 4 and lines[0] == str(acct.pw_uid), f"{label}: id -u is the account's",
         out)
    t.ok(len(lines) >= 4 and sorted(map(int, lines[1].split())) == want_groups,
         f"{label}: id -G is the account's groups", out)
    t.ok(len(lines) >= 4 and lines[2] == f"H={acct.pw_dir} U={acct.pw_name} L={acct.pw_name} "
         f"S={acct.pw_shell}", f"{label}: HOME, USER, LOGNAME, SHELL are the account's", out)
    t.ok(len(lines) >= 4 and lines[3] == acct.pw_dir, f"{label}: starts in its home", out)
    caps = proc_caps(await out_of(c, "grep ^Cap /proc/self/status") or "")
    t.ok(caps and all(int(caps[k], 16) == 0 for k in ("CapInh", "CapPrm", "CapEff", "CapAmb")),
         f"{label}: no capability (inheritable, permitted, effective, ambient)", caps)
    for what in ("environ", "mem", "maps"):
        # Markers computed by the shell: the echoed command line cannot hold them.
        out = await out_of(c, f"head -c 64 /proc/{ptyd_pid}/{what} >/dev/null && echo READ-$((1+1)) "
                          f"|| echo REFUSED-$((1+1))")
        t.ok(out is not None and "REFUSED-2" in out and "READ-2" not in out,
             f"{label}: cannot read ptyd's /proc/PID/{what}", out)
    out = await out_of(c, f"kill -0 {ptyd_pid} && echo SIG-$((1+1)) || echo REFUSED-$((1+1))")
    t.ok(out is not None and "REFUSED-2" in out and "SIG-2" not in out,
         f"{label}: cannot signal ptyd", out)
    await c.close()


def test_privileged():
    a = pwd.getpwnam(ACCT_A)
    srv = Server(["--user", ACCT_A], command=BASH, allow_root=False)
    try:
        run(shell_checks(srv, a, "ptyd as root, --user", srv.pid))
        t.ok(srv.wait_log(rf"session_start .*account={ACCT_A}") is not None,
             "the session's account is in its log line")
    finally:
        srv.stop()

    # The shipped arrangement: ptyd is a service account holding only
    # CAP_SETUID and CAP_SETGID (ambient), which must not reach the shell.
    svc = pwd.getpwnam(ACCT_SVC)
    wrapper = ["setpriv", f"--reuid={svc.pw_uid}", f"--regid={svc.pw_gid}", "--init-groups",
               "--inh-caps=+setuid,+setgid", "--ambient-caps=+setuid,+setgid", "--"]
    srv = Server(["--user", ACCT_A], command=BASH, allow_root=False,
                 wrapper=wrapper)
    try:
        run(shell_checks(srv, a, "ptyd as a service account with ambient caps", srv.pid))
        t.ok(srv.wait_log(r"cgroup v2 containment is off \(.*\): sessions are contained by "
                          r"process group only") is not None,
             "a ptyd that cannot write cgroups says so once at start")
    finally:
        srv.stop()

    # Default: a login's bounding set and no no_new_privs (sudo keeps working);
    # --no-new-privs: neither can be undone by the shell.
    for flags, nnp, bnd in (([], "0", "full"), (["--no-new-privs"], "1", "empty")):
        srv = Server(["--user", ACCT_A] + flags, command=BASH, allow_root=False)
        try:
            async def go():
                c = await start(srv)
                st = await out_of(c, "grep -E '^(NoNewPrivs|CapBnd)' /proc/self/status") or ""
                await c.close()
                return st
            st = run(go())
            m = re.search(r"CapBnd:\s*([0-9a-f]+)", st)
            empty = m is not None and int(m.group(1), 16) == 0
            t.ok(re.search(rf"NoNewPrivs:\s*{nnp}\b", st) is not None and m is not None and
                 empty == (bnd == "empty"),
                 f"{' '.join(flags) or 'default'}: NoNewPrivs {nnp}, bounding set {bnd}", st)
        finally:
            srv.stop()

    out = sh(PTYD, "--listen", "127.0.0.1:1", "--check", check=False)
    t.ok(out.returncode == 1 and "name the shell account with --user ACCOUNT" in out.stdout,
         "root without --user or --allow-root is refused with the fix", out.stdout)


def test_accounts():
    a, b = pwd.getpwnam(ACCT_A), pwd.getpwnam(ACCT_B)
    path = os.path.join(WORK, "accounts")
    with open(path, "w") as f:
        f.write(f"# test map\nalice@test {ACCT_A}\nBob Smith {ACCT_B}\n")
    os.chmod(path, 0o600)
    srv = Server(["--accounts", path], command=BASH, allow_root=False)
    try:
        async def go():
            ca = await start(srv, headers={"X-Webshell-User": "alice@test"})
            cb = await start(srv, headers={"X-Webshell-User": "Bob Smith"})
            ua = (await out_of(ca, "id -un") or "").strip()
            ub = (await out_of(cb, "id -un") or "").strip()
            t.eq(ua, ACCT_A, "identity alice@test runs as its account")
            t.eq(ub, ACCT_B, "identity 'Bob Smith' runs as its own account")
            bpid = (await out_of(cb, "echo $$") or "").strip()
            await out_of(cb, "export SECRET_OF_BOB=hunter2")
            out = await out_of(ca, f"cat /proc/{bpid}/environ >/dev/null 2>&1 && echo ENV-$((1+1)); "
                               f"head -c1 /proc/{bpid}/mem >/dev/null 2>&1 && echo MEM-$((1+1)); "
                               f"kill -0 {bpid} 2>/dev/null && echo SIG-$((1+1)); echo END-$((1+1))")
            t.ok(out is not None and "END-2" in out and "-2\r\n" not in out.split("END-2")[0],
                 "alice cannot read bob's environ or memory, nor signal him", out)
            out = await out_of(ca, "/usr/bin/python3 -c 'import ctypes; l = ctypes.CDLL(None, "
                               "use_errno=True); print(\"PTRACE\", l.ptrace(16, %s, 0, 0), "
                               "ctypes.get_errno())'" % bpid)
            t.ok(out is not None and "PTRACE -1 1" in out, "alice cannot ptrace bob (EPERM)", out)
            await ca.close()
            await cb.close()

            cc = await start(srv, headers={"X-Webshell-User": "carol@test"}, command_ready=False)
            await cc.init()
            code, reason = await cc.until_closed()
            t.ok(code == 1008 and reason == "no account for this identity",
                 "an identity without an account is refused with a clear close", (code, reason))
            t.ok(srv.wait_log(r"identity carol@test has no account") is not None,
                 "the refusal is logged with the identity")

        run(go())

        # SIGHUP reloads the map: carol gets an account without a restart ...
        with open(path, "a") as f:
            f.write(f"carol@test {ACCT_B}\n")
        os.kill(srv.pid, signal.SIGHUP)
        t.ok(srv.wait_log(r"SIGHUP: accounts reloaded from \S+: 3 identities") is not None,
             "SIGHUP: the accounts file is read again", srv.text()[-500:])

        async def carol():
            c = await start(srv, headers={"X-Webshell-User": "carol@test"})
            who = (await out_of(c, "id -un") or "").strip()
            await c.close()
            return who
        t.eq(run(carol()), ACCT_B, "SIGHUP: a newly mapped identity runs as its account")
        # ... and a file that became unsafe changes nothing.
        os.chmod(path, 0o666)
        os.kill(srv.pid, signal.SIGHUP)
        t.ok(srv.wait_log(r"SIGHUP: accounts not reloaded, the old ones stay: .*world-writable")
             is not None, "SIGHUP: a world-writable file is refused, the old map stays")
        t.eq(run(carol()), ACCT_B, "SIGHUP: after a refused reload the old map still serves")
    finally:
        srv.stop()


def check(*args):
    return sh(PTYD, "--check", *args, check=False)


def test_check():
    good = os.path.join(WORK, "good-accounts")
    with open(good, "w") as f:
        f.write(f"alice@test {ACCT_A}\n* {ACCT_B}\n")
    os.chmod(good, 0o600)
    out = check("--accounts", good)
    t.ok(out.returncode == 0 and f"alice@test -> {ACCT_A} (uid" in out.stdout and
         f"* (every other identity) -> {ACCT_B}" in out.stdout and "ptyd --check: OK" in out.stdout,
         "--check: a good file is OK and listed", out.stdout + out.stderr)

    def bad(name, text, want, mode=0o600, extra=()):
        p = os.path.join(WORK, "bad-accounts")
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        out = check("--accounts", p, *extra)
        t.ok(out.returncode == 1 and want in out.stdout, f"--check refuses {name}",
             out.stdout + out.stderr)

    bad("a world-writable file", f"a {ACCT_A}\n", "world-writable", mode=0o646)
    bad("a syntax error, naming the line", f"# x\nalice@test\n", "line 2: an identity without "
        "an account")
    bad("root", "alice@test root\n", "is root (uid 0): refused without --allow-root")
    bad("a system account", "alice@test daemon\n", "is a system account")
    bad("an unknown account", "alice@test wscnosuchuser\n", "no such user")
    bad("a duplicate identity", f"x {ACCT_A}\nx {ACCT_B}\n", "line 2: identity listed twice")
    out = check("--accounts", good, "--user", ACCT_A)
    t.ok(out.returncode == 1 and "--user and --accounts" in out.stdout,
         "--check refuses --user with --accounts", out.stdout)
    out = check("--user", ACCT_A)
    t.ok(out.returncode == 0 and f"* -> {ACCT_A}" in out.stdout, "--check: --user alone is OK",
         out.stdout)
    out = subprocess.run(["runuser", "-u", ACCT_A, "--", PTYD, "--check", "--accounts", good],
                         capture_output=True, text=True)
    t.ok(out.returncode == 1 and "without CAP_SETUID and CAP_SETGID" in out.stdout,
         "--check: --accounts without privileges is refused", out.stdout + out.stderr)
    out = subprocess.run(["runuser", "-u", ACCT_A, "--", PTYD, "--check"], capture_output=True,
                         text=True)
    t.ok(out.returncode == 0 and "cgroup: unavailable (cgroup v2 at" in out.stdout and
         "not writable" in out.stdout and f"every shell runs as ptyd's own user {ACCT_A}" in out.stdout,
         "--check unprivileged: own user, cgroups unavailable, still OK", out.stdout + out.stderr)
    out = sh(PTYD, "--no-cgroup", "--cgroup", "/x", check=False)
    t.ok(out.returncode == 2 and "--no-cgroup" in out.stderr, "--no-cgroup with --cgroup: exit 2",
         out.stderr)


def test_unprivileged():
    a = pwd.getpwnam(ACCT_A)
    srv = Server(command=BASH, allow_root=False, user=ACCT_A)
    try:
        async def go():
            c = await start(srv)
            out = await out_of(c, "id -u; echo $HOME")
            t.ok(out is not None and out.split() == [str(a.pw_uid), a.pw_dir],
                 "unprivileged: the shell is ptyd's own user, with its home", out)
            await c.close()
        run(go())
    finally:
        srv.stop()
    out = subprocess.run(["runuser", "-u", ACCT_A, "--", PTYD, "--listen", "127.0.0.1:1",
                          "--user", ACCT_B], capture_output=True, text=True)
    t.ok(out.returncode == 1 and f"--user {ACCT_B}: ptyd runs as {ACCT_A} without CAP_SETUID"
         in out.stderr, "unprivileged --user of another account fails clearly", out.stderr)


def main():
    if os.geteuid() != 0:
        t.skip("containment suite", "needs root (useradd, setuid, cgroups)")
        t.done()
        return
    try:
        add_account(ACCT_A)
        add_account(ACCT_B)
        add_account(ACCT_SVC, system=True)
        test_containment()
        test_delegated()
        test_fork_storm()
        test_privileged()
        test_accounts()
        test_check()
        test_unprivileged()
    finally:
        cleanup()
    t.ok(all(subprocess.run(["id", n], capture_output=True).returncode != 0
             for n in (ACCT_A, ACCT_B, ACCT_SVC)), "every test account is removed")
    t.done()


main()

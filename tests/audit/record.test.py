#!/usr/bin/python3
# sanitize: yes
# tests/audit/record.test.py: ptyd --record writes each terminal session as an
# asciicast v2 file that Debian's asciinema prints back exactly; the files are
# out of a shell's reach; a full disk (a small tmpfs) neither stalls a session
# nor goes unreported. Real ptyd, real bash in a real PTY, real asciinema.
import asyncio
import fcntl
import glob
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import termios
import time

sys.dont_write_bytecode = True
ROOT = os.environ.get("WS_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "tests", "ptyd"))
sys.path.insert(0, os.path.join(ROOT, "tests", "exec"))
from execlib import ExecClient  # noqa: E402
from ptylib import BASH, WORK, Client, Server, run, wait_until  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
ACCOUNT = "wsaudit%d" % (os.getpid() % 100000)


def asciinema_cat(path):
    """`asciinema cat FILE` with a terminal of its own (it opens /dev/tty); (rc, stdout bytes)."""
    master, slave = os.openpty()

    def ctty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = dict(os.environ, HOME=WORK, ASCIINEMA_CONFIG_HOME=os.path.join(WORK, "asciinema"))
    try:
        p = subprocess.run(["asciinema", "cat", path], stdin=slave, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, start_new_session=True, preexec_fn=ctty,
                           env=env, timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    return p.returncode, p.stdout, p.stderr


def casts(d):
    return sorted(glob.glob(os.path.join(d, "*.cast")))


def read_cast(path):
    """(header, events, bad lines)."""
    header, events, bad = None, [], 0
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            try:
                v = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if i == 0:
                header = v
            elif isinstance(v, list) and len(v) == 3:
                events.append(v)
            else:
                bad += 1
    return header, events, bad


def fresh_dir(name):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


async def session_echo(srv):
    """A session that echoes, resizes and exits 3; returns the client."""
    c = await Client.connect(srv, headers={"X-Webshell-User": "alice@example.org"})
    ok = await c.ready(100, 30)
    await c.input("echo hello-$((6*7))-audit; printf '\\xc3\\xa9t\\xc3\\xa9 \\xe2\\x82\\xac\\n'\r")
    await c.until("hello-42-audit")
    await c.until("\xe9t\xe9 \u20ac")
    await c.send(b'1{"columns":120,"rows":40}')
    await c.input("exit 3\r")
    await c.until_closed(10)
    return c, ok


def test_session_and_asciinema_cat():
    d = fresh_dir("rec-basic")
    srv = Server(["--record", d])
    try:
        c, ready = run(session_echo(srv))
        t.ok(ready, "session started with --record")
        t.eq((c.code, c.reason), (1000, "exit 3"), "session ends as without recording")
        t.ok(srv.wait_log(r"recording-end [^\n]*?file=\S+ bytes=\d+ dropped=0 status=\"?exit 3"),
             "the log reports the finished recording", detail=srv.text()[-2000:])
    finally:
        srv.stop()
    files = casts(d)
    if not t.eq(len(files), 1, "one file for the session"):
        return
    path = files[0]
    name = os.path.basename(path)
    t.ok(re.fullmatch(r"\d{8}T\d{6}Z-alice@example\.org-[0-9a-f_]{1,8}\.cast", name),
         "named by UTC start time, identity and id prefix", detail=name)
    header, events, bad = read_cast(path)
    t.eq(bad, 0, "every line of the file is JSON")
    t.ok(header and header.get("version") == 2 and header.get("width") == 100 and
         header.get("height") == 30 and isinstance(header.get("timestamp"), (int, float)),
         "header: asciicast v2 with the session's size and start", detail=header)
    env = (header or {}).get("env", {})
    t.ok(env.get("TERM") == "xterm-256color" and env.get("SHELL"), "header: TERM and SHELL",
         detail=env)
    ws = (header or {}).get("webshell", {})
    t.ok(ws.get("user") == "alice@example.org" and ws.get("peer") and ws.get("session") and
         ws.get("kind") == "terminal", "header: identity, peer, session id", detail=ws)
    t.ok(any(e[1] == "r" and e[2] == "120x40" for e in events), "resize recorded as 120x40")
    t.ok(not any(e[1] == "i" for e in events), "no input events without --record-input")
    t.ok(events and events[-1][1] == "m" and events[-1][2] == "exit 3",
         "the last event is the end marker with the exit status", detail=events[-1:])
    times = [e[0] for e in events]
    t.ok(times == sorted(times), "event times never go back")
    rc, out, err = asciinema_cat(path)
    t.eq(rc, 0, "asciinema cat reads the file", )
    t.ok(out == c.output, "asciinema cat prints exactly the session's output",
         detail=f"cat {len(out)} bytes, session {len(c.output)} bytes\n{out[-200:]!r}\n"
                f"{c.output[-200:]!r}\n{err[-500:]!r}")
    st = os.stat(path)
    t.eq(stat.S_IMODE(st.st_mode), 0o600, "file mode 0600 without --record-group")
    t.eq(stat.S_IMODE(os.stat(d).st_mode), 0o700, "directory mode 0700 without --record-group")


def test_input_and_group():
    d = fresh_dir("rec-input")
    srv = Server(["--record", d, "--record-input", "--record-group", "adm"])
    try:
        async def go():
            c = await Client.connect(srv)
            await c.ready()
            out = await c.run("echo typed-$((2+2))")
            await c.input("exit\r")
            await c.until_closed(10)
            return out
        out = run(go())
        t.ok(out is not None and "typed-4" in out, "session with --record-input")
        srv.wait_log(r"recording-end")
    finally:
        srv.stop()
    files = casts(d)
    if not t.eq(len(files), 1, "one file"):
        return
    _, events, _ = read_cast(files[0])
    typed = "".join(e[2] for e in events if e[1] == "i")
    t.ok("echo typed-$((2+2))" in typed, "input events with --record-input", detail=typed)
    st = os.stat(files[0])
    t.ok(stat.S_IMODE(st.st_mode) == 0o640 and st.st_gid == 4,
         "file mode 0640 in the --record-group group", detail=oct(st.st_mode))
    t.ok(stat.S_IMODE(os.stat(d).st_mode) == 0o750, "directory 0750 with --record-group")


def make_account():
    subprocess.run(["userdel", "-r", ACCOUNT], capture_output=True)
    p = subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", ACCOUNT],
                       capture_output=True, text=True)
    return p.returncode == 0


def test_shell_cannot_reach_recordings():
    """A shell of another account (ptyd --user: ptyd's own account apart from
    the shells') can neither read, list, alter, remove nor plant recordings."""
    if not make_account():
        t.skip("shell account", "useradd failed")
        return
    d = fresh_dir("rec-private")
    # ptyd (root here) starts each shell as --user's account, as the shipped units do.
    srv = Server(["--record", d, "--record-group", "adm", "--user", ACCOUNT, "--no-cgroup"],
                 command=BASH)
    try:
        async def go():
            c = await Client.connect(srv)
            ok = await c.ready()
            whoami = await c.run("id -un")
            # The recording of this very session exists while it runs.
            wait_until(lambda: casts(d), 5)
            target = casts(d)[0] if casts(d) else d + "/x.cast"
            reads = await c.run(f"cat '{target}' >/dev/null 2>&1; echo read=$?")
            lists = await c.run(f"ls '{d}' >/dev/null 2>&1; echo list=$?")
            writes = await c.run(f"echo x >> '{target}' 2>/dev/null; echo write=$?")
            removes = await c.run(f"rm -f '{target}' 2>/dev/null; echo rm=$?")
            creates = await c.run(f"touch '{d}/forged.cast' 2>/dev/null; echo create=$?")
            await c.input("exit\r")
            await c.until_closed(10)
            return ok, whoami, reads, lists, writes, removes, creates
        ok, whoami, reads, lists, writes, removes, creates = run(go())
        t.ok(ok and whoami is not None and ACCOUNT in whoami, "the shell runs as another account",
             detail=whoami)
        t.ok(reads is not None and "read=1" in reads, "the shell cannot read a recording",
             detail=reads)
        t.ok(lists is not None and "list=2" in lists, "the shell cannot list the directory",
             detail=lists)
        t.ok(writes is not None and "write=1" in writes, "the shell cannot append to a recording",
             detail=writes)
        t.ok(removes is not None and "rm=1" in removes, "the shell cannot remove a recording",
             detail=removes)
        t.ok(creates is not None and "create=1" in creates,
             "the shell cannot plant a recording", detail=creates)
        srv.wait_log(r"recording-end")
    finally:
        srv.stop()
        subprocess.run(["userdel", "-r", ACCOUNT], capture_output=True)
    files = casts(d)
    t.ok(len(files) == 1 and read_cast(files[0])[1][-1][2] == "exit 0",
         "the recording is whole afterwards")


def test_full_disk():
    """A 256 KiB tmpfs: a session printing megabytes runs at full speed and
    answers at once; the drop is in the log, the metrics and the file."""
    d = fresh_dir("rec-full")
    os.makedirs(d)
    mnt = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", d],
                         capture_output=True, text=True)
    if mnt.returncode != 0:
        t.skip("full disk", f"cannot mount a tmpfs: {mnt.stderr.strip()}")
        return
    srv = None
    try:
        mport = __import__("tap").free_port()
        srv = Server(["--record", d, "--metrics", f"127.0.0.1:{mport}"])

        async def go():
            c = await Client.connect(srv)
            await c.ready()
            t0 = time.monotonic()
            # 1.35 MB of base64 lines on the terminal: five times what the disk holds.
            out = await c.run("head -c 1000000 /dev/zero | base64 -w 76", timeout=60)
            bulk = time.monotonic() - t0
            t1 = time.monotonic()
            echo = await c.run("echo still-$((40+2))")
            echo_s = time.monotonic() - t1
            await c.input("exit\r")
            await c.until_closed(10)
            return out, bulk, echo, echo_s, len(c.output)
        out, bulk, echo, echo_s, total = run(go())
        t.ok(out is not None and out.count("A" * 76) == 17543, "the session printed everything",
             detail=out and f"{len(out)} characters")
        t.ok(echo is not None and "still-42" in echo and echo_s < 2.0,
             "the session answers at once with the disk full",
             detail=f"{echo!r} in {echo_s:.3f}s (bulk {bulk:.2f}s, {total} bytes)")
        m = srv.wait_log(r"recording-end [^\n]*?file=\S+ bytes=(\d+) dropped=(\d+) why=(\S+)", 10)
        t.ok(m and int(m.group(2)) > 900000 and "disk_error" in m.group(3),
             "the log says how many bytes were dropped and why",
             detail=srv.text()[-1500:])
        t.ok(srv.wait_log(r"recording-drop bytes=\d+ reason=disk_error", 1),
             "a drop line in the log while it happened")
        import urllib.request
        body = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5).read()
        dm = re.search(rb'webshell_ptyd_recording_dropped_bytes_total\{reason="disk_error"\} (\d+)',
                       body)
        t.ok(dm and int(dm.group(1)) > 900000, "the metrics count the dropped bytes",
             detail=body[-800:])
    finally:
        if srv is not None:
            srv.stop()
    files = casts(d)
    if t.eq(len(files), 1, "the recording exists on the full disk"):
        header, events, bad = read_cast(files[0])
        t.eq(bad, 0, "no torn line on the full disk")
        marks = [e[2] for e in events if e[1] == "m"]
        t.ok(any(re.match(r"dropped \d+ bytes \(write failed", x) for x in marks),
             "the file says how many bytes it dropped and why", detail=marks)
        t.ok(marks and marks[-1] == "exit 0", "the end marker made it to the full disk",
             detail=marks[-3:])
        rc, _, _ = asciinema_cat(files[0])
        t.eq(rc, 0, "asciinema cat still reads it")
    subprocess.run(["umount", d], capture_output=True)
    t.ok(not os.path.ismount(d), "tmpfs unmounted")


def test_exec_commands():
    """Exec channel commands are recorded too, one file each: stdout as "o",
    stderr as "e", stdin as "i" with --record-input, the exit status last;
    the metrics count them by outcome."""
    d = fresh_dir("rec-exec")
    mport = __import__("tap").free_port()
    srv = Server(["--record", d, "--record-input", "--metrics", f"127.0.0.1:{mport}"])
    try:
        async def go():
            c = await ExecClient.connect(srv, headers={"X-Webshell-User": "dave"})
            ok = await c.run({"shell": "cat; echo out-$((1+1)); echo err-$((2+1)) >&2; exit 5"},
                             stdin=b"typed-in\n")
            bad = await c.run({"argv": ["/bin/sh", "-c", "kill -9 $$"]})
            await c.close()
            return ok, bad
        ok, bad = run(go())
        t.ok(ok.code == 5 and b"out-2" in ok.stdout and b"err-3" in ok.stderr,
             "exec command ran", detail=(ok.status, bytes(ok.stdout), bytes(ok.stderr)))
        wait_until(lambda: len(re.findall(r"recording-end", srv.text())) >= 2, 10)
        import urllib.request
        body = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5).read().decode()
        t.ok('webshell_ptyd_exec_commands_total{outcome="failed"} 1' in body and
             'webshell_ptyd_exec_commands_total{outcome="signal"} 1' in body,
             "exec commands counted by outcome", detail=body[-1500:])
    finally:
        srv.stop()
    files = casts(d)
    if not t.eq(len(files), 2, "one file per exec command"):
        return
    t.ok(all(re.search(r"-dave-\d+-c\d+\.cast$", f) for f in files),
         "exec files named with the command id", detail=files)
    header, events, bad_lines = read_cast(files[0])
    ws = (header or {}).get("webshell", {})
    t.ok(bad_lines == 0 and ws.get("kind") == "exec" and "echo out" in (ws.get("command") or ""),
         "exec header: kind exec and the command", detail=header)
    joined = {code: "".join(e[2] for e in events if e[1] == code) for code in "oei"}
    t.ok(joined["o"] == "typed-in\nout-2\n" and joined["e"] == "err-3\n" and joined["i"] == "typed-in\n",
         "stdout, stderr and stdin as events of their own", detail=joined)
    t.ok(events[-1][1:] == ["m", "exit 5"], "exec end marker: exit 5", detail=events[-1:])
    _, events2, _ = read_cast(files[1])
    t.ok(events2 and events2[-1][1:] == ["m", "signal 9"], "a killed command: signal 9",
         detail=events2[-2:])
    rc, out, _ = asciinema_cat(files[0])
    t.ok(rc == 0 and out == b"typed-in\nout-2\n", "asciinema cat prints the command's stdout",
         detail=out)


def test_bad_flags():
    ptyd = os.path.join(os.environ.get("WS_BUILD", "build"), "ptyd")
    cases = [
        (["--record", "relative/dir"], "absolute"),
        (["--record-input"], "need --record"),
        (["--record", "/tmp/x", "--record-max-file", "10"], "at least 1M"),
        (["--record", "/tmp/x", "--record-group", "no-such-group-xyz"], "no such group"),
    ]
    for args, want in cases:
        p = subprocess.run([ptyd, "--allow-root"] + args, capture_output=True, text=True,
                           timeout=10)
        t.ok(p.returncode == 2 and want in p.stderr, f"ptyd {' '.join(args)}: exit 2, says why",
             detail=p.stderr)
    d = fresh_dir("rec-open")
    os.makedirs(d, mode=0o777)
    os.chmod(d, 0o777)
    p = subprocess.run([ptyd, "--allow-root", "--record", d, "--listen", "127.0.0.1:1"],
                       capture_output=True, text=True, timeout=10)
    t.ok(p.returncode == 1 and "writable by group or others" in p.stderr,
         "a directory others may write is refused at start", detail=p.stderr)


test_session_and_asciinema_cat()
test_input_and_group()
test_shell_cannot_reach_recordings()
test_full_disk()
test_exec_commands()
test_bad_flags()
t.done()

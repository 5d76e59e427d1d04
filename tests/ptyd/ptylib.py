"""tests/ptyd/ptylib.py: what the ptyd suites share: starting the real ptyd
binary on a free loopback port (and stopping it), a ttyd-protocol client on
Debian's python3-websockets (asyncio), and /proc helpers to look for
zombies, leaked shells and leaked fds.
"""
import asyncio
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("WS_ROOT", "."), "tests", "lib"))
import server as harness  # noqa: E402
from server import wait_until  # noqa: E402

import websockets  # noqa: E402

BUILD = os.environ.get("WS_BUILD", "build")
WORK = harness.WORK
PTYD = os.path.join(BUILD, "ptyd")
BASH = ["/bin/bash", "--norc", "--noprofile"]


def cgroup2_mount():
    """Where cgroup v2 is mounted (from /proc/self/mountinfo), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4].replace("\\040", " ")
    return None


class Server(harness.Server):
    """One ptyd on a free loopback port (unix=PATH: on that unix socket), started and
    waited for by the shared harness (tests/lib/server.py): Server(args, command=BASH).
    Under runuser or a wrapper, pid is ptyd's own (signals go to it)."""

    def __init__(self, args=(), command=BASH, allow_root=True, user=None, env=None,
                 wrapper=None, unix=None):
        argv = [PTYD, "--listen", f"unix:{unix}" if unix else "127.0.0.1:{port}"]
        if allow_root:
            argv.append("--allow-root")
        argv += list(args)
        if command:
            argv += ["--"] + list(command)
        if user:
            argv = ["/usr/sbin/runuser", "-u", user, "--"] + argv
        if wrapper:  # e.g. setpriv with capabilities
            argv = list(wrapper) + argv
        super().__init__(argv, name="ptyd", env=env, timeout=10,
                         ready=harness.Socket(unix) if unix else None)
        self.pid = self.ptyd_pid()

    def ptyd_pid(self):
        """The ptyd process itself (under runuser it is a child of Popen's pid)."""
        def find():
            for pid in [self.proc.pid] + children(self.proc.pid):
                try:
                    if os.readlink(f"/proc/{pid}/exe").endswith("/ptyd"):
                        return pid
                except OSError:
                    continue
            return None
        return wait_until(find, 2) or self.proc.pid

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/ws"


class Proc:
    """One process of /proc, its files read when asked (OSError once it has ended)."""

    def __init__(self, pid):
        self.pid = pid

    @property
    def cmdline(self):
        with open(f"/proc/{self.pid}/cmdline", "rb") as f:
            return f.read()

    @property
    def argv(self):
        """The arguments as bytes (split at NUL as the kernel writes them)."""
        return self.cmdline.split(b"\0")

    @property
    def stat(self):
        """The fields of /proc/PID/stat after the name: 0 state, 1 ppid, 2 group, 3 session."""
        with open(f"/proc/{self.pid}/stat") as f:
            st = f.read()
        return st[st.rindex(")") + 2:].split()

    @property
    def uid(self):
        return os.stat(f"/proc/{self.pid}").st_uid


def procs(pred):
    """Pids of the processes for which pred(Proc) is true now; one that ends meanwhile is
    passed over. The one /proc walk of the suites: they differ only in what they look for."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if pred(Proc(int(d))):
                out.append(int(d))
        except OSError:
            continue
    return out


def _procs_where(field, value):
    """Pids whose /proc/PID/stat field after the name (1 = ppid, 2 = group, 3 = session) is value."""
    return procs(lambda p: int(p.stat[field]) == value)


def children(pid):
    """Pids whose parent is pid."""
    return _procs_where(1, pid)


def session_members(sid):
    """Pids whose session id is sid (a shell's jobs live in their own groups)."""
    return _procs_where(3, sid)


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        return st[st.rindex(")") + 2]
    except OSError:
        return None


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def descendants_ok(srv, base_fds):
    """(ok, detail): no child processes of ptyd left and its fd count back to base."""
    def clean():
        return not children(srv.pid) and fd_count(srv.pid) == base_fds
    # The kill sweeps of 200 ended sessions walk /proc: slow under ASan on a loaded machine.
    ok = wait_until(clean, 30)
    kids = children(srv.pid)
    fds = []
    for fd in sorted(os.listdir(f"/proc/{srv.pid}/fd"), key=int)[3:]:
        try:
            fds.append(os.readlink(f"/proc/{srv.pid}/fd/{fd}"))
        except OSError:
            pass
    return bool(ok), f"children={[(k, proc_state(k)) for k in kids]} fds={fd_count(srv.pid)}/{base_fds} {fds}"


class Client:
    """A ttyd-protocol client: output is collected from '0' messages, the
    title and preferences kept, and the close code/reason recorded."""

    def __init__(self, ws):
        self.ws = ws
        self.messages = []   # (type byte, payload) in arrival order
        self.output = b""
        self.code = None
        self.reason = None
        self.session = None  # the 'S' message's JSON, after a "webshell" init

    @property
    def offset(self):
        """The session offset after the last output byte received ('S' offset + output)."""
        return (self.session["offset"] if self.session else 0) + len(self.output)

    async def init_session(self, session="new", offset=None, cols=80, rows=24):
        """A resumable init (docs/protocol.md 1); returns the 'S' JSON or None (closed)."""
        ws = {"session": session}
        if offset is not None:
            ws["offset"] = offset
        await self.ws.send(json.dumps({"AuthToken": "", "columns": cols, "rows": rows,
                                       "webshell": ws}).encode())
        while self.session is None:
            if await self.recv_one(10) is None:
                return None
        return self.session

    @classmethod
    async def connect(cls, server, headers=None, origin=None, **kw):
        ws = await websockets.connect(server.url, subprotocols=["tty"], compression=None,
                                      extra_headers=headers or {}, origin=origin,
                                      max_size=None, open_timeout=10, **kw)
        return cls(ws)

    async def init(self, cols=80, rows=24):
        await self.ws.send(('{"AuthToken":"","columns":%d,"rows":%d}' % (cols, rows)).encode())

    async def send(self, data, text=False):
        if isinstance(data, str):
            data = data.encode()
        await self.ws.send(data.decode() if text else data)

    async def input(self, s):
        await self.send(b"0" + (s.encode() if isinstance(s, str) else s))

    async def recv_one(self, timeout=5.0):
        """One message, or None once the connection is closed."""
        try:
            m = await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.ConnectionClosed as e:
            self.code = e.rcvd.code if e.rcvd else 1006
            self.reason = e.rcvd.reason if e.rcvd else ""
            return None
        if isinstance(m, str):
            m = b"TEXT:" + m.encode()
        self.messages.append((m[:1], m[1:]))
        if m[:1] == b"0":
            self.output += m[1:]
        elif m[:1] == b"S":
            self.session = json.loads(m[1:])
        return m

    async def until(self, needle, timeout=10.0, start=0):
        """Reads until needle (bytes or str) is in the output (from offset
        start on); True if seen."""
        if isinstance(needle, str):
            needle = needle.encode()
        deadline = time.monotonic() + timeout
        while needle not in self.output[start:]:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                if await self.recv_one(left) is None:
                    return needle in self.output[start:]
            except asyncio.TimeoutError:
                return False
        return True

    async def until_closed(self, timeout=10.0):
        """Reads everything until the close; returns (code, reason) or (None, None)."""
        deadline = time.monotonic() + timeout
        while self.code is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            try:
                await self.recv_one(left)
            except asyncio.TimeoutError:
                return None, None
        return self.code, self.reason

    async def until_re(self, pattern, timeout=10.0):
        """Reads until the regex (bytes) matches the output; the match or None."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.output)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.code is not None:
                return None
            try:
                await self.recv_one(left)
            except asyncio.TimeoutError:
                return None

    async def ready(self, cols=80, rows=24):
        """init, then wait for the prompt of bash --norc ("bash-5.2# " or "$ ")."""
        await self.init(cols, rows)
        return await self.until_re(rb"[#$] $") is not None

    async def run(self, cmd, timeout=10.0):
        """Types cmd and returns its output up to a marker the echo cannot contain."""
        start = len(self.output)
        await self.input(f"{cmd}; echo __E$((6*7))__\r")
        if not await self.until("__E42__", timeout, start):
            return None
        out = self.output[start:].decode("utf-8", "replace")
        out = re.sub(r"\x1b\[\?2004[hl]", "", out.split("__E42__")[0])
        # drop the echoed command line
        return out.split("\r\n", 1)[1] if "\r\n" in out else out

    async def drop(self):
        """Drops the TCP connection without a close frame (and lets the loop do it)."""
        self.ws.transport.abort()
        await asyncio.sleep(0.05)

    async def close(self):
        await self.ws.close()


async def one_ptyd(t, tests, args=()):
    """One ptyd (Server(args)) shared by tests, each awaited as test(srv, base_fds) with
    ptyd's descriptor count once it has settled; then SIGTERM, and exit 0 is a case."""
    srv = Server(list(args))
    try:
        await asyncio.sleep(0.1)
        base = fd_count(srv.pid)
        for test in tests:
            await test(srv, base)
    finally:
        rc, took = srv.stop()
    t.ok(rc == 0, f"ptyd exits 0 on SIGTERM ({took:.2f}s)")


def run(coro):
    return asyncio.run(coro)

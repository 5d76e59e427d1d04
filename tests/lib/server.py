"""tests/lib/server.py: the Python tests' one way to start a server and wait for it.

    from server import Server, Port, LogLine, Socket, File, free_port, wait_until

    s = Server([BIN, "--listen", "127.0.0.1:{port}"], name="jwt-verify")   # ready: Port
    s = Server([PTYD, "--listen", f"unix:{path}"], ready=Socket(path))
    s = Server([CADDY, "run", ...], ready=LogLine(r"serving initial configuration"))
    s.text(); s.wait_log(r"decision"); s.stop()   # -> (returncode, seconds)

"{port}" in argv is replaced by a free loopback port (s.port); if the process
exits before it is ready because another process took that port in between,
it is started again on a new one. Every wait polls its condition (a port, a
log line, a socket, a file) until a deadline: never a fixed sleep. Output goes
to a log file in $WS_WORK (s.log_path). A Server is also a context manager.
"""
import atexit
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

WORK = os.environ.get("WS_WORK", "/tmp")
_count = 0


def wait_until(cond, timeout=10.0, step=0.02):
    """Polls cond() until it returns something true (returned) or timeout passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


_handed_out = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing is bound to right now and that this
    process has not handed out before. Under tests/run.sh it comes from $WS_PORTS
    ("LO-HI"), the running suite's own range below the kernel's ephemeral ports:
    no other suite and no client socket's automatic port takes it meanwhile."""
    lo, _, hi = os.environ.get("WS_PORTS", "").partition("-")
    for _ in range(500):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", random.randint(int(lo), int(hi)) if hi else 0))
            except OSError:
                continue
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise ServerError(f"no free port in {os.environ.get('WS_PORTS', 'the ephemeral range')}")


def tcp_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def unix_open(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    """Waits until something accepts on host:port; returns True if so."""
    return bool(wait_until(lambda: tcp_open(port, host), timeout))


def wait_socket(path, timeout=10.0):
    """Waits until something accepts on the unix socket path; returns True if so."""
    return bool(wait_until(lambda: unix_open(path), timeout))


class Port:
    """Ready when something accepts on 127.0.0.1:port (None: the Server's own {port})."""

    def __init__(self, port=None, host="127.0.0.1"):
        self.port, self.host = port, host

    def check(self, server):
        return tcp_open(self.port or server.port, self.host)

    def __str__(self):
        return f"a listener on {self.host}:{self.port or '{port}'}"


class Socket:
    """Ready when something accepts on the unix socket path."""

    def __init__(self, path):
        self.path = path

    def check(self, server):
        return unix_open(self.path)

    def __str__(self):
        return f"a listener on unix:{self.path}"


class LogLine:
    """Ready when the server's output matches the regex."""

    def __init__(self, pattern):
        self.pattern = pattern

    def check(self, server):
        return re.search(self.pattern, server.text())

    def __str__(self):
        return f"a log line matching {self.pattern!r}"


class File:
    """Ready when the file exists and is not empty."""

    def __init__(self, path):
        self.path = path

    def check(self, server):
        return os.path.exists(self.path) and os.path.getsize(self.path) > 0

    def __str__(self):
        return f"the file {self.path}"


class ServerError(RuntimeError):
    pass


_IN_USE = re.compile(r"address already in use|EADDRINUSE|bind.*(failed|error)", re.I)

# Servers not stopped yet: stopped at exit, also when the suite is ended by SIGTERM
# (tests/run.sh's timeout or ^C). A server runs in a session of its own, out of
# reach of the signals sent to the suite's process group.
_running = set()


def _stop_all():
    for s in list(_running):
        s.stop()


def _terminated(sig, frame):
    sys.exit(128 + sig)


atexit.register(_stop_all)
if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _terminated)


class Server:
    """One process under test, started and waited for; see the module's doc."""

    def __init__(self, argv, name=None, ready=None, timeout=15.0, env=None, cwd=None,
                 attempts=3, pass_fds=()):
        global _count
        self.name = name or os.path.basename(argv[0])
        self.argv_template = list(argv)
        self.uses_port = any("{port}" in a for a in argv)
        self.ready = ready if ready is not None else Port()
        self.port = None
        for attempt in range(attempts):
            _count += 1
            self.port = free_port() if self.uses_port else None
            argv_now = [a.replace("{port}", str(self.port)) for a in argv] if self.uses_port else list(argv)
            self.argv = argv_now
            self.log_path = os.path.join(WORK, f"{self.name}-{os.getpid()}-{_count}.log")
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(argv_now, stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                         start_new_session=True, pass_fds=pass_fds)
            self.pid = self.proc.pid
            _running.add(self)
            ok = wait_until(lambda: self.ready.check(self) or self.proc.poll() is not None, timeout)
            if ok and self.proc.poll() is None:
                return
            out = self.text()
            self.stop()
            if self.proc.returncode is not None and self.uses_port and _IN_USE.search(out) \
                    and attempt + 1 < attempts:
                continue
            why = f"exited with {self.proc.returncode}" if ok else f"not ready after {timeout} s"
            raise ServerError(f"{self.name} {why}, waiting for {self.ready}: {' '.join(argv_now)}\n"
                              f"{out[-3000:]}")

    def text(self):
        """Everything the server wrote so far (stdout and stderr)."""
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=5.0):
        """Waits for the regex in the output; returns the match or None."""
        return wait_until(lambda: re.search(pattern, self.text()), timeout)

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=8.0, sig=None):
        """sig (TERM) to the server (self.pid), KILL to the process group it was
        started in after timeout; waits. Returns (exit status, seconds taken)."""
        t0 = time.monotonic()
        _running.discard(self)
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig or signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode, time.monotonic() - t0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

"""tests/jwt-verify/jvlib.py: helpers shared by the jwt-verify suites: start the
real binary ($WS_BUILD/jwt-verify) on a free loopback port, read its log,
mint tokens with tests/lib/mint_jwt.py, send raw HTTP/1.1 requests."""
import http.client
import os
import signal
import subprocess
import sys
import time

ROOT = os.environ.get("WS_ROOT", os.getcwd())
BUILD = os.environ.get("WS_BUILD", os.path.join(ROOT, "build"))
WORK = os.environ.get("WS_WORK", "/tmp")
FIX = os.path.join(ROOT, "tests/jwt-verify/fixtures")
sys.path.insert(0, os.path.join(ROOT, "tests/lib"))

from mint_jwt import mint, thumbprint  # noqa: E402
from tap import Tap, free_port, wait_port  # noqa: E402

BIN = os.path.join(BUILD, "jwt-verify")
__all__ = ["BIN", "ROOT", "Server", "Tap", "fix", "free_port", "mint", "run", "thumbprint", "tok", "wait_port",
           "WORK"]


def fix(name):
    return os.path.join(FIX, name)


def run(*args, timeout=20):
    """Runs jwt-verify to completion; returns (rc, stdout, stderr)."""
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Server:
    """One jwt-verify process on 127.0.0.1:port, stderr in a log file."""

    def __init__(self, *args, name="server"):
        self.port = free_port()
        self.log_path = os.path.join(WORK, f"{name}-{self.port}.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [BIN, "--listen", f"127.0.0.1:{self.port}", *args],
            stdout=subprocess.DEVNULL, stderr=self.log_file)
        if not wait_port(self.port, 15):
            self.proc.kill()
            raise RuntimeError(f"jwt-verify did not listen: {self.log()}")

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def lines(self, event="decision"):
        return [line for line in self.log().splitlines() if event in line]

    def wait_log(self, needle, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return True
            time.sleep(0.05)
        return False

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def get(self, path="/verify", headers=None, method="GET", body=None, conn=None):
        """One request; returns (status, headers dict lower-cased, body str)."""
        c = conn or self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if conn is None:
            c.close()
        return r.status, hdrs, body

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "killed after SIGTERM timeout"
        self.log_file.close()
        return self.proc.returncode


def tok(key="ed25519", **kw):
    """A token signed by fixtures/KEY.pem (see mint_jwt.mint for kw)."""
    return mint(fix(f"{key}.pem"), **kw)

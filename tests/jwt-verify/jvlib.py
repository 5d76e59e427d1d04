"""tests/jwt-verify/jvlib.py: helpers shared by the jwt-verify suites: start the
real binary ($WS_BUILD/jwt-verify) on a free loopback port through the shared
harness (tests/lib/server.py), read its log,
mint tokens with tests/lib/mint_jwt.py, send raw HTTP/1.1 requests."""
import http.client
import os
import subprocess
import sys

ROOT = os.environ.get("WS_ROOT", os.getcwd())
BUILD = os.environ.get("WS_BUILD", os.path.join(ROOT, "build"))
WORK = os.environ.get("WS_WORK", "/tmp")
FIX = os.path.join(ROOT, "tests/jwt-verify/fixtures")
sys.path.insert(0, os.path.join(ROOT, "tests/lib"))

import server as harness  # noqa: E402
from mint_jwt import mint, thumbprint  # noqa: E402
from server import free_port, wait_port  # noqa: E402
from tap import Tap  # noqa: E402

BIN = os.path.join(BUILD, "jwt-verify")
__all__ = ["BIN", "ROOT", "harness", "Server", "Tap", "fix", "free_port", "mint", "run", "thumbprint", "tok", "wait_port",
           "WORK"]


def fix(name):
    return os.path.join(FIX, name)


def run(*args, timeout=20):
    """Runs jwt-verify to completion; returns (rc, stdout, stderr)."""
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Server(harness.Server):
    """One jwt-verify process on 127.0.0.1:{port}, started and waited for by the shared
    harness (tests/lib/server.py); adds the verifier's log and HTTP helpers."""

    def __init__(self, *args, name="server"):
        super().__init__([BIN, "--listen", "127.0.0.1:{port}", *args], name=name)

    def log(self):
        return self.text()

    def lines(self, event="decision"):
        return [line for line in self.log().splitlines() if event in line]

    def wait_log(self, needle, timeout=5.0):
        return bool(harness.wait_until(lambda: needle in self.log(), timeout))

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

    def stop(self, timeout=15.0, sig=None):
        """SIGTERM and wait; returns the exit status (negative: killed by that signal)."""
        return super().stop(timeout, sig)[0]


def tok(key="ed25519", **kw):
    """A token signed by fixtures/KEY.pem (see mint_jwt.mint for kw)."""
    return mint(fix(f"{key}.pem"), **kw)

"""tests/lib/tap.py: TAP output for Python suites.

    from tap import Tap
    t = Tap()
    t.ok(cond, "name", detail="shown on failure")
    t.done()          # prints the plan, exits 1 if anything failed
"""
import socket
import sys
import time


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, detail=None):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {name}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} - {name}", flush=True)
            if detail is not None:
                for line in str(detail).splitlines():
                    print(f"#   {line}", flush=True)
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, detail=f"got:  {got!r}\nwant: {want!r}")

    def skip(self, name, reason):
        self.n += 1
        print(f"ok {self.n} - {name} # SKIP {reason}", flush=True)

    def diag(self, msg):
        for line in str(msg).splitlines():
            print(f"# {line}", flush=True)

    def done(self):
        print(f"1..{self.n}", flush=True)
        sys.exit(1 if self.failed else 0)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    """Waits until something accepts on 127.0.0.1:port; returns True if so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False

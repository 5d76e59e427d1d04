"""tests/lib/tap.py: TAP output for Python suites.

    from tap import Tap
    t = Tap()
    t.ok(cond, "name", detail="shown on failure")
    t.done()          # prints the plan, exits 1 if anything failed
"""
import sys

# Starting servers and waiting for them live in tests/lib/server.py; these two
# are re-exported for the suites that import them from here.
from server import free_port, wait_port  # noqa: E402,F401


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

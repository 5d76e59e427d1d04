#!/usr/bin/python3
# sanitize: yes
"""tests/jwt-verify/reload.test.py: SIGHUP key rotation on the real jwt-verify
while clients keep requesting: the new key takes over at once, a bad file
(garbage, RSA-1024, missing) keeps the whole old set and says why, and no
request ever fails at the HTTP level during the swaps."""
import os
import shutil
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jvlib import WORK, Server, Tap, fix, tok  # noqa: E402

t = Tap()


def place(src, dst):
    """Replaces dst by a copy of src in one rename, as provisioning does."""
    tmp = dst + ".tmp"
    if src is None:
        with open(tmp, "w") as f:
            f.write("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n")
    else:
        shutil.copyfile(src, tmp)
    os.rename(tmp, dst)


class Load:
    """Client threads on keep-alive connections sending tokens A and B in turn."""

    def __init__(self, server, tokens, threads=4):
        self.server, self.tokens = server, tokens
        self.stop = threading.Event()
        self.results = []  # (token name, status or error)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for th in self.threads:
            th.start()

    def run(self):
        c = self.server.conn()
        i = 0
        while not self.stop.is_set():
            name = "AB"[i % 2]
            i += 1
            try:
                status = self.server.get("/verify?token=" + self.tokens[name], conn=c)[0]
            except OSError as e:
                status = repr(e)
                c.close()
                c = self.server.conn()
            with self.lock:
                self.results.append((name, status))
        c.close()

    def finish(self):
        self.stop.set()
        for th in self.threads:
            th.join()
        return self.results


def reload(s, needle):
    n = s.log().count(needle)
    s.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and s.log().count(needle) <= n:
        time.sleep(0.02)
    return s.log().count(needle) > n


def status(s, token):
    return s.get("/verify?token=" + token)[0]


def rotation():
    active = os.path.join(WORK, "active.pub.pem")
    place(fix("ed25519.pub.pem"), active)
    s = Server("--key", active, name="reload")
    a, b = tok("ed25519", lifetime=600), tok("ed25519-other", lifetime=600)
    load = Load(s, {"A": a, "B": b})
    try:
        time.sleep(0.3)
        t.eq((status(s, a), status(s, b)), (200, 401), "before: key A accepted, B refused")
        place(fix("ed25519-other.pub.pem"), active)
        t.ok(reload(s, "reloaded 1 keys"), "SIGHUP: reload logged")
        t.eq((status(s, a), status(s, b)), (401, 200), "after SIGHUP: key B accepted, A refused")
        time.sleep(0.3)
        place(None, active)
        t.ok(reload(s, "reload failed, keeping the 1 old keys"), "garbage file: reload refused")
        t.ok(f"key file {active}: no PEM public key" in s.log(), "the refusal names the file and why")
        t.eq((status(s, a), status(s, b)), (401, 200), "garbage file: the old set (B) still works")
        place(fix("rsa1024.pub.pem"), active)
        t.ok(reload(s, "RSA key of 1024 bits, at least 2048 required"),
             "RSA-1024 file: reload refused with the reason")
        t.eq(status(s, b), 200, "RSA-1024 file: B still works")
        os.unlink(active)
        t.ok(reload(s, "No such file or directory"), "missing file: reload refused")
        t.eq(status(s, b), 200, "missing file: B still works")
        place(fix("ed25519.pub.pem"), active)
        t.ok(reload(s, "reloaded 1 keys"), "a good file again: reloaded")
        t.eq((status(s, a), status(s, b)), (200, 401), "back to A")
        time.sleep(0.3)
    finally:
        results = load.finish()
        rc = s.stop()
    bad = [r for r in results if r[1] not in (200, 401)]
    t.ok(len(results) > 200 and not bad,
         f"under load: {len(results)} requests during 5 reloads, every one 200 or 401",
         bad[:5])
    a_statuses = {st for name, st in results if name == "A"}
    b_statuses = {st for name, st in results if name == "B"}
    t.ok(a_statuses == {200, 401} and b_statuses == {200, 401},
         "under load: both keys were accepted and refused as the set changed",
         (a_statuses, b_statuses))
    t.eq(rc, 0, "SIGTERM after the reloads: exit 0")


def whole_set():
    one = os.path.join(WORK, "one.pub.pem")
    two = os.path.join(WORK, "two.pub.pem")
    place(fix("ed25519.pub.pem"), one)
    place(fix("p256.pub.pem"), two)
    s = Server("--key", one, "--key", two, name="set")
    try:
        a, p = tok("ed25519"), tok("p256")
        t.eq((status(s, a), status(s, p)), (200, 200), "two keys: both accepted")
        place(fix("ed25519-other.pub.pem"), one)
        place(None, two)
        t.ok(reload(s, "reload failed, keeping the 2 old keys"),
             "one bad file in the set: the whole reload is refused")
        t.eq((status(s, a), status(s, p), status(s, tok("ed25519-other"))), (200, 200, 401),
             "the old set stays whole (the good new file is not half-loaded)")
    finally:
        t.eq(s.stop(), 0, "SIGTERM: exit 0")


rotation()
whole_set()
t.done()

#!/usr/bin/python3
# sanitize: yes
"""tests/jwt-verify/service.test.py: the real jwt-verify on a free loopback
port: flags and start-up errors, --check, every algorithm, token sources and
their order, the 200/401/400/404/405 answers, size limits, keep-alive, idle
timeouts, claims flags, --single-use, log lines (text and JSON), SIGTERM."""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jvlib import WORK, BIN, Server, harness, Tap, fix, run, thumbprint, tok  # noqa: E402

t = Tap()
UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def startup_errors():
    rc, out, err = run("--bogus", "--key", fix("ed25519.pub.pem"))
    t.ok(rc == 2 and "--bogus: unknown option" in err and "usage:" in err,
         "unknown flag: exit 2 with usage", f"rc={rc} {err}")
    rc, out, err = run("--key", fix("ed25519.pub.pem"), "--leeway", "soon")
    t.ok(rc == 2 and "--leeway soon: invalid" in err, "bad --leeway: exit 2", err)
    rc, out, err = run("--key", fix("ed25519.pub.pem"), "--max-lifetime", "0")
    t.ok(rc == 2 and "too small" in err, "--max-lifetime 0: exit 2", err)
    rc, out, err = run("--key", fix("ed25519.pub.pem"), "--log-format", "xml")
    t.ok(rc == 2 and "text or json" in err, "bad --log-format: exit 2", err)
    rc, out, err = run("--key", fix("ed25519.pub.pem"), "--listen", "localhost:80")
    t.ok(rc == 2 and "--listen localhost:80" in err, "non-numeric --listen: exit 2", err)
    rc, out, err = run("--listen", "127.0.0.1:1")
    t.ok(rc == 2 and "--key FILE is required" in err, "no --key: exit 2", err)
    rc, out, err = run("--key")
    t.ok(rc == 2 and "needs a value" in err, "--key without value: exit 2", err)
    rc, out, err = run("--key", fix("missing.pem"))
    t.ok(rc == 1 and "missing.pem" in err and "No such file" in err,
         "missing key file: exit 1 naming it", err)
    rc, out, err = run("--key", fix("rsa1024.pub.pem"))
    t.ok(rc == 1 and "rsa1024.pub.pem: RSA key of 1024 bits, at least 2048 required" in err,
         "RSA-1024 key refused at start: exit 1", err)
    rc, out, err = run("--key", fix("ed25519.pem"))
    t.ok(rc == 1 and "holds a private key" in err, "private key file refused: exit 1", err)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        rc, out, err = run("--key", fix("ed25519.pub.pem"), "--listen", f"127.0.0.1:{port}")
    t.ok(rc == 1 and f"cannot listen on 127.0.0.1:{port}: Address already in use" in err,
         "port in use: exit 1 naming the address", err)
    rc, out, err = run("--help")
    t.ok(rc == 0 and "--max-lifetime SECONDS" in out and "--single-use" in out,
         "--help: usage on stdout, exit 0", out)
    rc, out, err = run("--version")
    t.ok(rc == 0 and re.fullmatch(r"jwt-verify \S+ \(libwebsockets \d+\.\d+\.\d+\)\n", out),
         "--version: exit 0, a clean library version", out)
    rc, out, err = run("-h")
    t.ok(rc == 0 and out.startswith("usage: jwt-verify") and err == "", "-h: help, exit 0", out)


def check_flag():
    keys = ["ed25519", "p256", "p384", "p521", "rsa2048"]
    args = []
    for k in keys:
        args += ["--key", fix(f"{k}.pub.pem")]
    rc, out, err = run("--check", *args)
    want = [f"{fix(k + '.pub.pem')}: {name} {bits} bits, thumbprint {thumbprint(fix(k + '.pem'))}, "
            f"may assert key:{thumbprint(fix(k + '.pem'))[:16]}, any identity no key is bound to"
            for k, name, bits in zip(keys, ["Ed25519", "P-256", "P-384", "P-521", "RSA"],
                                     [256, 256, 384, 521, 2048])]
    t.eq(out.splitlines(), want + ["keys OK"], "--check: type and RFC 7638 thumbprint per key")
    t.eq(rc, 0, "--check: exit 0 with good keys")
    rc, out, err = run("--check", "--key", fix("ed25519.pub.pem"), "--key", fix("rsa1024.pub.pem"))
    t.ok(rc == 1 and "rsa1024.pub.pem" in err, "--check: exit 1 naming a bad key", err)


def algorithms(s):
    for key, alg in [("ed25519", None), ("p256", None), ("p384", None), ("p521", None),
                     ("rsa2048", "RS256"), ("rsa2048", "RS384"), ("rsa2048", "RS512")]:
        token = tok(key, alg=alg, claims={"sub": "alice"})
        status, hdrs, body = s.get(f"/verify?token={token}")
        t.ok(status == 200 and hdrs.get("x-webshell-user") == "alice" and body == ""
             and hdrs.get("content-length") == "0",
             f"{alg or key}: 200, empty body, Content-Length 0, X-Webshell-User alice",
             f"{status} {hdrs} {body!r}")
    status, hdrs, _ = s.get(f"/verify?token={tok('p256')}")
    want = "key:" + thumbprint(fix("p256.pem"))[:16]
    t.eq((status, hdrs.get("x-webshell-user")), (200, want),
         "no sub: X-Webshell-User is key: + 16 thumbprint chars")


def answers(s):
    status, hdrs, body = s.get(f"/verify?token={tok(lifetime=-100)}")
    t.ok(status == 401 and hdrs.get("www-authenticate") == 'Bearer error="invalid_token"'
         and body == "token expired\n",
         "401: WWW-Authenticate and a one-line reason", f"{status} {hdrs} {body!r}")
    status, _, body = s.get("/verify")
    t.eq((status, body), (401, "token missing\n"), "no token: 401 token missing")
    status, _, body = s.get(f"/verify?token={tok(alg='none')}")
    t.eq((status, body), (401, "algorithm not allowed\n"), "alg none: 401")
    status, _, body = s.get(f"/verify?token={tok('ed25519.pub', alg='HS256')}")
    t.eq((status, body), (401, "algorithm not allowed\n"), "HS256 with the public key: 401")
    status, hdrs, body = s.get("/verify", method="POST", body="x")
    t.ok(status == 405 and hdrs.get("allow") == "GET", "POST: 405 with Allow: GET",
         f"{status} {hdrs}")
    status, _, _ = s.get("/other?token=" + tok())
    t.eq(status, 404, "another path: 404")
    status, _, body = s.get("/verify?token=" + tok(), headers={"Content-Length": "3"}, body="abc")
    t.eq((status, body), (400, "request body not allowed\n"), "GET with a body: 400")
    status, _, _ = s.get("/verify?token=" + tok(), headers={"Content-Length": "0"})
    t.eq(status, 200, "GET with Content-Length: 0 is fine")
    status, hdrs, body = s.get("/verify?token=" + tok(claims={"sub": "ws"}), headers=UPGRADE)
    t.ok(status == 200 and hdrs.get("x-webshell-user") == "ws" and "upgrade" not in hdrs,
         "WebSocket handshake headers: plain 200, never 101", f"{status} {hdrs}")
    status, _, body = s.get("/verify?token=garbage", headers=UPGRADE)
    t.eq((status, body), (401, "token must have 3 segments\n"), "WebSocket handshake: 401 too")
    status, hdrs, body = s.get("/ws?token=" + tok(), headers=UPGRADE)
    t.ok(status == 404 and hdrs.get("connection") == "close",
         "WebSocket handshake on another path: 404, connection closed", f"{status} {hdrs}")


def sources(s):
    good, bad = tok(claims={"sub": "good"}), tok(lifetime=-100, claims={"sub": "bad"})
    xfu = lambda v: {"X-Forwarded-Uri": f"/ws?a=1&token={v}&b=2"}  # noqa: E731
    st, h, _ = s.get("/verify", headers=xfu(good))
    t.eq((st, h.get("x-webshell-user")), (200, "good"), "token from X-Forwarded-Uri")
    st, h, _ = s.get(f"/verify?x=1&token={good}")
    t.eq((st, h.get("x-webshell-user")), (200, "good"), "token from the request's query")
    st, h, _ = s.get("/verify", headers={"Authorization": f"Bearer {good}"})
    t.eq((st, h.get("x-webshell-user")), (200, "good"), "token from Authorization: Bearer")
    st, _, _ = s.get(f"/verify?token={bad}", headers=xfu(good))
    t.eq(st, 200, "X-Forwarded-Uri wins over the request's query")
    st, _, b = s.get(f"/verify?token={good}", headers=xfu(bad))
    t.eq((st, b), (401, "token expired\n"), "a bad X-Forwarded-Uri token is not overridden")
    st, _, b = s.get(f"/verify?token={bad}", headers={"Authorization": f"Bearer {good}"})
    t.eq((st, b), (400, "token in more than one place (URL, Authorization, Sec-WebSocket-Protocol)\n"),
         "a token in the query and in Authorization: refused as ambiguous")
    st, _, b = s.get("/verify", headers={"X-Forwarded-Uri": f"/ws?token={good}&token={good}"})
    t.eq((st, b), (401, "more than one token parameter\n"), "two token params in X-Forwarded-Uri")
    st, _, b = s.get(f"/verify?token={good}&token={good}")
    t.eq((st, b), (401, "more than one token parameter\n"), "two token params in the query")
    st, _, b = s.get("/verify?token=")
    t.eq((st, b), (401, "empty token\n"), "empty token parameter")
    st, _, b = s.get("/verify", headers={"Authorization": f"Basic {good}"})
    t.eq((st, b), (401, "token missing\n"), "Authorization: Basic is not a token source")


def subprotocols(s):
    """Issue 13: the browser's token in the subprotocol list, never passed on."""
    good = tok(claims={"sub": "ws"})
    st, h, _ = s.get("/verify", headers={"Sec-WebSocket-Protocol": f"webshell.bearer.{good}, tty"})
    t.eq((st, h.get("x-webshell-user"), h.get("x-webshell-protocol")), (200, "ws", "tty"),
         "token from Sec-WebSocket-Protocol: 200, X-Webshell-Protocol is the list without it")
    st, h, _ = s.get("/verify", headers={
        "Sec-WebSocket-Protocol": f" x.y ,webshell.bearer.{good},tty ", **UPGRADE})
    t.eq((st, h.get("x-webshell-protocol")), (200, "x.y, tty"),
         "WebSocket handshake: the other elements kept in order")
    st, h, _ = s.get(f"/verify?token={good}", headers={"Sec-WebSocket-Protocol": "tty"})
    t.eq((st, h.get("x-webshell-protocol")), (200, "tty"),
         "query token: the subprotocol list is answered unchanged")
    st, h, _ = s.get(f"/verify?token={good}")
    t.ok(st == 200 and "x-webshell-protocol" not in h, "no subprotocol list: no X-Webshell-Protocol")
    st, _, b = s.get(f"/verify?token={good}",
                     headers={"Sec-WebSocket-Protocol": f"webshell.bearer.{good}, tty"})
    t.eq(st, 400, "token in the query and in the subprotocol list: 400 ambiguous")
    st, _, b = s.get("/verify", headers={"Authorization": f"Bearer {good}",
                                         "Sec-WebSocket-Protocol": f"webshell.bearer.{good}, tty"})
    t.eq(st, 400, "token in Authorization and in the subprotocol list: 400 ambiguous")
    st, _, b = s.get("/verify", headers={
        "Sec-WebSocket-Protocol": f"webshell.bearer.{good}, webshell.bearer.{good}, tty"})
    t.eq((st, b), (400, "more than one token in Sec-WebSocket-Protocol\n"), "two bearer elements: 400")
    st, h, b = s.get("/verify", headers={"Sec-WebSocket-Protocol": f"webshell.bearer.{good}"})
    t.ok(st == 401 and "nothing but the token" in b and "x-webshell-protocol" not in h,
         "a list holding only the token: 401 (nothing to pass on in its place)", b)
    st, _, b = s.get("/verify", headers={"Sec-WebSocket-Protocol": "webshell.bearer.x.y.z, tty"})
    t.eq(st, 401, "a bad token in the subprotocol list: 401")


def fragments(s):
    """Issue 9 section 7: a '#' in the forwarded target is refused, whatever follows it."""
    good = tok()
    for uri in (f"/ws?x=1#&token={good}", f"/ws#?token={good}", f"/ws?token={good}#"):
        st, _, b = s.get("/verify", headers={"X-Forwarded-Uri": uri})
        t.eq((st, b), (400, "'#' in the forwarded request target\n"), f"X-Forwarded-Uri {uri[:14]}...: 400")


def strict_tokens(s):
    """Issue 9 section 5 through the service: NUL escapes and loose JSON are 401s."""
    import base64

    def seg(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    good = tok(claims={"sub": "alice"})
    h, c, sig = good.split(".")
    st, _, b = s.get("/verify?token=" + seg(b'{"alg":"EdDSA\\u0000x"}') + "." + c + "." + sig)
    t.eq((st, b), (401, "\\u0000 in a JSON string\n"), "alg EdDSA\\u0000x: 401 before cJSON sees it")
    st, _, b = s.get("/verify?token=" + seg(b'\xef\xbb\xbf{"alg":"EdDSA"}') + "." + c + "." + sig)
    t.eq((st, b), (401, "byte-order mark before JSON\n"), "header with a BOM: 401")
    other = tok("p256", claims={"sub": "key:" + thumbprint(fix("ed25519.pem"))[:16]})
    st, _, b = s.get("/verify?token=" + other)
    t.eq((st, b), (401, "sub not allowed for this key\n"),
         "the P-256 key claiming the Ed25519 key's name: 401")
    st, h, _ = s.get("/verify?token=" + tok("p256", claims={"sub": None}))
    t.eq((st, h.get("x-webshell-user")), (200, "key:" + thumbprint(fix("p256.pem"))[:16]),
         "no sub: the user is the key's name")


def key_rules():
    """RSA exponents refused at start and by --check; kid required beside a same-type key."""
    for e in ("1", "3", "65538"):
        rc, _, err = run("--key", fix(f"rsa-e{e}.pub.pem"), "--listen", "127.0.0.1:1")
        t.ok(rc == 1 and f"RSA public exponent {e} refused" in err, f"RSA e={e}: refused at start", err)
        rc, _, err = run("--check", "--key", fix(f"rsa-e{e}.pub.pem"))
        t.ok(rc == 1 and f"RSA public exponent {e} refused" in err, f"RSA e={e}: --check exit 1", err)
    rc, _, err = run("--check", "--key", fix("ed25519.pub.pem") + "=*", "--key", fix("p256.pub.pem"))
    t.ok(rc == 1 and "only allowed when it is the only key" in err, "--check: =* beside a key, exit 1", err)
    rc, out, _ = run("--check", "--key", fix("ed25519.pub.pem") + "=alice,bob")
    t.ok(rc == 0 and out.startswith(fix("ed25519.pub.pem") + ":") and out.split("\n")[0].endswith(", alice, bob"),
         "--check: prints the identities a key may assert", out)
    rc, _, err = run("--key", "-x.pem")
    t.ok(rc == 2 and "starting with '-'" in err, "--key -x.pem: exit 2", err)
    extra = []
    for i in range(3):
        path = os.path.join(WORK, f"extra-ed25519-{i}.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path + ".key"], check=True)
        subprocess.run(["openssl", "pkey", "-in", path + ".key", "-pubout", "-out", path], check=True)
        extra += ["--key", path]
    s = Server("--key", fix("ed25519.pub.pem"), "--key", fix("ed25519-other.pub.pem"), *extra, name="kid")
    try:
        st, _, b = s.get("/verify?token=" + tok("ed25519-other"))
        t.eq((st, b), (401, "kid required (more than 4 keys of this type are loaded)\n"),
             "five Ed25519 keys, a token without kid: 401 kid required, no signature checked")
        st, _, _ = s.get("/verify?token=" + tok("ed25519-other", header={"kid": thumbprint(fix("ed25519-other.pem"))}))
        t.eq(st, 200, "the same token with kid: 200")
    finally:
        t.eq(s.stop(), 0, "kid server: SIGTERM exit 0")


def request_ids(s):
    """Issue 12: one correlation id per request, answered and logged, never the client's."""
    ids = []
    for i in range(3):
        st, h, _ = s.get("/verify?token=" + (tok() if i else "bad"),
                         headers={"X-Webshell-Request-Id": "chosen-by-client"})
        ids.append(h.get("x-webshell-request-id", ""))
    t.ok(all(re.fullmatch(r"[0-9a-f]{32}", x) for x in ids) and len(set(ids)) == 3,
         "every answer (401 and 200) carries a fresh 32-hex-digit X-Webshell-Request-Id, "
         "not the client's", ids)
    time.sleep(0.1)
    t.ok(all(any(f"request_id={x} " in line for line in s.lines()) for x in ids),
         "the decision line logs the same request_id", ids)
    trusting = Server("--key", fix("ed25519.pub.pem") + "=*", "--trust-request-id", name="trust")
    try:
        st, h, _ = trusting.get("/verify?token=" + tok(), headers={"X-Webshell-Request-Id": "caddy-0123456789"})
        t.eq((st, h.get("x-webshell-request-id")), (200, "caddy-0123456789"),
             "--trust-request-id: a valid incoming id is kept")
        st, h, _ = trusting.get("/verify?token=" + tok(), headers={"X-Webshell-Request-Id": "bad id\x01"})
        t.ok(re.fullmatch(r"[0-9a-f]{32}", h.get("x-webshell-request-id", "")),
             "--trust-request-id: an invalid one is replaced", h)
    finally:
        t.eq(trusting.stop(), 0, "trusting server: SIGTERM exit 0")


def raw(s, data, wait=2.0):
    """Sends data on a fresh connection, reads what comes back until it closes or wait passes."""
    c = socket.create_connection(("127.0.0.1", s.port), timeout=wait)
    got = b""
    try:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    finally:
        c.close()
    return got


def library_refusals():
    """Issue 9 section 5: what libwebsockets refuses by itself still gets one decision line;
    a connection that sends nothing gets none. And section 7: whatever the request, no
    line holds a byte of the token."""
    s = Server("--key", fix("ed25519.pub.pem") + "=*", name="refusals")
    good = tok(claims={"sub": "alice"})
    h, c, sig = good.split(".")
    try:
        def lines_after(data):
            before = len(s.lines())
            raw(s, data)
            harness.wait_until(lambda: len(s.lines()) > before, 2.0)
            time.sleep(0.2)
            return s.lines()[before:]
        cases = [
            (b"BREW /verify?token=" + good.encode() + b" HTTP/1.1\r\n\r\n", "an unknown method"),
            (b"GET /verify?token=" + good.encode() + b" HTTP/1.1\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n",
             "headers over 16 KiB"),
            (b"GET /verify?token=" + good.encode(), "a request line never finished"),
            (b"GET /verify HTTP/1.1\r\nSec-WebSocket-Protocol: webshell.bearer." + good.encode()
             + b", tty\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n", "oversized, token in the subprotocol"),
        ]
        for data, name in cases:
            new = lines_after(data)
            t.ok(len(new) == 1 and "refused by the HTTP library" in new[0] and "request_id=" in new[0],
                 f"{name}: one decision line", new)
        t.eq(lines_after(b""), [], "a connection that sends nothing: no decision line")
        for target in (f"/ws?x=1#&token={good}", f"/ws?token={good}&token={good}",
                       f"/ws?token={good[:-1]}%zz", f"/ws?token={h}.{c}"):
            s.get("/verify", headers={"X-Forwarded-Uri": target,
                                      "Sec-WebSocket-Protocol": f"webshell.bearer.{good}, webshell.bearer.x"})
            s.get("/verify?token=" + good, headers={"Authorization": f"Bearer {good}", "X-Forwarded-Uri": target})
        s.get("/verify", headers={"Authorization": f"Bearer {good}"}, method="POST", body="x")
        s.get("/nope?token=" + good)
        log = s.log()
        t.ok(good not in log and sig not in log and c not in log and h + "." not in log,
             "after malformed requests of every kind, no token bytes in the log", log[-600:])
    finally:
        t.eq(s.stop(), 0, "refusals server: SIGTERM exit 0")


def idle_clients():
    """Issue 9 section 5: 1,000 connections that send nothing or a byte now and then lock
    nobody out (today the 65th holds a good request until an idle one times out)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    s = Server("--key", fix("ed25519.pub.pem") + "=*", name="idle")
    socks = []
    try:
        for i in range(1000):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            if i % 2:
                c.sendall(b"GET /verify?tok")  # a slow client: half a request line
            socks.append(c)
        good, statuses = tok(lifetime=300), []
        for i in range(5):
            for c in socks[1::2]:
                try:
                    c.sendall(b"e")
                except OSError:
                    pass
            try:
                st, _, _ = s.get("/verify?token=" + good, conn=http.client.HTTPConnection(
                    "127.0.0.1", s.port, timeout=2))
            except OSError as e:
                st = repr(e)
            statuses.append(st)
        t.eq(statuses, [200] * 5, "1,000 idle and slow connections open: good requests still answered")
    finally:
        for c in socks:
            c.close()
        t.eq(s.stop(), 0, "idle server: SIGTERM exit 0")


def limits(s):
    big = "a" * 8193
    st, _, b = s.get("/verify", headers={"Authorization": f"Bearer {big}"})
    t.eq((st, b), (401, "token too large\n"), "token of 8 KiB + 1: 401 token too large")
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"GET /verify HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n")
    try:
        reply = c.recv(200)
    except ConnectionResetError:
        reply = b""
    c.close()
    t.ok(not reply.startswith(b"HTTP/1.1 200"), "headers over 16 KiB: refused",
         repr(reply[:80]))
    st, _, _ = s.get("/verify?token=" + tok())
    t.eq(st, 200, "the server still answers after the oversized request")


def garbage(s):
    for raw in (b"BREW /verify HTTP/1.1\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", b"GET /verify HTTP/9.9\r\n\r\n"):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(raw)
        try:
            reply = c.recv(100)
        except OSError:
            reply = b""
        c.close()
        t.ok(not reply.startswith(b"HTTP/1.1 200") and s.get("/verify?token=" + tok())[0] == 200,
             f"garbage {raw[:12]!r}: not accepted, the server keeps serving", reply)


def ipv6():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError as e:
        t.skip("--listen [::1]:PORT", f"no IPv6 loopback: {e}")
        return
    p = subprocess.Popen([BIN, "--key", fix("ed25519.pub.pem") + "=*", "--listen", f"[::1]:{port}"],
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        status = None
        while status is None and time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("::1", port, timeout=5)
                c.request("GET", "/verify?token=" + tok(claims={"sub": "six"}))
                r = c.getresponse()
                status = (r.status, r.getheader("X-Webshell-User"))
                c.close()
            except OSError:
                time.sleep(0.05)
        t.eq(status, (200, "six"), "--listen [::1]:PORT serves on IPv6 loopback")
    finally:
        p.terminate()
        t.eq(p.wait(timeout=15), 0, "IPv6 server: SIGTERM exit 0")


def keep_alive(s):
    c = s.conn()
    statuses = []
    c.request("GET", "/verify?token=" + tok())
    c.getresponse().read()
    sock = c.sock
    for i in range(50):
        st, _, _ = s.get("/verify?token=" + (tok() if i % 2 else "bad"), conn=c)
        statuses.append(st)
    t.ok(c.sock is sock and statuses.count(200) == 25 and statuses.count(401) == 25,
         "keep-alive: 51 requests, 200s and 401s, on one connection", statuses)
    c.close()


def idle_timeouts(s, results):
    """Runs in a thread: a silent connection and an idle keep-alive one."""
    silent = socket.create_connection(("127.0.0.1", s.port))
    idle = socket.create_connection(("127.0.0.1", s.port))
    idle.sendall(b"GET /verify HTTP/1.1\r\nHost: x\r\n\r\n")
    start = time.monotonic()
    closed = {}
    for name, sock in (("silent", silent), ("idle", idle)):
        sock.settimeout(40)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        closed[name] = time.monotonic() - start
        sock.close()
    results.update(closed)


def claims_flags():
    s = Server("--key", fix("ed25519.pub.pem") + "=*", "--audience", "web-shell", "--leeway", "0",
               "--max-lifetime", "60", name="claims")
    try:
        # --leeway 0: iat a second back, so a clock edge cannot make it "future".
        iat = {"iat": int(time.time()) - 1}
        st, _, b = s.get("/verify?token=" + tok(claims={"aud": "other", **iat}))
        t.eq((st, b), (401, "wrong audience\n"), "--audience: wrong aud is 401")
        st, _, _ = s.get("/verify?token=" + tok(claims={"aud": ["x", "web-shell"], **iat}))
        t.eq(st, 200, "--audience: aud array holding it is 200")
        st, _, b = s.get("/verify?token=" + tok(lifetime=120, claims={"aud": "web-shell", **iat}))
        t.eq((st, b), (401, "token lifetime too long\n"), "--max-lifetime 60: 120 s token is 401")
        st, _, b = s.get("/verify?token=" + tok(lifetime=-2, claims={"aud": "web-shell", **iat}))
        t.eq((st, b), (401, "token expired\n"), "--leeway 0: expired 2 s ago is 401")
    finally:
        t.eq(s.stop(), 0, "claims server: SIGTERM exit 0")
    s = Server("--key", fix("ed25519.pub.pem") + "=*", name="defaults")
    try:
        st, _, _ = s.get("/verify?token=" + tok(lifetime=-10))
        t.eq(st, 200, "default leeway 30: expired 10 s ago is 200")
        st, _, b = s.get("/verify?token=" + tok(lifetime=-40))
        t.eq((st, b), (401, "token expired\n"), "default leeway 30: expired 40 s ago is 401")
        st, _, _ = s.get("/verify?token=" + tok(lifetime=3600))
        t.eq(st, 200, "default max-lifetime 3600: 3600 s token is 200")
        st, _, b = s.get("/verify?token=" + tok(lifetime=3700))
        t.eq((st, b), (401, "token lifetime too long\n"), "default max-lifetime: 3700 s is 401")
    finally:
        s.stop()


def single_use():
    s = Server("--key", fix("ed25519.pub.pem") + "=*", "--single-use", name="single")
    try:
        token = tok(claims={"jti": "once-1", "sub": "alice"})
        first = s.get("/verify?token=" + token)[0]
        st, _, b = s.get("/verify?token=" + token)
        t.ok(first == 200 and (st, b) == (401, "token replayed (jti seen before)\n"),
             "--single-use: second use of a jti is 401", f"{first} {st} {b!r}")
        st, _, b = s.get("/verify?token=" + tok())
        t.eq((st, b), (401, "jti missing\n"), "--single-use: a token without jti is 401")
        st, _, _ = s.get("/verify?token=" + tok(claims={"jti": "once-2"}))
        t.eq(st, 200, "--single-use: another jti is 200")
        t.ok(s.wait_log('reason="token replayed (jti seen before)"') and "jti=once-1" in s.log(),
             "--single-use: the replay is logged with its jti")
    finally:
        t.eq(s.stop(), 0, "single-use server: SIGTERM exit 0")


def logs(s):
    token = tok(claims={"sub": 'eve"q', "jti": "log-1"})
    marker = "/ws?secretpath=1&token=" + token
    st, _, _ = s.get("/verify", headers={"X-Forwarded-Uri": marker, "X-Forwarded-For": "203.0.113.7"})
    t.eq(st, 200, "log probe accepted")
    s.get("/verify?token=" + tok(lifetime=-100), headers={"X-Forwarded-For": "198.51.100.9"})
    time.sleep(0.2)
    log = s.log()
    sig = token.rsplit(".", 1)[1]
    allow = [line for line in s.lines() if "jti=log-1" in line]
    t.ok(len(allow) == 1 and re.search(
        r'request_id=[0-9a-f]{32} decision=allow status=200 reason=ok sub="eve\\"q" jti=log-1 alg=EdDSA key=\S{16} '
        r'client=203\.0\.113\.7 us=\d+$', allow[0]),
         "text log: one escaped line per decision with sub, jti, alg, key, client, us", allow)
    t.ok(any('decision=deny status=401 reason="token expired"' in x and "client=198.51.100.9" in x
             for x in s.lines()), "text log: a deny line with its reason")
    t.ok(token not in log and sig not in log and "secretpath" not in log
         and token.split(".")[1] not in log,
         "log never holds the token, its signature or X-Forwarded-Uri")
    for xff, want in (("192.0.2.1, 198.51.100.20", "198.51.100.20"), ("2001:db8::1", "2001:db8::1"),
                      ("not-an-address", "127.0.0.1"), ("192.0.2.1,", "127.0.0.1")):
        s.get("/verify?token=bad", headers={"X-Forwarded-For": xff})
        time.sleep(0.05)
        t.ok(s.lines()[-1].endswith(f"client={want} us=" + s.lines()[-1].rsplit("us=", 1)[1]),
             f"client from X-Forwarded-For {xff!r}: the last entry when it is an address, "
             f"else the peer ({want})", s.lines()[-1])
    n = len(s.lines())
    s.get("/verify?token=bad")
    time.sleep(0.1)
    t.eq(len(s.lines()), n + 1, "exactly one line per decision")


def json_logs():
    s = Server("--key", fix("ed25519.pub.pem") + "=*", "--log-format", "json", name="json")
    try:
        s.get("/verify?token=" + tok(claims={"sub": "zoë\\", "jti": "a\tb"}),
              headers={"X-Forwarded-For": "a\tb"})
        s.get("/verify?token=" + tok(claims={"sub": "bob"}))
        time.sleep(0.2)
        lines = s.log().splitlines()
        parsed = []
        try:
            parsed = [json.loads(x) for x in lines]
        except ValueError as e:
            t.diag(f"{e}: {lines}")
        t.ok(parsed and len(parsed) == len(lines), "json log: every line is one JSON object", lines)
        dec = [p for p in parsed if p.get("event") == "decision"]
        t.ok(len(dec) == 2 and dec[0]["reason"] == "invalid sub" and dec[0]["jti"] == "a\tb"
             and dec[0]["client"] == "127.0.0.1"
             and dec[1]["sub"] == "bob" and dec[1]["decision"] == "allow"
             and dec[1]["alg"] == "EdDSA" and int(dec[1]["us"]) >= 0,
             "json log: decision fields, untrusted strings escaped", dec)
    finally:
        t.eq(s.stop(), 0, "json server: SIGTERM exit 0")


def concurrency(s):
    results = []
    lock = threading.Lock()
    token = tok(claims={"sub": "many"})

    def client():
        mine = []
        c = s.conn()
        for _ in range(20):
            try:
                mine.append(s.get("/verify?token=" + token, conn=c)[0])
            except OSError as e:
                mine.append(repr(e))
        c.close()
        with lock:
            results.extend(mine)
    threads = [threading.Thread(target=client) for _ in range(64)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.ok(len(results) == 1280 and all(r == 200 for r in results),
         "64 concurrent keep-alive clients x 20 requests: all 200",
         [r for r in results if r != 200][:5])


def main():
    startup_errors()
    check_flag()
    # Five keys of five types, each allowed the identities the tests below use.
    ids = '=alice,ws,good,bad,six,many,bob,eve"q'
    s = Server(*[a for k in ("ed25519", "p256", "p384", "p521", "rsa2048")
                 for a in ("--key", fix(f"{k}.pub.pem") + ids)])
    idle = {}
    th = threading.Thread(target=idle_timeouts, args=(s, idle))
    th.start()
    try:
        algorithms(s)
        answers(s)
        sources(s)
        subprotocols(s)
        fragments(s)
        strict_tokens(s)
        request_ids(s)
        limits(s)
        garbage(s)
        keep_alive(s)
        logs(s)
        concurrency(s)
        claims_flags()
        key_rules()
        library_refusals()
        idle_clients()
        single_use()
        json_logs()
        ipv6()
        th.join()
        t.ok(5 <= idle.get("silent", 0) < 20, "a connection that sends nothing is closed (~10 s)",
             idle)
        t.ok(10 <= idle.get("idle", 0) < 25, "an idle keep-alive connection is closed (~15 s)",
             idle)
    finally:
        rc = s.stop()
    t.eq(rc, 0, "SIGTERM: clean exit 0")
    t.ok("stopping" in s.log(), "SIGTERM: 'stopping' logged")
    t.done()


main()

#!/usr/bin/python3
# sanitize: yes
"""tests/jwt-verify/caddy.test.py: jwt-verify behind real Caddy (Debian's
2.6) forward_auth, with the /ws gate scripts/lib/caddyfile.sh ships: a good token reaches the
upstream with X-Webshell-User (the client's own copy overwritten, the token
dropped), a bad one gets 401 with its reason back at the client, WebSocket
handshakes are judged too, and Caddy keeps its connections to the verifier."""
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jvlib import ROOT, WORK, Server, Tap, fix, free_port, harness, tok  # noqa: E402

t = Tap()

def caddy_piece(fn, *args):
    """A piece of the product's own Caddyfile from scripts/lib/caddyfile.sh (what web-shell.sh
    and demo.sh write), so this suite goes through the /ws gate that ships."""
    lib = os.path.join(ROOT, "scripts/lib/caddyfile.sh")
    return subprocess.run(["bash", "-c", 'source "$0" && "$@"', lib, fn, *args], check=True,
                          capture_output=True, text=True).stdout


def caddyfile(site, verifier, upstream):
    return ("{\n\tadmin off\n\tdefault_bind 127.0.0.1\n" + caddy_piece("caddy::log_filter")
            + "}\n\n" + f"http://127.0.0.1:{site} {{\n"
            + caddy_piece("caddy::ws_route", f"127.0.0.1:{verifier}", f"127.0.0.1:{upstream}")
            + '\thandle {\n\t\trespond "webshell test site" 200\n\t}\n}\n')


class Upstream(BaseHTTPRequestHandler):
    """Answers with what it received, as JSON."""
    seen = []

    def do_GET(self):
        got = {"path": self.path, "user": self.headers.get_all("X-Webshell-User"),
               "protocol": self.headers.get_all("Sec-WebSocket-Protocol"),
               "request_id": self.headers.get_all("X-Webshell-Request-Id"),
               "headers": str(self.headers)}
        Upstream.seen.append(got)
        body = json.dumps(got).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def get(port, path, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read().decode()
    if conn is None:
        c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def time_wait(port):
    out = subprocess.run(["ss", "-Htan", "state", "time-wait"], capture_output=True,
                         text=True).stdout
    return sum(1 for line in out.splitlines() if f":{port} " in line + " ")


def main():
    verifier = Server("--key", fix("ed25519.pub.pem") + "=alice", "--key", fix("p256.pub.pem") + "=ws-user",
                      name="caddy")
    up = ThreadingHTTPServer(("127.0.0.1", free_port()), Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    site = free_port()
    conf = os.path.join(WORK, "Caddyfile")
    with open(conf, "w") as f:
        f.write(caddyfile(site, verifier.port, up.server_port))
    env = dict(os.environ, HOME=WORK, XDG_DATA_HOME=os.path.join(WORK, "data"),
               XDG_CONFIG_HOME=os.path.join(WORK, "config"))
    caddy = None
    try:
        caddy = harness.Server(["caddy", "run", "--config", conf, "--adapter", "caddyfile"],
                               name="caddy", ready=harness.Port(site), timeout=20, env=env)
        t.ok(True, "caddy listens")
        checks(site, verifier)
    except harness.ServerError as e:
        t.ok(False, "caddy listens", str(e))
    finally:
        if caddy is not None:
            caddy.stop()
        up.shutdown()
        t.eq(verifier.stop(), 0, "jwt-verify: SIGTERM exit 0")
    t.done()


def checks(site, verifier):
    """Everything asked of Caddy + jwt-verify, once both listen."""
    good = tok(claims={"sub": "alice"}, lifetime=300)
    st, _, body = get(site, f"/ws?token={good}", {"X-Webshell-User": "mallory"})
    seen = json.loads(body) if st == 200 else {}
    t.ok(st == 200 and seen.get("user") == ["alice"],
         "good token: 200 from the upstream, X-Webshell-User alice (client's mallory replaced)",
         f"{st} {body}")
    t.ok(st == 200 and "token" not in seen.get("path", "token"),
         "the upstream never sees the token", seen)
    st, hdrs, body = get(site, f"/ws?token={tok(lifetime=-100)}")
    t.ok(st == 401 and body == "token expired\n"
         and hdrs.get("www-authenticate") == 'Bearer error="invalid_token"',
         "expired token: 401 with the reason reaches the client", f"{st} {hdrs} {body!r}")
    st, _, body = get(site, "/ws")
    t.eq((st, body), (401, "token missing\n"), "no token: 401 token missing at the client")
    st, _, body = get(site, f"/ws?token={good}&token={good}")
    t.eq((st, body), (401, "more than one token parameter\n"), "two tokens: 401 at the client")
    st, _, body = get(site, "/ws?token=" + tok("p256", claims={"sub": "ws-user"}), {
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    t.ok(st == 200 and json.loads(body).get("user") == ["ws-user"],
         "WebSocket handshake through Caddy: verified, passed on with X-Webshell-User",
         f"{st} {body}")
    st, _, body = get(site, "/ws?token=" + tok(alg="none"), {
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    t.eq((st, body), (401, "algorithm not allowed\n"), "WebSocket handshake with alg none: 401")
    before = time_wait(verifier.port)
    c = http.client.HTTPConnection("127.0.0.1", site, timeout=10)
    statuses = [get(site, f"/ws?token={good if i % 2 else 'x'}", conn=c)[0] for i in range(200)]
    c.close()
    tw = time_wait(verifier.port) - before
    t.ok(statuses.count(200) == 100 and statuses.count(401) == 100,
         "200 requests through Caddy: 100 allowed, 100 refused", statuses[:6])
    t.ok(tw <= 3, f"Caddy reuses its connections to jwt-verify ({tw} TIME_WAIT for 200 requests)")
    time.sleep(0.2)
    lines = verifier.lines()
    t.ok(all("client=127.0.0.1" in x for x in lines) and len(lines) >= 205,
         "one decision line per forward_auth request, client from X-Forwarded-For",
         f"{len(lines)} lines")
    t.ok(good not in verifier.log() and good.split(".")[2] not in verifier.log(),
         "jwt-verify's log holds no token")
    round2(site, verifier)


def round2(site, verifier):
    """Issues 9, 12 and 13 through real Caddy."""
    import re
    ws = tok("p256", claims={"sub": "ws-user"})
    st, hdrs, body = get(site, "/ws", {"Sec-WebSocket-Protocol": f"webshell.bearer.{ws}, tty",
                                       "X-Webshell-Request-Id": "chosen-by-mallory"})
    seen = json.loads(body) if st == 200 else {}
    t.ok(st == 200 and seen.get("user") == ["ws-user"] and seen.get("protocol") == ["tty"],
         "token in the subprotocol list: the upstream gets the user and Sec-WebSocket-Protocol: tty",
         f"{st} {body}")
    t.ok(st == 200 and ws not in seen.get("headers", ws) and ws.split(".")[2] not in body,
         "the upstream never sees the token from the subprotocol list", seen.get("headers"))
    rid = (seen.get("request_id") or [""])[0]
    time.sleep(0.2)
    t.ok(re.fullmatch(r"[0-9a-f]{32}", rid) and rid != "chosen-by-mallory"
         and any(f"request_id={rid} " in x and "sub=ws-user" in x for x in verifier.lines()),
         "the upstream gets the verifier's X-Webshell-Request-Id (the id its decision line logs), "
         "not the client's", f"{rid} {verifier.lines()[-1:]}")
    st, _, body = get(site, f"/ws?token={ws}", {"Sec-WebSocket-Protocol": "tty"})
    seen = json.loads(body) if st == 200 else {}
    t.ok(st == 200 and seen.get("protocol") == ["tty"], "query token: the subprotocol list passes unchanged",
         f"{st} {body}")
    st, hdrs, body = get(site, "/ws", {"Sec-WebSocket-Protocol": f"webshell.bearer.{ws}"})
    t.ok(st == 401 and "nothing but the token" in body, "a list holding only the token: 401 at the client",
         f"{st} {body}")
    st, hdrs, body = get(site, f"/ws?x=1#&token={ws}")
    t.ok(st != 200, "'#' in the target: refused through Caddy", f"{st} {body}")
    st, hdrs, body = get(site, f"/ws?token={tok(lifetime=-100)}")
    t.ok(st == 401 and re.fullmatch(r"[0-9a-f]{32}", hdrs.get("x-webshell-request-id", "")),
         "a 401 through Caddy carries the request id for the user to quote", hdrs)


main()

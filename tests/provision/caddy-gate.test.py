"""tests/provision/caddy-gate.test.py: the /ws gate of scripts/lib/caddyfile.sh (what web-shell.sh and
the demo write) through real Caddy and the real jwt-verify: a request target holding '#' is a 400
before the verifier is asked; a token offered as the WebSocket subprotocol `webshell.bearer.JWT`
lets the connection through while the upstream sees only the rest of the list (`tty`), never the
token; the client's own X-Webshell-* headers never reach the upstream; a 401 carries one Server
header; a down verifier or upstream leaves the token in no log; and a real ptyd on a unix socket
gives a shell to a WebSocket client that offers `webshell.bearer.JWT, tty`.

The upstream of the header checks is a tiny HTTP server that records what it receives, so that
the test sees exactly what ptyd would.
"""
import asyncio
import http.server
import json
import os
import socket
import subprocess
import sys
import threading

ROOT = os.environ.get("WS_ROOT", os.getcwd())
BUILD = os.environ.get("WS_BUILD", os.path.join(ROOT, "build"))
WORK = os.environ.get("WS_WORK", "/tmp")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

from mint_jwt import mint  # noqa: E402
from server import LogLine, Port, Server, Socket, free_port  # noqa: E402
from tap import Tap  # noqa: E402

import websockets  # noqa: E402

t = Tap()


def piece(fn, *args):
    """A piece of the shipped Caddyfile, from scripts/lib/caddyfile.sh."""
    return subprocess.run(["bash", "-c", 'source "$0" && "$@"', os.path.join(ROOT, "scripts/lib/caddyfile.sh"),
                           fn, *args], check=True, capture_output=True, text=True).stdout


class Recorder(http.server.BaseHTTPRequestHandler):
    """The stand-in upstream: records each request's target and headers."""
    seen = []

    def do_GET(self):
        Recorder.seen.append({"target": self.path, "headers": [(k.lower(), v) for k, v in self.headers.items()]})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


def raw_request(port, target, headers=()):
    """One HTTP/1.1 request written byte for byte; returns (status, header lines, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers, "", ""]
        s.sendall("\r\n".join(lines).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    return int(head_lines[0].split()[1]), head_lines[1:], body.decode("utf-8", "replace")


def header_values(lines, name):
    return [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith(name.lower() + ":")]


def main():
    key = os.path.join(WORK, "owner.pem")
    pub = os.path.join(WORK, "owner.pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)

    recorder = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    rec_port = recorder.server_address[1]

    sockdir = os.path.join(WORK, "ptyd-run")
    os.makedirs(sockdir, mode=0o700, exist_ok=True)
    sock = os.path.join(sockdir, "ptyd.sock")
    verifier_port, gate_port, shell_port, dead_port = free_port(), free_port(), free_port(), free_port()
    caddyfile = os.path.join(WORK, "Caddyfile")
    with open(caddyfile, "w") as f:
        f.write("{\n\tadmin off\n\tdefault_bind 127.0.0.1\n" + piece("caddy::log_filter") + "}\n\n")
        for port, verifier, upstream in ((gate_port, verifier_port, f"127.0.0.1:{rec_port}"),
                                         (shell_port, verifier_port, f"unix/{sock}"),
                                         (dead_port, free_port(), f"127.0.0.1:{free_port()}")):
            f.write(f"http://127.0.0.1:{port} {{\n"
                    + piece("caddy::ws_route", f"127.0.0.1:{verifier}", upstream) + "}\n")

    servers = []
    try:
        verifier = Server([os.path.join(BUILD, "jwt-verify"), "--key", pub, "--audience", "127.0.0.1",
                           "--listen", f"127.0.0.1:{verifier_port}"], name="jwt-verify", ready=Port(verifier_port))
        servers.append(verifier)
        ptyd = Server([os.path.join(BUILD, "ptyd"), "--listen", f"unix:{sock}", "--allow-root",
                       "--check-origin", f"http://127.0.0.1:{shell_port}", "--", "/bin/bash", "--norc",
                       "--noprofile"], name="ptyd", ready=Socket(sock))
        servers.append(ptyd)
        env = dict(os.environ, HOME=WORK, XDG_DATA_HOME=os.path.join(WORK, "xdg"),
                   XDG_CONFIG_HOME=os.path.join(WORK, "xdg"))
        caddy = Server(["caddy", "run", "--adapter", "caddyfile", "--config", caddyfile], name="caddy",
                       ready=Port(dead_port), env=env)
        servers.append(caddy)
        caddy.wait_log(r"serving initial configuration", 10)
        run_checks(key, pub, verifier_port, verifier, ptyd, caddy, gate_port, shell_port, dead_port)
    finally:
        for s in reversed(servers):
            s.stop()
        recorder.shutdown()
    t.done()


def run_checks(key, pub, verifier_port, verifier, ptyd, caddy, gate_port, shell_port, dead_port):
    token = mint(key, claims={"aud": "127.0.0.1"})
    secret = token.split(".")[2]

    # Issue 9 s7: '#' in the target is refused before the verifier is asked.
    asked = len(verifier.text().splitlines())
    status, _, body = raw_request(gate_port, f"/ws?x=1#&token={token}")
    t.ok(status == 400 and "'#'" in body, "a /ws target holding '#': 400 with the reason", f"{status} {body}")
    status, _, _ = raw_request(gate_port, "/ws#frag")
    t.eq(status, 400, "'#' right after /ws: 400")
    t.ok(len(verifier.text().splitlines()) == asked, "the verifier was never asked about them", verifier.text())

    # Issue 13: the token as a subprotocol element; the upstream gets the list without it.
    Recorder.seen.clear()
    status, _, _ = raw_request(gate_port, "/ws", [f"Sec-WebSocket-Protocol: webshell.bearer.{token}, tty",
                                                  "X-Webshell-User: mallory", "X-Webshell-Request-Id: forged",
                                                  "X-Webshell-Protocol: webshell.bearer.x"])
    seen = Recorder.seen[-1] if Recorder.seen else {"target": None, "headers": []}
    hdrs = dict(seen["headers"])
    t.eq(status, 200, "a token in Sec-WebSocket-Protocol is let through")
    t.eq(hdrs.get("sec-websocket-protocol"), "tty", "the upstream's Sec-WebSocket-Protocol is the list without the token")
    t.ok(secret not in json.dumps(seen), "the token reaches the upstream nowhere (headers, target)", seen)
    t.ok(hdrs.get("x-webshell-user", "").startswith("key:"), "X-Webshell-User is the verifier's, not the client's",
         hdrs.get("x-webshell-user"))
    t.ok("x-webshell-protocol" not in hdrs, "the client's X-Webshell-Protocol does not reach the upstream", hdrs)
    # Issue 12: X-Webshell-Request-Id is the verifier's, copied only when it sends one.
    direct = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "-H", f"Authorization: Bearer {token}",
                             f"http://127.0.0.1:{verifier_port}/verify"],
                            capture_output=True, text=True).stdout
    sent = [line.split(":", 1)[1].strip() for line in direct.splitlines()
            if line.lower().startswith("x-webshell-request-id:")]
    if sent:
        t.ok(hdrs.get("x-webshell-request-id") not in (None, "forged"),
             "X-Webshell-Request-Id: the verifier's correlation id reaches the upstream", hdrs)
    else:
        t.ok("x-webshell-request-id" not in hdrs,
             "X-Webshell-Request-Id: the client's is dropped (this verifier sends none)", hdrs)
    t.ok(not any(v.startswith("{http.") for v in hdrs.values()), "no unexpanded Caddy placeholder reaches the upstream",
         hdrs)

    # The ?token= form still works, and the query is dropped before the upstream.
    Recorder.seen.clear()
    status, _, _ = raw_request(gate_port, f"/ws?token={token}", ["Sec-WebSocket-Protocol: tty"])
    seen = Recorder.seen[-1] if Recorder.seen else {"target": None, "headers": []}
    t.ok(status == 200 and seen["target"] == "/ws" and dict(seen["headers"]).get("sec-websocket-protocol") == "tty",
         "?token= with subprotocol tty: let through, target /ws, protocol tty", seen)

    # Issue 8: one Server header on a 401.
    status, lines, body = raw_request(gate_port, "/ws", ["Sec-WebSocket-Protocol: webshell.bearer.not.a.token, tty"])
    servers = header_values(lines, "Server")
    t.ok(status == 401 and len(servers) == 1, f"a 401 through Caddy has one Server header ({servers})",
         "\n".join(lines) + "\n" + body)
    t.ok(body.strip() != "", f"the 401 says why ({body.strip()[:60]})")

    # A down verifier and a down upstream: 502, the token in no log.
    for target, hdr in ((f"/ws?token={token}", "Sec-WebSocket-Protocol: tty"),
                        ("/ws", f"Sec-WebSocket-Protocol: webshell.bearer.{token}, tty")):
        status, _, _ = raw_request(dead_port, target, [hdr])
        t.ok(status in (502, 503, 504), f"verifier down: {status}")
    verifier.stop()
    for target, hdr in ((f"/ws?token={token}", "Sec-WebSocket-Protocol: tty"),
                        ("/ws", f"Sec-WebSocket-Protocol: webshell.bearer.{token}, tty")):
        raw_request(gate_port, target, [hdr])
    caddy.wait_log(r"connection refused", 5)
    logs = {"caddy": caddy.text(), "jwt-verify": verifier.text()}
    t.ok("http.log.error" in logs["caddy"], "Caddy logged the failed requests (the check below has lines to look at)",
         logs["caddy"][-500:])
    leaked = [name for name, text in logs.items() if secret in text]
    t.ok(not leaked, "no token in Caddy's or jwt-verify's log after a down verifier and upstream", leaked)

    # Real ptyd on a unix socket behind the gate: a shell for `webshell.bearer.JWT, tty`.
    v2 = Server([os.path.join(BUILD, "jwt-verify"), "--key", pub, "--audience", "127.0.0.1",
                 "--listen", f"127.0.0.1:{verifier_port}"], name="jwt-verify", ready=Port(verifier_port))
    try:
        out, proto = asyncio.run(shell_through_gate(shell_port, mint(key, claims={"aud": "127.0.0.1"})))
        t.ok("SHELL-OK" in out and proto == "tty", f"ptyd on a unix socket: a shell through Caddy (protocol {proto})",
             out)
        t.ok(secret not in ptyd.text() and secret not in v2.text(), "no token in ptyd's log")
    finally:
        v2.stop()


async def shell_through_gate(port, token):
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", subprotocols=[f"webshell.bearer.{token}", "tty"],
                                  origin=f"http://127.0.0.1:{port}", open_timeout=10) as ws:
        await ws.send(json.dumps({"AuthToken": "", "columns": 80, "rows": 24}).encode())
        await ws.send(b"0echo SHELL-$((6-6))OK | tr -d 0\r")
        out = ""
        try:
            while "SHELL-OK" not in out:
                msg = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(msg, bytes) and msg[:1] == b"0":
                    out += msg[1:].decode("utf-8", "replace")
        except (asyncio.TimeoutError, websockets.ConnectionClosed):
            pass
        return out, ws.subprotocol


main()

#!/usr/bin/python3
"""tests/provision/ttyd_client.py: opens a real terminal through Caddy and runs one command.

    ttyd_client.py --url wss://HOST:PORT/ws?token=JWT --origin ORIGIN
                   [--connect 127.0.0.1:PORT] [--cafile CA.pem] COMMAND

Speaks the ttyd protocol (subprotocol "tty": a '{' init message, '0' input,
'0' output) like the browser does, types COMMAND followed by a line that
prints a marker, and prints everything the shell sent until the marker
appears (then exits 0). Exit 3 when the handshake is refused (HTTP status on
stderr), 4 on timeout, 5 when the server closes first. --connect dials that address instead of resolving HOST,
so a test needs no DNS; TLS still checks the certificate for HOST.
"""
import argparse
import asyncio
import json
import socket
import ssl
import sys
import urllib.parse

import websockets


async def run(args):
    url = urllib.parse.urlsplit(args.url)
    ctx = None
    if url.scheme == "wss":
        ctx = ssl.create_default_context(cafile=args.cafile)
    sock = None
    if args.connect:
        host, port = args.connect.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=10)
    kwargs = {"subprotocols": ["tty"], "origin": args.origin, "open_timeout": 10}
    if sock is not None:
        kwargs["sock"] = sock
        if ctx is not None:
            kwargs["server_hostname"] = url.hostname
    if ctx is not None:
        kwargs["ssl"] = ctx
    try:
        ws = await websockets.connect(args.url, **kwargs)
    except websockets.exceptions.InvalidStatusCode as e:
        print(f"refused: HTTP {e.status_code}", file=sys.stderr)
        return 3
    # The marker is assembled by the shell, so the echoed command line never holds it.
    marker = "WS-CLIENT-DONE"
    line = f"{args.command}; printf '%s-%s\\n' WS-CLIENT DONE\r"
    out = b""
    try:
        await ws.send(json.dumps({"AuthToken": "", "columns": 120, "rows": 40}).encode())
        await ws.send(b"0" + line.encode())
        async with asyncio.timeout(args.timeout) if hasattr(asyncio, "timeout") else _Deadline(args.timeout):
            while marker.encode() not in out:
                msg = await ws.recv()
                if isinstance(msg, str):
                    msg = msg.encode()
                if msg[:1] == b"0":
                    out += msg[1:]
    except websockets.exceptions.ConnectionClosed as e:
        sys.stdout.write(out.decode(errors="replace"))
        print(f"\nclosed before the marker: {e}", file=sys.stderr)
        return 5
    except (asyncio.TimeoutError, TimeoutError):
        sys.stdout.write(out.decode(errors="replace"))
        print(f"\ntimeout: no marker after {args.timeout}s", file=sys.stderr)
        return 4
    finally:
        await ws.close()
    sys.stdout.write(out.decode(errors="replace"))
    return 0


class _Deadline:
    """asyncio.timeout for Python < 3.11 (Debian 12 has 3.11; kept for 3.10)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.handle = None

    async def __aenter__(self):
        task = asyncio.current_task()
        self.handle = asyncio.get_running_loop().call_later(self.seconds, task.cancel)

    async def __aexit__(self, typ, exc, tb):
        self.handle.cancel()
        if typ is asyncio.CancelledError:
            raise asyncio.TimeoutError()
        return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--origin", required=True)
    p.add_argument("--connect")
    p.add_argument("--cafile")
    p.add_argument("--timeout", type=float, default=15)
    p.add_argument("command")
    sys.exit(asyncio.run(run(p.parse_args())))


if __name__ == "__main__":
    main()

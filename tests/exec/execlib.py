"""tests/exec/execlib.py: a webshell-exec.v1 client for the exec suites
(docs/protocol.md §2), on Debian's python3-websockets: frames by channel and
command id, one reader task that files every message under its command,
stdin with the flow control window, and acks of output as it is consumed.
"""
import asyncio
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.environ.get("WS_ROOT", "."), "tests", "ptyd"))
from ptylib import Server  # noqa: E402,F401

import websockets  # noqa: E402

STDIN, STDOUT, STDERR, STATUS, RESIZE = 0, 1, 2, 3, 4
START, EOF, CANCEL, ACK = 16, 17, 18, 19
HELLO, SESSIONS, END_SESSION = 32, 33, 34
PROTO = "webshell-exec.v1"


def frame(ch, cid, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode()
    return bytes([ch]) + struct.pack(">I", cid) + payload


class Command:
    """What arrived for one command id."""

    def __init__(self, cid):
        self.id = cid
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.status = None          # the parsed status JSON
        self.statuses = 0           # how many status messages came (must be 1)
        self.after_status = 0       # messages for this id after its status (must be 0)
        self.acked_in = 0           # stdin bytes the server acknowledged
        self.done = asyncio.Event()
        self.acked = asyncio.Event()
        self.answer = None          # sessions/end-session answers

    @property
    def code(self):
        return self.status.get("exitCode") if self.status else None


class ExecClient:
    def __init__(self, ws, auto_ack=True):
        self.ws = ws
        self.auto_ack = auto_ack
        self.cmds = {}
        self.hello = None
        self.next_id = 1
        self.order = []             # (channel, id) of every message, in order
        self.close_code = None
        self.close_reason = None
        self.closed = asyncio.Event()
        self._hello = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, server, headers=None, protocols=(PROTO, "tty"), auto_ack=True):
        ws = await websockets.connect(server.url, subprotocols=list(protocols), compression=None,
                                      extra_headers=headers or {}, max_size=None,
                                      open_timeout=10, ping_interval=None)
        c = cls(ws, auto_ack)
        if ws.subprotocol == PROTO:
            await asyncio.wait_for(c._hello.wait(), 10)
        return c

    def cmd(self, cid):
        if cid not in self.cmds:
            self.cmds[cid] = Command(cid)
        return self.cmds[cid]

    async def _read(self):
        try:
            async for m in self.ws:
                if isinstance(m, str):
                    self.order.append(("text", 0))
                    continue
                ch, cid = m[0], struct.unpack(">I", m[1:5])[0]
                payload = m[5:]
                self.order.append((ch, cid))
                if ch == HELLO:
                    self.hello = json.loads(payload)
                    self._hello.set()
                    continue
                c = self.cmd(cid)
                if c.statuses and ch in (STDOUT, STDERR, STATUS):
                    c.after_status += 1
                if ch in (STDOUT, STDERR):
                    (c.stdout if ch == STDOUT else c.stderr).extend(payload)
                    if self.auto_ack:
                        await self.ws.send(frame(ACK, cid, struct.pack(">I", len(payload))))
                elif ch == STATUS:
                    c.statuses += 1
                    c.status = json.loads(payload)
                    c.done.set()
                elif ch == ACK:
                    c.acked_in += struct.unpack(">I", payload)[0]
                    c.acked.set()
                elif ch == SESSIONS:
                    c.answer = json.loads(payload)
                    c.done.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            rc = self.ws.close_rcvd
            self.close_code = rc.code if rc else 1006
            self.close_reason = rc.reason if rc else ""
            self.closed.set()
            for c in self.cmds.values():
                c.done.set()

    def new_id(self):
        cid = self.next_id
        self.next_id += 1
        return cid

    async def send(self, ch, cid, payload=b""):
        await self.ws.send(frame(ch, cid, payload))

    async def start(self, req, cid=None):
        cid = cid if cid is not None else self.new_id()
        self.cmd(cid)
        await self.send(START, cid, json.dumps(req))
        return cid

    async def write_stdin(self, cid, data, chunk=65536):
        """Sends data keeping at most the window un-acknowledged."""
        c = self.cmd(cid)
        window = self.hello["window"]
        sent = 0
        while sent < len(data):
            while sent - c.acked_in >= window:
                c.acked.clear()
                if c.done.is_set():
                    return sent
                await asyncio.wait_for(c.acked.wait(), 30)
            n = min(chunk, len(data) - sent, window - (sent - c.acked_in))
            await self.send(STDIN, cid, data[sent:sent + n])
            sent += n
        return sent

    async def wait(self, cid, timeout=30):
        c = self.cmd(cid)
        await asyncio.wait_for(c.done.wait(), timeout)
        return c

    async def run(self, req, stdin=None, timeout=30):
        """Starts req, feeds stdin (then eof) and waits for its status."""
        if stdin is not None:
            req = dict(req)
        cid = await self.start(req)
        if stdin is not None:
            await self.write_stdin(cid, stdin)
            await self.send(EOF, cid)
        return await self.wait(cid, timeout)

    async def close(self):
        await self.ws.close()
        await asyncio.wait_for(self.closed.wait(), 10)

    async def wait_closed(self, timeout=10):
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code, self.close_reason

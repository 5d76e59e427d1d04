#!/usr/bin/python3
"""tests/audit/make_cast.py OUTDIR: records one real session with ptyd --record
(real bash in a real PTY) for the replay page's browser test: the shell waits,
then echoes a marker line, writes a line to stderr of an exec-like command, and
exits 0. Prints JSON: {"path": the .cast file, "echo": seconds from the start
of the recording to the output event holding the marker, "text": the marker}."""
import asyncio
import glob
import json
import os
import sys

sys.dont_write_bytecode = True
ROOT = os.environ.get("WS_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "ptyd"))
from ptylib import Client, Server  # noqa: E402

MARK = "replay-$((6*7))-ok"
TEXT = "replay-42-ok"


async def session(srv):
    c = await Client.connect(srv, headers={"X-Webshell-User": "carol@example.org"})
    await c.ready(80, 24)
    await c.input(f"sleep 1.5; echo {MARK}\r")
    await c.until(TEXT + "\r\n", 10)
    await c.input("exit\r")
    await c.until_closed(10)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rec = os.path.join(out, "recordings")
    srv = Server(["--record", rec])
    try:
        asyncio.run(session(srv))
        srv.wait_log(r"recording-end", 10)
    finally:
        srv.stop()
    path = sorted(glob.glob(os.path.join(rec, "*.cast")))[-1]
    echo = None
    with open(path) as f:
        next(f)
        for line in f:
            t, code, data = json.loads(line)
            if code == "o" and TEXT in data:
                echo = t
                break
    print(json.dumps({"path": path, "echo": echo, "text": TEXT}))


main()

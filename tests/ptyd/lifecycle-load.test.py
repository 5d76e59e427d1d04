#!/usr/bin/python3
# sanitize: yes
# tier: slow (1,000 sessions and 200 at once: a load sweep, not daily work)
# tests/ptyd/lifecycle-load.test.py: ptyd cleans up under load: 1,000 fast
# connect-and-close cycles of every shape (before init, right after it,
# dropped TCP, exit) leave no process and no fd behind and log every end, and
# 200 concurrent sessions each answer their own command, one shell each, and
# leave nothing behind. The real binary, real bash, real WebSocket clients on
# loopback. The rest of ptyd's lifecycle: lifecycle.test.py (fast tier).
import asyncio
import os
import random
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptylib import Client, children, descendants_ok, one_ptyd, run, wait_until  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()


async def one_cycle(srv, i, rng):
    """A connect-and-close cycle in one of several shapes."""
    c = await Client.connect(srv)
    shape = i % 4
    if shape == 0:
        await c.close()                  # before init
        return True
    await c.init()
    if shape == 1:
        await c.close()                  # right after init: the SIGHUP may hit bash mid-start
        return True
    ok = await c.until_re(rb"[#$] $", 10) is not None
    if shape == 2:
        await asyncio.sleep(rng.random() * 0.01)
        await c.drop()                   # dropped TCP
    else:
        await c.input("exit\r")
        code, reason = await c.until_closed(10)
        ok = ok and code == 1000 and reason == "exit 0"
    return ok


async def test_cycles(srv, base_fds, total=1000, parallel=16):
    rng = random.Random(7)
    sem = asyncio.Semaphore(parallel)
    results = []

    async def guarded(i):
        async with sem:
            try:
                results.append(await one_cycle(srv, i, rng))
            except Exception as e:  # noqa: BLE001
                results.append(repr(e))

    t0 = time.monotonic()
    await asyncio.gather(*(guarded(i) for i in range(total)))
    took = time.monotonic() - t0
    bad = [r for r in results if r is not True]
    t.ok(not bad, f"{total} connect-and-close cycles all behaved ({took:.1f}s)", bad[:5])
    ok, detail = descendants_ok(srv, base_fds)
    t.ok(ok, f"after {total} cycles: no process and no fd left behind", detail)
    ends = len(re.findall(r"session_end ", srv.text()))
    starts = len(re.findall(r"session_start ", srv.text()))
    # A connection closed before its init message never started a session.
    t.ok(starts >= total * 3 // 4 and wait_until(
        lambda: len(re.findall(r"session_end ", srv.text())) == starts, 5),
        "every session logged its end", f"starts={starts} ends={ends}")


async def test_concurrent(srv, base_fds, n=200):
    clients = []
    try:
        for _ in range(n):
            clients.append(await Client.connect(srv))
        await asyncio.gather(*(c.ready() for c in clients))
        outs = await asyncio.gather(*(c.run(f"echo A$(({i}*3))Z", 30) for i, c in enumerate(clients)))
        good = sum(1 for i, o in enumerate(outs) if o is not None and f"A{i * 3}Z" in o)
        t.eq(good, n, f"{n} concurrent sessions all answer their own command")
        kids = len(children(srv.pid))
        t.eq(kids, n, f"{n} concurrent sessions: one shell each")
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    ok, detail = descendants_ok(srv, base_fds)
    t.ok(ok, f"after {n} concurrent sessions: nothing left behind", detail)


run(one_ptyd(t, [test_cycles, test_concurrent]))
t.done()

"""Websocket clients (child process) for the fan-out and latency sections.

``python -m bench.ws_clients --url ws://.../ws/live --clients N --deltas K``
opens N /ws/live connections (at most 100 handshakes at a time), prints
``ready <n>`` once every client holds its snapshot (``failed <k> of <n> clients: <why>`` when some
were refused), then records, per client,
the wall-clock receive time of each ``delta``/``snapshot`` message after the
first (and its ``body.latency`` and ``pushed_at``). It stops after K such
messages on every client, on a ``stop`` line (or EOF) on stdin, or at ``--limit-s``, and
prints one JSON line: ``{"seq": {"<seq>": [recv times]}, "meta": {"<seq>": {...}}, "connected": n}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import threading
import time
from collections import defaultdict

import websockets

HANDSHAKES_AT_ONCE = 100


async def client(url: str, deltas: int, recv: dict[int, list[float]], meta: dict[int, dict], ready: asyncio.Event,
                 connected: list[int], gate: asyncio.Semaphore, stop: asyncio.Event) -> None:
    try:
        async with gate:
            ws = await websockets.connect(url, max_size=None, ping_interval=None, open_timeout=60)
        first = json.loads(await ws.recv())  # snapshot (or replay) on connect; a refusal closes instead
        del first
    except Exception as exc:  # refused (caps: close 1013), or the server is gone: reported, never waited for
        connected[2] += 1
        connected.append(f"{type(exc).__name__}: {exc}"[:200])
        if connected[0] + connected[2] == connected[1]:
            ready.set()
        raise
    try:
        connected[0] += 1
        if connected[0] + connected[2] == connected[1]:
            ready.set()
        got = 0
        while got < deltas and not stop.is_set():
            text = await ws.recv()
            t = time.time()
            msg = json.loads(text)
            if msg.get("type") not in ("delta", "snapshot"):
                continue
            seq = int(msg["seq"])
            recv[seq].append(t)
            if seq not in meta:
                meta[seq] = {"pushed_at": msg.get("pushed_at"), "latency": (msg.get("body") or {}).get("latency")}
            got += 1
    finally:
        await ws.close()


async def main_async(url: str, n: int, deltas: int, limit_s: float) -> dict:
    recv: dict[int, list[float]] = defaultdict(list)
    meta: dict[int, dict] = {}
    ready, stop = asyncio.Event(), asyncio.Event()
    connected: list = [0, n, 0]  # connected, wanted, failed (then the first failures' text)
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    tasks = [asyncio.create_task(client(url, deltas, recv, meta, ready, connected, gate, stop)) for _ in range(n)]

    async def announce() -> None:
        await ready.wait()
        if connected[2]:
            print(f"failed {connected[2]} of {n} clients: {connected[3]}", flush=True)
        else:
            print(f"ready {connected[0]}", flush=True)

    loop = asyncio.get_running_loop()

    def on_stop_line() -> None:
        stop.set()
        for t in tasks:
            t.cancel()

    def watch_stdin() -> None:
        # a daemon thread, not the loop's executor: asyncio.run would wait for a blocked readline at exit
        line = sys.stdin.readline()
        if line.strip() == "stop" or not line:
            loop.call_soon_threadsafe(on_stop_line)

    threading.Thread(target=watch_stdin, name="stdin-stop", daemon=True).start()
    helpers = [asyncio.create_task(announce())]
    done, pending = await asyncio.wait(tasks, timeout=limit_s)
    for t in pending:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    errors = sum(1 for t in tasks if t.done() and not t.cancelled() and t.exception() is not None)
    for h in helpers:
        h.cancel()
    return {"seq": {str(k): v for k, v in recv.items()}, "meta": {str(k): v for k, v in meta.items()},
            "connected": connected[0], "errors": errors}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--deltas", type=int, required=True)
    p.add_argument("--limit-s", type=float, default=300.0)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.clients + 256)), hard))
    result = asyncio.run(main_async(a.url, a.clients, a.deltas, a.limit_s))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reference subscriber: a bare aiomqtt client counting messages (no parsing, no database).

Run as a child process (``python -m bench.broker_sink --root R --expect N``) so it
has its own interpreter, like the ingest service it is compared with. Prints
``ready`` once subscribed, then one JSON line ``{"messages", "first_at", "last_at"}``
(wall-clock epoch seconds) when ``--expect`` messages arrived or nothing came
for ``--idle-s`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid

import aiomqtt


async def sink(host: str, port: int, topic: str, expect: int, idle_s: float, limit_s: float) -> dict[str, float]:
    count, first_at, last_at = 0, 0.0, 0.0
    async with aiomqtt.Client(host, port, identifier=f"bench-sink-{uuid.uuid4().hex[:8]}",
                              protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.subscribe(topic, qos=1)
        print("ready", flush=True)
        deadline = time.monotonic() + limit_s
        messages = client.messages.__aiter__()
        while count < expect and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(messages.__anext__(), idle_s if count else limit_s)
            except TimeoutError:
                break
            now = time.time()
            if count == 0:
                first_at = now
            last_at = now
            count += 1
    return {"messages": count, "first_at": first_at, "last_at": last_at}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--root", required=True)
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--idle-s", type=float, default=10.0)
    p.add_argument("--limit-s", type=float, default=300.0)
    a = p.parse_args()
    result = asyncio.run(sink(a.host, a.port, f"{a.root}/v1/obs/#", a.expect, a.idle_s, a.limit_s))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Closed-loop HTTP load generator (child process): ``concurrency`` workers share ``requests`` GETs.

``python -m bench.http_load --base URL --points FILE --requests N --concurrency C``
reads ``lat lon`` lines, requests ``/api/v1/risk?lat=..&lon=..`` cycling over
them, and prints one JSON line: elapsed seconds, status counts, latencies (s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter

import httpx


async def load(base: str, points: list[tuple[float, float]], requests: int, concurrency: int,
               limit_s: float) -> dict:
    latencies: list[float] = []
    status: Counter[str] = Counter()
    next_index = 0
    deadline = time.monotonic() + limit_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10.0) as client:

        async def worker() -> None:
            nonlocal next_index
            while next_index < requests and time.monotonic() < deadline:
                lat, lon = points[next_index % len(points)]
                next_index += 1
                t0 = time.perf_counter()
                try:
                    r = await client.get("/api/v1/risk", params={"lat": f"{lat:.5f}", "lon": f"{lon:.5f}"})
                    status[str(r.status_code)] += 1
                except httpx.HTTPError as exc:
                    status[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - t0)

        t0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"elapsed_s": elapsed, "client_cpu_s": cpu, "status": dict(status), "latencies_s": latencies}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--points", required=True)
    p.add_argument("--requests", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--limit-s", type=float, default=120.0)
    a = p.parse_args()
    with open(a.points, encoding="utf-8") as f:
        points = [(float(x), float(y)) for x, y in (line.split() for line in f if line.strip())]
    print(json.dumps(asyncio.run(load(a.base, points, a.requests, a.concurrency, a.limit_s))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

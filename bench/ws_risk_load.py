"""/ws/risk under load: do many resident websockets and frequent state changes starve /healthz and
/api/v1/risk? (issue 14 item 6; numbers in docs/performance.md.)

    python -m bench.ws_risk_load --clients 600 --rate 5 --seconds 15 [--api-pythonpath OLD_TREE]

``haixun api`` runs as a child process (``--api-pythonpath``: another checkout's tree, for a before/after
comparison) on a scratch database with the packaged Pinghu geography; the /ws/risk clients run in a second
child process, each at its own location (distinct ~11 m cells) inside the served area; this process plays
the engine (``--rate`` deltas a second, every segment's level changing) and times sequential GET /healthz
and GET /api/v1/risk. Short runs only: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from psycopg.types.json import Jsonb

from bench.common import REPO, pct, scratch_database
from bench.seed import load_geography
from bench.services import ServiceConfig, free_port

LEVELS = ("none", "blue", "yellow", "orange", "red")


def served_points(n: int, seed: int = 7) -> list[tuple[float, float]]:
    from haixun.api.geo import ServedGeography
    from haixun.data.geography import load_geography as load_geo

    served = ServedGeography.build(load_geo())
    minx, miny, maxx, maxy = served.geo.land_boundary.geometry.bounds
    rng = random.Random(seed)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if served.in_served_area(lon, lat):
            out.append((round(lat, 5), round(lon, 5)))
    return out


async def _clients(url: str, points: list[tuple[float, float]], seconds: float) -> None:
    import websockets

    received = 0

    async def one(lat: float, lon: float) -> None:
        nonlocal received
        try:
            async with websockets.connect(f"{url}/ws/risk?lat={lat}&lon={lon}", open_timeout=60,
                                          ping_interval=None, max_size=None) as ws:
                async for _ in ws:
                    received += 1
        except Exception:  # noqa: BLE001 - counted by the parent as connected clients
            pass

    tasks = [asyncio.create_task(one(lat, lon)) for lat, lon in points]
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    print(json.dumps({"received": received}), flush=True)
    for t in tasks:
        t.cancel()


def engine_writer(url: str, segment_ids: list[str], rate: float, stop: threading.Event,
                  per_state: int = 0) -> int:
    """``per_state``: segments changed by each delta (0: every segment, the worst case)."""
    n = 0
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            at = datetime.now(UTC)
            iso = at.isoformat().replace("+00:00", "Z")
            segs = {sid: {"level": LEVELS[(n + k) % 5], "raw_level": LEVELS[(n + k) % 5], "since": iso,
                          "decided_at": iso, "hazards": []} for k, sid in enumerate(segment_ids)
                    if not per_state or (k - n * per_state) % len(segment_ids) < per_state}
            with conn.transaction():
                seq = conn.execute("INSERT INTO state_log (kind, body) VALUES ('delta', %s) RETURNING seq",
                                   (Jsonb({"segments": segs}),)).fetchone()[0]
                conn.execute("SELECT pg_notify('haixun_state', %s)", (str(seq),))
            n += 1
            stop.wait(1.0 / rate)
    return n


def timed(client: httpx.Client, path: str, params: dict | None = None) -> float:
    t0 = time.perf_counter()
    try:
        client.get(path, params=params, timeout=60)
    except httpx.HTTPError:
        return 60.0
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=600)
    ap.add_argument("--rate", type=float, default=5.0, help="state changes per second")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--segments-per-state", type=int, default=0, help="segments changed per delta (0: all)")
    ap.add_argument("--api-pythonpath", default=str(REPO))
    ap.add_argument("--client-mode", nargs=2, metavar=("URL", "POINTS_JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.client_mode:
        asyncio.run(_clients(args.client_mode[0], [tuple(p) for p in json.loads(args.client_mode[1])],
                             args.seconds + 30))
        return 0
    from haixun.data.geography import load_geography as load_geo

    segment_ids = [s.id for s in load_geo().segments]
    points = served_points(args.clients)
    with scratch_database("haixun_wsrisk") as url, tempfile.TemporaryDirectory() as tmp:
        load_geography(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO state_log (kind, body) VALUES ('snapshot', %s)", (Jsonb({"segments": {}}),))
        port = free_port()
        cfg = ServiceConfig(database_url=url, topic_root=f"b{uuid.uuid4().hex[:8]}", state_dir=Path(tmp))
        # the API's own caps would refuse 600 clients from one address: raise them for the bench
        # cwd = the tree under test (python -m puts it first on sys.path)
        api = subprocess.Popen([sys.executable, "-m", "haixun.cli", "--log-level", "WARNING", "api", "--port",
                                str(port)], cwd=args.api_pythonpath,
                               env=cfg.env(PYTHONPATH=args.api_pythonpath,
                                           HAIXUN_WS_MAX_PER_ADDRESS=str(10 * args.clients)))
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        clients = subprocess.Popen([sys.executable, "-m", "bench.ws_risk_load", "--seconds", str(args.seconds),
                                    "--client-mode", f"ws://127.0.0.1:{port}", json.dumps(points)],
                                   cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            assert clients.stdout is not None
            clients.stdout.readline()  # ready
            with httpx.Client(base_url=base) as c:
                for _ in range(100):  # until the clients are connected
                    m = c.get("/metrics", timeout=60).text
                    n = sum(float(line.rsplit(" ", 1)[1]) for line in m.splitlines()
                            if line.startswith('haixun_ws_clients{channel="risk"}'))
                    if n >= args.clients * 0.98:
                        break
                    time.sleep(0.2)
                idle = [timed(c, "/healthz") for _ in range(40)]
                stop = threading.Event()
                writes: list[int] = []
                w = threading.Thread(target=lambda: writes.append(engine_writer(url, segment_ids, args.rate, stop,
                                                                           args.segments_per_state)))
                w.start()
                health: list[float] = []
                risk: list[float] = []
                t_end = time.monotonic() + args.seconds
                k = 0
                while time.monotonic() < t_end:
                    health.append(timed(c, "/healthz"))
                    lat, lon = points[k % len(points)]
                    risk.append(timed(c, "/api/v1/risk", {"lat": lat + 0.0003, "lon": lon}))
                    k += 1
                    time.sleep(0.02)
                stop.set()
                w.join()
                m = c.get("/metrics", timeout=60).text
            out = clients.communicate(timeout=60)[0].strip().splitlines()
        finally:
            if clients.poll() is None:
                clients.kill()
            api.terminate()
            api.wait(20)
    cache = {r: sum(float(line.rsplit(" ", 1)[1]) for line in m.splitlines()
                    if line.startswith("haixun_risk_cache_total") and f'result="{r}"' in line) for r in ("hit", "miss")}
    for name in ("haixun_ws_risk_passes_total", "haixun_ws_risk_cells_total"):
        cache[name] = sum(float(line.rsplit(" ", 1)[1]) for line in m.splitlines() if line.startswith(name + " "))
    print(json.dumps({"clients": args.clients, "segments_per_state": args.segments_per_state or "all", "connected": n, "rate_per_s": args.rate, "seconds": args.seconds,
                      "states_written": writes[0] if writes else 0,
                      "healthz_idle_ms": {"p50": round(pct(idle, 50) * 1000, 1), "p99": round(pct(idle, 99) * 1000, 1)},
                      "healthz_ms": {"n": len(health), "p50": round(pct(health, 50) * 1000, 1),
                                     "p99": round(pct(health, 99) * 1000, 1), "max": round(max(health) * 1000, 1)},
                      "risk_ms": {"n": len(risk), "p50": round(pct(risk, 50) * 1000, 1),
                                  "p99": round(pct(risk, 99) * 1000, 1)},
                      "risk_cache": cache, "client_messages": json.loads(out[-1]) if out else None}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

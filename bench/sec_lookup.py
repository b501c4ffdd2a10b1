"""Section 3: resident lookup GET /api/v1/risk: req/s, latency and the API's CPU per request, uncached vs cached.

``haixun api`` (child process, uvicorn, access log off) on a scratch database
with the Pinghu geography and the engine's first state; the load generator is
wrk (a C program, scripts/install-bench-tools), so the rate is the server's and
not a Python client's ceiling (478 req/s at 100 % client CPU before).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench import wrk_load
from bench.common import (
    REPO,
    BenchContext,
    ComponentUnavailable,
    Section,
    ms,
    rate,
    require,
    scratch_database,
    verdict,
)
from bench.seed import load_geography
from bench.services import ServiceConfig, free_port, start_api, start_engine

TITLE = "3. Resident lookup GET /api/v1/risk"
TARGET_RPS = 3000.0
TARGET_P99_S = 0.020
CACHED_POINTS = 50
WRK_DISTINCT = 30_000  # more than the API's LRU (20,000 entries): a cycle through them never hits


def served_points(n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` distinct random points inside the served area (distinct after rounding to 4 decimals)."""
    from shapely.geometry import Point

    from haixun.data.geography import load_geography as load_geo

    poly = load_geo().land_boundary.geometry
    x0, y0, x1, y1 = poly.bounds
    rng = random.Random(seed)
    seen: set[tuple[float, float]] = set()
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lon, lat = round(rng.uniform(x0, x1), 4), round(rng.uniform(y0, y1), 4)
        if (lat, lon) not in seen and poly.contains(Point(lon, lat)):
            seen.add((lat, lon))
            out.append((lat, lon))
    return out


def wait_state_row(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT EXISTS (SELECT 1 FROM state_log)").fetchone()[0]:
                return True
            time.sleep(0.2)
    return False


def http_load(base: str, points: list[tuple[float, float]], requests: int, concurrency: int, workdir: Path,
              limit_s: float) -> dict:
    path = workdir / f"points-{uuid.uuid4().hex[:6]}.txt"
    path.write_text("".join(f"{lat} {lon}\n" for lat, lon in points), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "bench.http_load", "--base", base, "--points", str(path),
                          "--requests", str(requests), "--concurrency", str(concurrency), "--limit-s", str(limit_s)],
                         cwd=REPO, capture_output=True, text=True, timeout=limit_s + 60)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cache_counts(base: str) -> dict[str, float]:
    """The API's risk cache counters (Prometheus text of /metrics): {"hit": n, "miss": n}."""
    import re

    import httpx

    text = httpx.get(f"{base}/metrics", timeout=5.0).text
    out = {"hit": 0.0, "miss": 0.0}
    for m in re.finditer(r'^haixun_risk_cache_total\{result="(hit|miss)"\} ([0-9.e+]+)$', text, re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children (the API's own cost, whatever the load)."""
    import psutil

    proc = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [proc, *proc.children(recursive=True)])


def run(ctx: BenchContext) -> Section:
    require("haixun.api.app", "api (FastAPI app)")
    if not wrk_load.available():
        raise ComponentUnavailable("wrk is not installed (scripts/install-bench-tools)")
    sizes = ctx.sizes
    sec = Section("lookup", TITLE, ["mode", "requests", "connections", "req/s", "p50 ms", "p95 ms", "p99 ms",
                                    "non-200", "cache hits", "API CPU us/request", "load avg (1 min)",
                                    "target >= 3k req/s, p99 <= 20 ms"])
    with scratch_database() as url, tempfile.TemporaryDirectory(prefix="haixun-bench-") as tmp:
        load_geography(url)
        cfg = ServiceConfig(url, f"bench{uuid.uuid4().hex[:10]}", Path(tmp) / "svc")
        engine = start_engine(cfg)
        try:
            have_state = wait_state_row(url, 60)
            port = free_port()
            api = start_api(cfg, port)
            try:
                base = f"http://127.0.0.1:{port}"
                repeated = served_points(CACHED_POINTS, seed=4)
                many = served_points(WRK_DISTINCT, seed=5)
                seconds = max(5.0, sizes.lookup_requests / 3000)
                wrk_load.wrk_load(base, repeated, 2, 8, Path(tmp))  # warm-up: imports, the cached points
                for mode, pts in ((f"uncached: {WRK_DISTINCT:,} distinct points", many),
                                  (f"cached: {CACHED_POINTS} points repeated", repeated)):
                    before, cpu0, load0 = cache_counts(base), process_cpu_s(api.pid), os.getloadavg()[0]
                    w = wrk_load.wrk_load(base, pts, seconds, sizes.lookup_concurrency, Path(tmp))
                    after, cpu1, load1 = cache_counts(base), process_cpu_s(api.pid), os.getloadavg()[0]
                    api.check_alive()
                    hits = after["hit"] - before["hit"]
                    lookups = hits + after["miss"] - before["miss"]
                    rps = w["requests"] / (w["duration_us"] / 1e6)
                    p99 = w["p99_us"] / 1e6
                    cpu_us = (cpu1 - cpu0) / max(1, w["requests"]) * 1e6
                    sec.rows.append([mode, f"{w['requests']:,}", str(sizes.lookup_concurrency), rate(rps),
                                     ms(w["p50_us"] / 1e6), ms(w["p95_us"] / 1e6), ms(p99),
                                     str(w["non2xx"] + w["errors"]),
                                     f"{100 * hits / lookups:.0f}%" if lookups else "-", f"{cpu_us:.0f}",
                                     f"{load0:.1f} / {load1:.1f}", verdict(rps >= TARGET_RPS and p99 <= TARGET_P99_S)])
                    sec.raw[mode.split(":")[0]] = {"rps": rps, "api_cpu_us_per_request": cpu_us,
                                                   "loadavg": [load0, load1], **w}
            finally:
                api.stop()
        finally:
            engine.stop()
    if not have_state:
        sec.notes.append("The engine wrote no state within 60 s: codes were computed on an empty state.")
    sec.notes.append(f"Load generator: wrk (C, one thread, {sizes.lookup_concurrency} connections, "
                     f"{max(5.0, sizes.lookup_requests / 3000):.0f} s per row) on the same 2 cores as the API "
                     "(one uvicorn process) and the engine.")
    sec.notes.append("API CPU us/request: the API process's user + system CPU time over the row / requests "
                     "answered. It depends little on what else runs; 1e6 / it is the rate one free core "
                     "could answer. req/s and latency depend on the machine's load (load avg at the row's "
                     "start / end).")
    sec.notes.append("Cache hits from the API's own counters (haixun_risk_cache_total) around each run; the cache "
                     "key includes the state seq, so a new engine state empties it. Uncached: a cycle through "
                     f"{WRK_DISTINCT:,} distinct points (rounded to 4 decimals, the cache key), more than the "
                     "LRU holds, so none hits.")
    return sec

"""Section 6: the store in both readings modes, side by side: TimescaleDB hypertable vs partitioned table.

For each size (1M and 10M rows full, 100k/300k smoke) and each mode, one fresh
database: 30 days of readings, 2 quantities per station at about 10 s spacing
(the number of stations follows from the size), filled server-side (INSERT .. SELECT generate_series, which also runs
the partitioned mode's rollup trigger). Then:

* ingest rate: ingest's own writer (``store_batch``, COPY + INSERT .. ON
  CONFLICT + latest_readings + rollups) storing new readings in 5,000-reading
  batches into the filled table;
* bytes per reading: the whole readings table with indexes (partitions; or
  ``hypertable_size``, which counts compressed chunks too), before and after
  compressing every chunk but the newest two days (timescale);
* query times of the store's functions (haixun/store/readings.py) as the API
  calls them: 24 h / 7 d / 30 d rollups from the rollups (continuous
  aggregates after a refresh / trigger-maintained tables) and from raw
  readings (time_bucket / date_bin), the 24 h raw window, latest values.

Both modes run on the same private PostgreSQL 15 server (shared/timescaledb
start.sh, fsync off) so that only the storage differs. Without that build only
the partitioned mode is measured, on the bench server, and the report says so.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from bench.common import PG_SERVER, REPO, BenchContext, Section, ms, pct
from haixun.store.migrate import migrate

TITLE = "6. Store: TimescaleDB hypertable vs partitioned table"
QUANTITIES = ("tide_level", "wind_speed")
SPAN = timedelta(days=30)
TARGET_STEP_S = 10  # a reading per series every ~10 s: the station count follows from the size


def stations_for(rows: int) -> int:
    """Stations (x 2 quantities) that fill 30 days at ~10 s spacing with ``rows`` readings (at least 1)."""
    return max(1, round(rows / (SPAN.total_seconds() / TARGET_STEP_S) / len(QUANTITIES)))
INGEST_BATCH = 5_000

FILL = """
INSERT INTO readings (station_id, quantity, ts, value, qc, received_at)
SELECT 'S' || lpad(s::text, 3, '0'), q, %(now)s - make_interval(secs => k * %(step)s),
       2.0 + sin(k / 100.0) + s / 1000.0, 1, %(now)s - make_interval(secs => k * %(step)s)
FROM generate_series(%(k0)s, %(k1)s - 1) AS k, generate_series(0, %(stations)s - 1) AS s,
     unnest(%(quantities)s::text[]) AS q
"""
LATEST_FROM_READINGS = """
INSERT INTO latest_readings (station_id, quantity, ts, value, qc, received_at)
SELECT DISTINCT ON (station_id, quantity) station_id, quantity, ts, value, qc, received_at
FROM readings WHERE ts > %(now)s - interval '1 day' ORDER BY station_id, quantity, ts DESC
ON CONFLICT (station_id, quantity) DO UPDATE SET ts = EXCLUDED.ts, value = EXCLUDED.value
"""


def timescale_build() -> Path | None:
    env = os.environ.get("HAIXUN_TIMESCALE_DIR")
    for c in ([Path(env)] if env else [p / "shared" / "timescaledb" for p in list(REPO.parents)[:3]]):
        if (c / "start.sh").is_file():
            return c
    return None


@contextmanager
def timescale_server() -> Iterator[tuple[str | None, str]]:
    """(server URL or None, description): HAIXUN_BENCH_TIMESCALE_PG, else a private one from start.sh."""
    given = os.environ.get("HAIXUN_BENCH_TIMESCALE_PG")
    if given:
        yield given.rstrip("/"), f"external ({given}, HAIXUN_BENCH_TIMESCALE_PG)"
        return
    build = timescale_build()
    if build is None:
        yield None, "no TimescaleDB build (shared/timescaledb/start.sh, HAIXUN_TIMESCALE_DIR)"
        return
    folder = tempfile.mkdtemp(prefix="haixun-bench-tsdb-")
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = subprocess.run(["bash", str(build / "start.sh"), str(port), folder], capture_output=True, text=True,
                         timeout=300, check=True)
    url = out.stdout.strip().splitlines()[-1]
    try:
        yield url, f"private PostgreSQL 15 + TimescaleDB from {build}/start.sh (fsync off), {url}"
    finally:
        subprocess.run(["bash", str(build / "stop.sh"), folder], capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", folder], check=False)


@contextmanager
def scratch(server: str, mode: str) -> Iterator[str]:
    url = f"{server}/haixun_bench_{mode[:2]}_{uuid.uuid4().hex[:6]}"
    got = migrate(url, mode=mode, retention_days=0)
    assert got == mode, (got, mode)
    if mode == "timescale":  # the bench runs refresh and compression itself, when it measures them
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs"
                         " WHERE job_id >= 1000")
    try:
        yield url
    finally:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def readings_bytes(conn: psycopg.Connection, mode: str) -> int:
    if mode == "timescale":  # includes the compressed chunks (and their indexes and TOAST)
        return int(conn.execute("SELECT hypertable_size('readings')").fetchone()[0])
    return int(conn.execute(
        "SELECT pg_total_relation_size('readings'::regclass) + coalesce((SELECT sum(pg_total_relation_size(inhrelid))"
        " FROM pg_inherits WHERE inhparent = 'readings'::regclass), 0)").fetchone()[0])


def rollup_bytes(conn: psycopg.Connection, mode: str) -> int:
    if mode == "timescale":
        return int(conn.execute(
            "SELECT sum(hypertable_size(format('%I.%I', materialization_hypertable_schema,"
            " materialization_hypertable_name)::regclass)) FROM timescaledb_information.continuous_aggregates"
        ).fetchone()[0] or 0)
    return int(conn.execute("SELECT pg_total_relation_size('readings_1m') + pg_total_relation_size('readings_1h')"
                            ).fetchone()[0])


def fill(conn: psycopg.Connection, now: datetime, rows: int, mode: str, stations: int) -> float:
    per_step = stations * len(QUANTITIES)
    steps = rows // per_step
    step_s = SPAN.total_seconds() / steps
    if mode == "partitioned":
        day = (now - SPAN).date()
        while day <= (now + timedelta(days=2)).date():
            conn.execute("SELECT haixun_ensure_readings_partition(%s::date)", (day,))
            day += timedelta(days=1)
    chunk = max(1, 500_000 // per_step)
    for k0 in range(0, steps, chunk):
        conn.execute(FILL, {"now": now, "step": step_s, "k0": k0, "k1": min(steps, k0 + chunk),
                            "stations": stations, "quantities": list(QUANTITIES)})
    conn.execute(LATEST_FROM_READINGS, {"now": now})
    conn.execute("ANALYZE readings")
    return step_s


def ingest_rate(url: str, mode: str, now: datetime, n: int, stations: int) -> float:
    """Readings/s stored by ingest's writer (store_batch) in 5,000-reading batches, ahead of the filled data."""
    from haixun.ingest.pipeline import Processed
    from haixun.store.batches import store_batch
    from haixun.store.rows import ReadingRow

    per = stations * len(QUANTITIES)
    rows = [ReadingRow(f"S{s:03d}", q, now + timedelta(seconds=1 + k), 2.0 + k / 1e4, 1, now + timedelta(seconds=1 + k))
            for k in range(n // per) for s in range(stations) for q in QUANTITIES]

    async def go() -> float:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            days: set = set()
            t0 = time.perf_counter()
            for i in range(0, len(rows), INGEST_BATCH):
                await store_batch(conn, Processed(readings=rows[i:i + INGEST_BATCH]),
                                  partitioned=mode == "partitioned", days_seen=days)
            return len(rows) / (time.perf_counter() - t0)

    return asyncio.run(go())


def time_queries(url: str, now: datetime, repeats: int, stations: int) -> dict[str, list[float]]:
    from haixun.store import readings as store

    end = now + timedelta(seconds=1)
    calls = {
        "store.latest (all stations)": lambda c, m, s, q: store.latest(c),
        "store.window (24 h raw, one series)": lambda c, m, s, q: store.window(c, s, q, end - timedelta(hours=24), end),
        "store.rollup 1 min over 24 h": lambda c, m, s, q: store.rollup(c, s, q, end - timedelta(hours=24), end,
                                                                          "1 minute", mode=m),
    }
    for label, span in (("24 h", timedelta(hours=24)), ("7 d", timedelta(days=7)), ("30 d", timedelta(days=30))):
        calls[f"store.rollup 1 h over {label}"] = (
            lambda c, m, s, q, span=span: store.rollup(c, s, q, end - span, end, "1 hour", mode=m))
        calls[f"rollup_raw 1 h over {label} (time_bucket / date_bin on raw)"] = (
            lambda c, m, s, q, span=span: store.rollup_raw(c, s, q, end - span, end, "1 hour", mode=m))

    async def go() -> dict[str, list[float]]:
        rng = random.Random(7)
        out: dict[str, list[float]] = {}
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            mode = await store.readings_mode(conn)
            for name, call in calls.items():
                times = []
                for i in range(repeats + 2):
                    s, q = f"S{rng.randrange(stations):03d}", rng.choice(QUANTITIES)
                    t0 = time.perf_counter()
                    await call(conn, mode, s, q)
                    if i >= 2:  # the first two warm the plan cache and buffers
                        times.append(time.perf_counter() - t0)
                out[name] = times
        return out

    return asyncio.run(go())


def refresh_aggregates(conn: psycopg.Connection, now: datetime) -> float:
    t0 = time.perf_counter()
    for view in ("readings_1m", "readings_1h"):
        conn.execute("CALL refresh_continuous_aggregate(%s, NULL, %s)", (view, now - timedelta(hours=1)))
    return time.perf_counter() - t0


def compress_old(conn: psycopg.Connection, now: datetime) -> tuple[float, int]:
    t0 = time.perf_counter()
    chunks = [r[0] for r in conn.execute("SELECT show_chunks('readings', older_than => %s::timestamptz)",
                                         (now - timedelta(days=2),))]
    for c in chunks:
        conn.execute("SELECT compress_chunk(%s::regclass, if_not_compressed => true)", (c,))
    conn.execute("ANALYZE readings")
    return time.perf_counter() - t0, len(chunks)


def measure(url: str, mode: str, n: int, now: datetime, repeats: int, ingest_n: int) -> dict:
    r: dict = {"queries": {}, "stations": stations_for(n)}
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        r["step_s"] = fill(conn, now, n, mode, r["stations"])
        r["fill_s"] = time.perf_counter() - t0
    r["ingest_per_s"] = ingest_rate(url, mode, now, ingest_n, r["stations"])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE readings")
        r["rows"] = int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])
        r["bytes"] = readings_bytes(conn, mode)
        if mode == "timescale":
            r["refresh_s"] = refresh_aggregates(conn, now)
        r["rollup_bytes"] = rollup_bytes(conn, mode)
    r["queries"]["plain"] = time_queries(url, now, repeats, r["stations"])
    if mode == "timescale":
        with psycopg.connect(url, autocommit=True) as conn:
            r["compress_s"], r["compressed_chunks"] = compress_old(conn, now)
            r["bytes_compressed"] = readings_bytes(conn, mode)
            stats = conn.execute("SELECT sum(after_compression_total_bytes) FROM chunk_compression_stats('readings')"
                                 ).fetchone()[0]
            r["compressed_chunk_bytes"] = int(stats or 0)
            assert r["bytes_compressed"] >= r["compressed_chunk_bytes"], "size metric misses compressed chunks"
        r["queries"]["compressed"] = time_queries(url, now, repeats, r["stations"])
    return r


def run(ctx: BenchContext) -> Section:
    sizes = ctx.sizes
    now = datetime.now(UTC).replace(microsecond=0)
    ingest_n = 40_000 if sizes.name == "smoke" else 200_000
    results: dict[tuple[str, int], dict] = {}
    with timescale_server() as (ts_url, ts_note):
        modes = ["timescale", "partitioned"] if ts_url else ["partitioned"]
        server = {"timescale": ts_url, "partitioned": ts_url or PG_SERVER}
        for n in sizes.store_rows:
            for mode in modes:
                with scratch(server[mode], mode) as url:
                    results[(mode, n)] = measure(url, mode, n, now, sizes.store_query_repeats, ingest_n)
    cols = [(m, n) for n in sizes.store_rows for m in modes]
    headers = ["measure"] + [f"{m} {n:,} rows" for m, n in cols]
    sec = Section("store", TITLE, headers)

    def row(label: str, f) -> None:
        sec.rows.append([label] + [f(results[c], c[0]) for c in cols])

    row("fill (INSERT .. SELECT, server-side) s", lambda r, m: f"{r['fill_s']:.1f}")
    row(f"ingest rate, ingest's writer, {INGEST_BATCH:,}-reading batches (readings/s)",
        lambda r, m: f"{r['ingest_per_s']:,.0f}")
    row("bytes per reading, uncompressed (table + indexes)",
        lambda r, m: f"{r['bytes'] / r['rows']:.0f} B ({r['bytes'] / 1e6:.0f} MB)")
    row("bytes per reading, chunks older than 2 days compressed",
        lambda r, m: (f"{r['bytes_compressed'] / r['rows']:.1f} B ({r['bytes_compressed'] / 1e6:.1f} MB, "
                      f"{r['compressed_chunks']} chunks)") if m == "timescale" else "n/a (no compression)")
    row("rollups readings_1m + readings_1h on disk",
        lambda r, m: f"{r['rollup_bytes'] / 1e6:.1f} MB")
    row("continuous aggregate refresh (all history) s",
        lambda r, m: f"{r['refresh_s']:.1f}" if m == "timescale" else "n/a (trigger, in the fill)")
    names = list(results[cols[0]]["queries"]["plain"])
    for name in names:
        row(f"{name}: p50 / p95 ms", lambda r, m, name=name:
            f"{ms(pct(r['queries']['plain'][name], 50))} / {ms(pct(r['queries']['plain'][name], 95))}")
    if "timescale" in modes:
        for name in names:
            row(f"{name}, compressed: p50 / p95 ms", lambda r, m, name=name:
                (f"{ms(pct(r['queries']['compressed'][name], 50))} / {ms(pct(r['queries']['compressed'][name], 95))}"
                 if m == "timescale" else "-"))
    sec.raw.update({f"{m} {n}": {k: v for k, v in r.items()} for (m, n), r in results.items()})
    sec.notes.append(f"Server: {ts_note}." + ("" if ts_url else " Only the partitioned mode was measured, on "
                                                                 f"{PG_SERVER}: TimescaleDB was not available."))
    sec.notes.append("Data: the last 30 days of readings, 2 quantities per station, about one reading per 10 s "
                     "per series, so the size sets the number of stations: " + ", ".join(
                         f"{results[(modes[0], n)]['stations']} stations, one reading per "
                         f"{results[(modes[0], n)]['step_s']:.1f} s at {n:,} rows" for n in sizes.store_rows)
                     + ". Queries pick one series at random. Ingest rate: "
                     f"{ingest_n:,} new readings through `store_batch` into the filled table (partitioned: includes "
                     "the rollup trigger; timescale: the continuous aggregates' invalidation log).")
    sec.notes.append("Bytes: partitioned = readings and all partitions with indexes; timescale = "
                     "`hypertable_size('readings')`, which includes compressed chunks (checked against "
                     "`chunk_compression_stats`). Rollup queries read readings_1m / readings_1h (timescale: "
                     "materialised by one `refresh_continuous_aggregate` over all history before the queries, newest "
                     "hour real-time); `rollup_raw` aggregates raw readings with time_bucket / date_bin. The TimescaleDB "
                     "jobs (refresh, compression, retention) were unscheduled in the bench databases: the bench runs "
                     "refresh and compression itself, timed.")
    sec.notes.append("The machine is shared with other work (2 cores): absolute times vary between runs; the two "
                     "modes were measured one after the other in the same run.")
    return sec

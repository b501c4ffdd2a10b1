"""Section 6: store growth: latest-value and 24 h window query times as readings grow; bytes per reading.

The table is filled server-side (INSERT .. SELECT generate_series) with 100
stations x 2 quantities at 10 s spacing, going back in time from now, so that
each size step adds older history behind the same recent 24 h. Queries are the
SQL of the store's access paths (primary key (station_id, quantity, ts)).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import BenchContext, Section, ms, pct, scratch_database

TITLE = "6. Store growth (readings table)"
STATIONS = 100
QUANTITIES = ("tide_level", "wind_speed")
STEP_S = 10

QUERIES = {
    "latest value (one station, one quantity)":
        "SELECT ts, value FROM readings WHERE station_id = %(s)s AND quantity = %(q)s ORDER BY ts DESC LIMIT 1",
    "latest values (one station, all quantities)":
        "SELECT DISTINCT ON (quantity) quantity, ts, value FROM readings WHERE station_id = %(s)s "
        "AND ts > %(now)s - interval '1 hour' ORDER BY quantity, ts DESC",
    "24 h window (one station, one quantity, raw)":
        "SELECT ts, value, qc FROM readings WHERE station_id = %(s)s AND quantity = %(q)s "
        "AND ts > %(now)s - interval '24 hours' ORDER BY ts",
    "24 h hourly rollup (one station, one quantity)":
        "SELECT date_trunc('hour', ts) AS h, avg(value), min(value), max(value), count(*) FROM readings "
        "WHERE station_id = %(s)s AND quantity = %(q)s AND ts > %(now)s - interval '24 hours' GROUP BY h ORDER BY h",
}

FILL = """
INSERT INTO readings (station_id, quantity, ts, value, qc, received_at)
SELECT 'S' || lpad(s::text, 3, '0'), q, %(now)s - make_interval(secs => k * %(step)s),
       2.0 + sin(k / 100.0), 1, %(now)s - make_interval(secs => k * %(step)s)
FROM generate_series(%(k0)s, %(k1)s - 1) AS k, generate_series(0, %(stations)s - 1) AS s,
     unnest(%(quantities)s::text[]) AS q
"""


def readings_bytes(conn: psycopg.Connection) -> int:
    return int(conn.execute(
        "SELECT pg_total_relation_size('readings'::regclass) + coalesce((SELECT sum(pg_total_relation_size(inhrelid))"
        " FROM pg_inherits WHERE inhparent = 'readings'::regclass), 0)").fetchone()[0])


def fill_to(conn: psycopg.Connection, now: datetime, k_from: int, rows: int) -> int:
    """Add history until ``rows`` readings; returns the new k (steps back in time)."""
    per_step = STATIONS * len(QUANTITIES)
    k_to = rows // per_step
    oldest = now - timedelta(seconds=k_to * STEP_S)
    day = oldest.date()
    while day <= (now + timedelta(days=1)).date():
        conn.execute("SELECT haixun_ensure_readings_partition(%s::date)", (day,))
        day += timedelta(days=1)
    chunk = max(1, 500_000 // per_step)
    for k0 in range(k_from, k_to, chunk):
        conn.execute(FILL, {"now": now, "step": STEP_S, "k0": k0, "k1": min(k_to, k0 + chunk),
                            "stations": STATIONS, "quantities": list(QUANTITIES)})
    conn.execute("ANALYZE readings")
    return k_to


LATEST_FROM_READINGS = """
INSERT INTO latest_readings (station_id, quantity, ts, value, qc, received_at)
SELECT DISTINCT ON (station_id, quantity) station_id, quantity, ts, value, qc, received_at
FROM readings WHERE ts > %(now)s - interval '1 hour' ORDER BY station_id, quantity, ts DESC
ON CONFLICT (station_id, quantity) DO UPDATE SET ts = EXCLUDED.ts, value = EXCLUDED.value
"""


def time_queries(conn: psycopg.Connection, now: datetime, repeats: int) -> dict[str, list[float]]:
    rng = random.Random(6)
    out: dict[str, list[float]] = {}
    for name, q in QUERIES.items():
        times = []
        for i in range(repeats + 2):
            params = {"s": f"S{rng.randrange(STATIONS):03d}", "q": rng.choice(QUANTITIES), "now": now}
            t0 = time.perf_counter()
            conn.execute(q, params).fetchall()
            if i >= 2:  # the first two warm the plan cache and buffers
                times.append(time.perf_counter() - t0)
        out[name] = times
    return out


def time_store_functions(url: str, now: datetime, repeats: int) -> dict[str, list[float]]:
    """The store's own query functions (haixun/store/readings.py), as the API calls them."""
    import asyncio

    from haixun.store import readings as store

    async def go() -> dict[str, list[float]]:
        rng = random.Random(7)
        out: dict[str, list[float]] = {}
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            mode = await store.readings_mode(conn)
            calls = {
                "store.latest (all stations, latest_readings)": lambda s, q: store.latest(conn),
                "store.latest (one station)": lambda s, q: store.latest(conn, [s]),
                "store.window (24 h, one station+quantity)":
                    lambda s, q: store.window(conn, s, q, now - timedelta(hours=24), now + timedelta(seconds=1)),
                "store.rollup (24 h hourly, one station+quantity)":
                    lambda s, q: store.rollup(conn, s, q, now - timedelta(hours=24), now + timedelta(seconds=1),
                                              "1 hour", mode=mode),
            }
            for name, call in calls.items():
                times = []
                for i in range(repeats + 2):
                    s, q = f"S{rng.randrange(STATIONS):03d}", rng.choice(QUANTITIES)
                    t0 = time.perf_counter()
                    await call(s, q)
                    if i >= 2:
                        times.append(time.perf_counter() - t0)
                out[name] = times
        return out

    return asyncio.run(go())


def run(ctx: BenchContext) -> Section:
    sizes = ctx.sizes
    headers = ["query"] + [f"{n:,} rows: p50 / p95 ms" for n in sizes.store_rows]
    sec = Section("store", TITLE, headers)
    now = datetime.now(UTC).replace(microsecond=0)
    results: dict[int, dict[str, list[float]]] = {}
    try:
        import haixun.store.readings  # noqa: F401
        have_store = True
    except ImportError:
        have_store = False
    sizes_bytes: dict[int, tuple[int, int]] = {}
    fill_s: dict[int, float] = {}
    with scratch_database() as url, psycopg.connect(url, autocommit=True) as conn:
        k = 0
        for n in sizes.store_rows:
            t0 = time.perf_counter()
            k = fill_to(conn, now, k, n)
            fill_s[n] = time.perf_counter() - t0
            rows = int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])
            sizes_bytes[n] = (rows, readings_bytes(conn))
            conn.execute(LATEST_FROM_READINGS, {"now": now})
            results[n] = time_queries(conn, now, sizes.store_query_repeats)
            if have_store:
                results[n].update(time_store_functions(url, now, sizes.store_query_repeats))
    for name in results[sizes.store_rows[0]]:
        sec.rows.append([name] + [f"{ms(pct(results[n][name], 50))} / {ms(pct(results[n][name], 95))}"
                                  for n in sizes.store_rows])
    sec.rows.append(["disk bytes per reading (table + indexes)"]
                    + [f"{b / r:.0f} B ({b / 1e6:.0f} MB)" for r, b in sizes_bytes.values()])
    sec.raw.update({"rows": {n: r for n, (r, _) in sizes_bytes.items()},
                    "bytes": {n: b for n, (_, b) in sizes_bytes.items()}, "fill_s": fill_s,
                    "query_s": {n: {q: v for q, v in t.items()} for n, t in results.items()}})
    sec.notes.append(f"{STATIONS} stations x {len(QUANTITIES)} quantities, one reading per {STEP_S} s; each size "
                     "adds older history behind the same last 24 h. Plain PostgreSQL (day partitions + BRIN on ts); "
                     "TimescaleDB is not installed here, so its compression was not measured.")
    per_series = {n: min(n // (STATIONS * len(QUANTITIES)), 86_400 // STEP_S) for n in sizes.store_rows}
    sec.notes.append("Rows per series inside the 24 h window: " + ", ".join(
        f"{v:,} at {n:,} rows" for n, v in per_series.items())
        + " (the window is full at 8,640 rows; beyond that, growth adds only older history).")
    sec.notes.append("Server-side fill time (INSERT .. SELECT, not ingest): "
                     + ", ".join(f"{n:,} rows {s:.1f} s" for n, s in fill_s.items()) + ".")
    if have_store:
        sec.notes.append("`store.*` rows: the store's query functions (haixun/store/readings.py) over one async "
                         "connection, as the API uses them; latest_readings was filled from the generated rows "
                         "(ingest maintains it on every batch). The other rows are plain SQL on `readings`.")
    else:
        sec.notes.append("haixun/store/readings.py is not available: only the plain SQL rows were measured.")
    return sec

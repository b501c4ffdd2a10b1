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


def run(ctx: BenchContext) -> Section:
    sizes = ctx.sizes
    headers = ["query"] + [f"{n:,} rows: p50 / p95 ms" for n in sizes.store_rows]
    sec = Section("store", TITLE, headers)
    now = datetime.now(UTC).replace(microsecond=0)
    results: dict[int, dict[str, list[float]]] = {}
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
            results[n] = time_queries(conn, now, sizes.store_query_repeats)
    for name in QUERIES:
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
    sec.notes.append("Server-side fill time (INSERT .. SELECT, not ingest): "
                     + ", ".join(f"{n:,} rows {s:.1f} s" for n, s in fill_s.items()) + ".")
    sec.notes.append("haixun/store/readings.py (the store's own latest/window/rollup functions) had not landed "
                     "when this section was written; the SQL above follows the same primary-key access paths.")
    return sec

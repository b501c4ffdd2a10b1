"""Read queries over readings / latest_readings, the same API in both storage modes.

Every function takes an open ``psycopg.AsyncConnection`` (from a pool:
``async with pool.connection() as conn``).

Rollups (``rollup``) read ``readings_1m`` / ``readings_1h``: continuous
aggregates with real-time aggregation in timescale mode
(071_rollups_timescale.sql), trigger-maintained tables in partitioned mode
(071_rollups_partitioned.sql); same names, columns and answers. A rollup
returns every bucket that overlaps [start, end), each over its whole width.
``rollup_raw`` computes the same from raw readings (``time_bucket`` in
timescale mode, ``date_bin`` otherwise; both bin from 2000-01-03 00:00 UTC,
TimescaleDB's default origin): the reference the tests and the bench compare
against.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg

from haixun.store.rows import ReadingRow

Bucket = Literal["1 minute", "1 hour"]
BUCKETS: dict[str, timedelta] = {"1 minute": timedelta(minutes=1), "1 hour": timedelta(hours=1)}
FAIL = 4


@dataclass(frozen=True, slots=True)
class RollupRow:
    bucket: datetime
    min: float
    max: float
    avg: float
    count: int
    last: float


_ORIGIN = "timestamptz '2000-01-03 00:00:00+00'"
_BIN = {
    "partitioned": "date_bin(%(width)s::interval, {x}, " + _ORIGIN + ")",
    "timescale": "time_bucket(%(width)s::interval, {x})",
}
_ROLLUP_RAW = """
SELECT {bucket} AS b, min(value), max(value), avg(value), count(*),
       (array_agg(value ORDER BY ts DESC))[1]
FROM readings
WHERE station_id = %(s)s AND quantity = %(q)s AND ts >= {start} AND ts < %(end)s::timestamptz + %(width)s::interval
  AND {bucket} < %(end)s AND qc <> 4
GROUP BY b ORDER BY b
"""
ROLLUP_SQL = {m: _ROLLUP_RAW.format(bucket=b.format(x="ts"), start=b.format(x="%(start)s::timestamptz"))
              for m, b in _BIN.items()}
ROLLUP_TABLES: dict[str, str] = {"1 minute": "readings_1m", "1 hour": "readings_1h"}
_ROLLUP_READ = """
SELECT bucket, min, max, sum / n, n, last FROM {table}
WHERE station_id = %(s)s AND quantity = %(q)s AND bucket >= {start} AND bucket < %(end)s
ORDER BY bucket
"""
ROLLUP_READ_SQL = {(m, w): _ROLLUP_READ.format(table=t, start=b.format(x="%(start)s::timestamptz"))
                   for m, b in _BIN.items() for w, t in ROLLUP_TABLES.items()}


async def stored_mode(conn: psycopg.AsyncConnection) -> str | None:
    """The storage mode of readings (``timescale`` / ``partitioned``), None before the first migrate."""
    cur = await conn.execute("SELECT value FROM store_info WHERE key = 'readings_mode'")
    row = await cur.fetchone()
    return str(row[0]) if row is not None else None


async def readings_mode(conn: psycopg.AsyncConnection) -> str:
    mode = await stored_mode(conn)
    if mode is None:
        raise RuntimeError("database is not migrated: run `haixun migrate`")
    return mode


async def apply_retention(conn: psycopg.AsyncConnection) -> int:
    """Run the retention rule now (``CALL haixun_apply_retention()``, store_info.retention_days on data
    time, 0 = off); returns the number of days of readings dropped."""
    row = await (await conn.execute("CALL haixun_apply_retention()")).fetchone()
    return int(row[0]) if row and row[0] else 0


async def latest(conn: psycopg.AsyncConnection, station_ids: list[str] | None = None,
                 quantities: list[str] | None = None) -> list[ReadingRow]:
    """Latest non-failed value per (station, quantity), optionally filtered."""
    cur = await conn.execute(
        "SELECT station_id, quantity, ts, value, qc, received_at FROM latest_readings"
        " WHERE (%(s)s::text[] IS NULL OR station_id = ANY(%(s)s))"
        " AND (%(q)s::text[] IS NULL OR quantity = ANY(%(q)s)) ORDER BY station_id, quantity",
        {"s": station_ids, "q": quantities},
    )
    return [ReadingRow(*r) for r in await cur.fetchall()]


async def window(conn: psycopg.AsyncConnection, station_id: str, quantity: str, start: datetime, end: datetime,
                 include_failed: bool = False) -> list[ReadingRow]:
    """Readings with start <= ts < end, oldest first; failed (qc 4) ones only if asked."""
    cur = await conn.execute(
        "SELECT station_id, quantity, ts, value, qc, received_at FROM readings"
        " WHERE station_id = %s AND quantity = %s AND ts >= %s AND ts < %s AND (%s OR qc <> 4) ORDER BY ts",
        (station_id, quantity, start, end, include_failed),
    )
    return [ReadingRow(*r) for r in await cur.fetchall()]


def _check(bucket: str) -> None:
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {sorted(BUCKETS)}, got {bucket!r}")


def _rows(rows: list[Any]) -> list[RollupRow]:
    return [RollupRow(r[0], r[1], r[2], float(r[3]), int(r[4]), r[5]) for r in rows]


async def rollup(conn: psycopg.AsyncConnection, station_id: str, quantity: str, start: datetime, end: datetime,
                 bucket: Bucket = "1 hour", *, mode: str | None = None) -> list[RollupRow]:
    """min/max/avg/count/last of non-failed values per bucket overlapping [start, end), oldest first.

    Read from the rollups (readings_1m / readings_1h), not from raw readings."""
    _check(bucket)
    mode = mode or await readings_mode(conn)
    cur = await conn.execute(ROLLUP_READ_SQL[(mode, bucket)],
                             {"s": station_id, "q": quantity, "start": start, "end": end, "width": bucket})
    return _rows(await cur.fetchall())


async def rollup_raw(conn: psycopg.AsyncConnection, station_id: str, quantity: str, start: datetime, end: datetime,
                     bucket: Bucket = "1 hour", *, mode: str | None = None) -> list[RollupRow]:
    """The same as ``rollup``, computed from raw readings (time_bucket / date_bin)."""
    _check(bucket)
    mode = mode or await readings_mode(conn)
    cur = await conn.execute(ROLLUP_SQL[mode], {"s": station_id, "q": quantity, "start": start, "end": end,
                                                "width": bucket})
    return _rows(await cur.fetchall())


async def raw_series(conn: psycopg.AsyncConnection, station_id: str, quantity: str, start: datetime, end: datetime,
                     limit: int) -> list[ReadingRow]:
    """Every reading (QC fail included: the API shows the flag) with start <= ts < end, oldest first, at most
    ``limit``."""
    cur = await conn.execute(
        "SELECT station_id, quantity, ts, value, qc, received_at FROM readings"
        " WHERE station_id = %s AND quantity = %s AND ts >= %s AND ts < %s ORDER BY ts LIMIT %s",
        (station_id, quantity, start, end, limit),
    )
    return [ReadingRow(*r) for r in await cur.fetchall()]


async def accepted_series(conn: psycopg.AsyncConnection, since: Sequence[tuple[str, datetime]],
                          until: datetime) -> AsyncIterator[tuple[str, str, float, float]]:
    """Accepted readings (qc 1-3) of each quantity in ``since`` (quantity, from), up to ``until``:
    (station, quantity, epoch seconds, value), ordered by station, quantity and time; streamed."""
    if not since:
        return
    values = ", ".join(["(%s, %s::timestamptz)"] * len(since))
    params: list[object] = [x for pair in since for x in pair]
    params.append(until)
    cur = await conn.execute(
        "SELECT r.station_id, r.quantity, extract(epoch FROM r.ts)::float8, r.value"
        f" FROM readings r JOIN (VALUES {values}) AS h(quantity, since) ON h.quantity = r.quantity"
        " WHERE r.ts >= h.since AND r.ts <= %s AND r.qc IN (1, 2, 3)"
        " ORDER BY r.station_id, r.quantity, r.ts", params)
    async for sid, quantity, t, v in cur:
        yield sid, quantity, float(t), float(v)

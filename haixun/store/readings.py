"""Read queries over readings / latest_readings, the same API in both storage modes.

Every function takes an open ``psycopg.AsyncConnection`` (from a pool:
``async with pool.connection() as conn``). Rollups use ``time_bucket`` when
``store_info.readings_mode`` is ``timescale`` and ``date_bin`` (PostgreSQL 14+)
otherwise; both bin from the same origin (2000-01-03 00:00 UTC, a Monday,
TimescaleDB's default), so results are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import psycopg

Bucket = Literal["1 minute", "1 hour"]
BUCKETS: dict[str, timedelta] = {"1 minute": timedelta(minutes=1), "1 hour": timedelta(hours=1)}
FAIL = 4


@dataclass(frozen=True, slots=True)
class Reading:
    station_id: str
    quantity: str
    ts: datetime
    value: float
    qc: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class RollupRow:
    bucket: datetime
    min: float
    max: float
    avg: float
    count: int
    last: float


_ROLLUP = """
SELECT {bucket} AS b, min(value), max(value), avg(value), count(*),
       (array_agg(value ORDER BY ts DESC))[1]
FROM readings
WHERE station_id = %(s)s AND quantity = %(q)s AND ts >= %(start)s AND ts < %(end)s AND qc <> 4
GROUP BY b ORDER BY b
"""
ROLLUP_SQL = {
    "partitioned": _ROLLUP.format(bucket="date_bin(%(width)s::interval, ts, timestamptz '2000-01-03 00:00:00+00')"),
    "timescale": _ROLLUP.format(bucket="time_bucket(%(width)s::interval, ts)"),
}


async def readings_mode(conn: psycopg.AsyncConnection) -> str:
    cur = await conn.execute("SELECT value FROM store_info WHERE key = 'readings_mode'")
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("database is not migrated: run `haixun migrate`")
    return str(row[0])


async def latest(conn: psycopg.AsyncConnection, station_ids: list[str] | None = None,
                 quantities: list[str] | None = None) -> list[Reading]:
    """Latest non-failed value per (station, quantity), optionally filtered."""
    cur = await conn.execute(
        "SELECT station_id, quantity, ts, value, qc, received_at FROM latest_readings"
        " WHERE (%(s)s::text[] IS NULL OR station_id = ANY(%(s)s))"
        " AND (%(q)s::text[] IS NULL OR quantity = ANY(%(q)s)) ORDER BY station_id, quantity",
        {"s": station_ids, "q": quantities},
    )
    return [Reading(*r) for r in await cur.fetchall()]


async def window(conn: psycopg.AsyncConnection, station_id: str, quantity: str, start: datetime, end: datetime,
                 include_failed: bool = False) -> list[Reading]:
    """Readings with start <= ts < end, oldest first; failed (qc 4) ones only if asked."""
    cur = await conn.execute(
        "SELECT station_id, quantity, ts, value, qc, received_at FROM readings"
        " WHERE station_id = %s AND quantity = %s AND ts >= %s AND ts < %s AND (%s OR qc <> 4) ORDER BY ts",
        (station_id, quantity, start, end, include_failed),
    )
    return [Reading(*r) for r in await cur.fetchall()]


async def rollup(conn: psycopg.AsyncConnection, station_id: str, quantity: str, start: datetime, end: datetime,
                 bucket: Bucket = "1 hour", *, mode: str | None = None) -> list[RollupRow]:
    """min/max/avg/count/last of non-failed values per time bucket, oldest first."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {sorted(BUCKETS)}, got {bucket!r}")
    mode = mode or await readings_mode(conn)
    cur = await conn.execute(ROLLUP_SQL[mode], {"s": station_id, "q": quantity, "start": start, "end": end,
                                                "width": bucket})
    return [RollupRow(r[0], r[1], r[2], float(r[3]), int(r[4]), r[5]) for r in await cur.fetchall()]

"""Ingest's writes: store one processed batch in one transaction; the spool drain progress; the
station directory ingest admits against is store/stations.py.

readings: COPY into a temporary table, then
``INSERT .. SELECT .. ON CONFLICT (station_id, quantity, ts) DO NOTHING
RETURNING`` (duplicates = offered - inserted), and from the inserted rows the
upsert of ``latest_readings`` (non-fail values only, only if newer). Then
camera events (idempotent on (camera_id, ts, type)), gateway status, dead
letters, the spool drain progress if any, and ``NOTIFY haixun_ingest`` (sent
by PostgreSQL at commit, so listeners never see uncommitted rows).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb

from haixun.clock import SYSTEM_CLOCK, Clock
from haixun.contract import format_ts
from haixun.store.channels import INGEST_CHANNEL
from haixun.store.notify import notify
from haixun.store.readings import stored_mode
from haixun.store.rows import DeadLetterRow, EventRow, ReadingRow, StatusRow

log = logging.getLogger(__name__)

NOTIFY_MAX_BYTES = 7900  # PostgreSQL's limit is 8000 bytes

_TEMP = (
    "CREATE TEMP TABLE IF NOT EXISTS _ingest_readings ("
    " station_id text, quantity text, ts timestamptz, value double precision,"
    " qc smallint, received_at timestamptz) ON COMMIT DELETE ROWS"
)

_INSERT_READINGS = """
WITH ins AS (
    INSERT INTO readings (station_id, quantity, ts, value, qc, received_at)
    SELECT station_id, quantity, ts, value, qc, received_at FROM _ingest_readings
    ON CONFLICT (station_id, quantity, ts) DO NOTHING
    RETURNING station_id, quantity, ts, value, qc, received_at
), latest AS (
    -- order_ts = least(ts, receipt on the clock): see migration 050
    INSERT INTO latest_readings AS l (station_id, quantity, ts, value, qc, received_at, order_ts)
    SELECT DISTINCT ON (station_id, quantity) station_id, quantity, ts, value, qc, received_at,
           least(ts, %(sim0)s::timestamptz + (received_at - %(wall0)s::timestamptz) * %(speed)s::float8)
    FROM ins WHERE qc <> 4
    ORDER BY station_id, quantity, least(ts, %(sim0)s::timestamptz + (received_at - %(wall0)s::timestamptz) * %(speed)s::float8) DESC, ts DESC
    ON CONFLICT (station_id, quantity) DO UPDATE
        SET ts = EXCLUDED.ts, value = EXCLUDED.value, qc = EXCLUDED.qc, received_at = EXCLUDED.received_at,
            order_ts = EXCLUDED.order_ts
        WHERE coalesce(l.order_ts, l.ts) < EXCLUDED.order_ts
           OR (coalesce(l.order_ts, l.ts) = EXCLUDED.order_ts AND l.ts < EXCLUDED.ts)
    RETURNING 1
)
SELECT count(*), coalesce(array_agg(DISTINCT station_id), '{}'), max(received_at) FROM ins
"""


_COPY_COLUMNS = "COPY _ingest_readings (station_id, quantity, ts, value, qc, received_at) FROM STDIN"
# characters with a meaning in COPY's text format
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def copy_text(rows: Sequence[ReadingRow]) -> str | None:
    """The rows in COPY text format, or None if an id needs escaping.

    Built here rather than with ``Copy.write_row`` (about 3 us per row): the
    readings of one message share their datetime objects, so each timestamp
    is formatted once per message; floats use ``repr`` (shortest exact
    round trip, what PostgreSQL's float8 input reads back bit for bit).
    Station ids passed the contract (word characters, '.', '-') and quantity
    names are fixed, so escaping is never needed in practice; if it were,
    the caller falls back to ``write_row``.
    """
    if any(_COPY_SPECIAL.search(x) for x in {r[0] for r in rows} | {r[1] for r in rows}):
        return None
    parts: list[str] = []
    append = parts.append
    last_ts: datetime | None = None
    last_rat: datetime | None = None
    ts_s = rat_s = ""
    for sid, q, ts, v, qc, rat in rows:
        if ts is not last_ts:
            last_ts, ts_s = ts, ts.isoformat()
        if rat is not last_rat:
            last_rat, rat_s = rat, rat.isoformat()
        append(f"{sid}\t{q}\t{ts_s}\t{v!r}\t{qc}\t{rat_s}\n")
    return "".join(parts)


def reading_days(rows: Sequence[ReadingRow]) -> set[date]:
    days: set[date] = set()
    last_ts: datetime | None = None
    for r in rows:
        if r.ts is not last_ts:
            last_ts = r.ts
            days.add(last_ts.date())
    return days


class Batch(Protocol):
    """What a batch to store holds (ingest.pipeline.Processed)."""

    @property
    def readings(self) -> Sequence[ReadingRow]: ...
    @property
    def events(self) -> Sequence[EventRow]: ...
    @property
    def statuses(self) -> Sequence[StatusRow]: ...
    @property
    def dead_letters(self) -> Sequence[DeadLetterRow]: ...


@dataclass(frozen=True, slots=True)
class StoreResult:
    offered: int
    inserted: int
    stations: list[str]
    max_received_at: datetime | None

    @property
    def duplicates(self) -> int:
        return self.offered - self.inserted


@dataclass(frozen=True, slots=True)
class SpoolProgress:
    consumer: str
    segment: str
    offset: int


def notify_payload(stations: list[str], n: int, max_received_at: datetime | None) -> str:
    """``{"stations": [...], "n": .., "max_received_at": ..}`` under 8000 bytes.

    If the station list does not fit, ``stations`` is empty and ``"all": true``
    tells the listener to treat every station as changed.
    """
    body = {"stations": sorted(stations), "n": n,
            "max_received_at": format_ts(max_received_at) if max_received_at else None}
    text = json.dumps(body, separators=(",", ":"))
    if len(text.encode()) > NOTIFY_MAX_BYTES:
        body["stations"] = []
        body["all"] = True
        text = json.dumps(body, separators=(",", ":"))
    return text


async def readings_partitioned(conn: psycopg.AsyncConnection[Any]) -> bool:
    return await stored_mode(conn) == "partitioned"


def is_connection_loss(exc: BaseException, conn: psycopg.AsyncConnection | None = None) -> bool:
    """True if ``exc`` means the database cannot be reached (spool and retry), not that it refused this data.

    Only connection loss is "down" (issue 14: an index-size error on one
    message made ingest think a healthy database was down, forever):
    the connection is closed or broken, or SQLSTATE class 08 (connection
    exception), 57P01-57P03 (shutdown, crash, cannot connect now), 53300
    (too many connections), or no SQLSTATE at all (a client-side failure to
    connect). Everything else (a constraint, a size limit, out of memory) is
    about the statement: the batch is retried message by message and a
    message the database refuses becomes a dead letter.
    """
    if conn is not None and (conn.closed or conn.broken):
        return True
    if isinstance(exc, psycopg.InterfaceError):
        return True
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError)
    return state.startswith("08") or state in ("57P01", "57P02", "57P03", "53300")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _clock_params(clock: Clock) -> dict[str, object]:
    """receipt on the clock = sim0 + (received_at - wall0) * speed."""
    if clock.sim_start is None or clock.wall_start is None:
        return {"sim0": _EPOCH, "wall0": _EPOCH, "speed": 1.0}
    return {"sim0": clock.sim_start, "wall0": clock.wall_start, "speed": clock.speed}


async def ensure_partitions(conn: psycopg.AsyncConnection, days: set[date], days_seen: set[date]) -> None:
    """Create the day partitions of ``days``, each in its own short transaction.

    Never thousands in one transaction (issue 14: 4,800 new partitions in one
    transaction ran out of shared memory for locks). A partition that cannot
    be created is not fatal: its rows go to the default partition.
    """
    for d in sorted(days - days_seen):
        try:
            await conn.execute("SELECT haixun_ensure_readings_partition(%s)", (d,))
        except psycopg.Error as exc:
            if is_connection_loss(exc, conn):
                raise
            log.warning("partition for %s not created (%s): its rows go to readings_default", d, exc)
            continue
        days_seen.add(d)


async def store_batch(
    conn: psycopg.AsyncConnection,
    batch: Batch,
    *,
    partitioned: bool,
    days_seen: set[date],
    progress: SpoolProgress | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> StoreResult:
    """Store ``batch`` in one transaction on ``conn`` (an autocommit connection).

    ``clock``: the system clock (a replay's clock), to order latest_readings
    by the time of receipt on it (migration 050).
    """
    inserted, stations, max_rat = 0, [], None
    if partitioned and batch.readings:
        await ensure_partitions(conn, reading_days(batch.readings), days_seen)
    async with conn.transaction():
        if batch.readings:
            await conn.execute(_TEMP)
            async with conn.cursor() as cur:
                text = copy_text(batch.readings)
                async with cur.copy(_COPY_COLUMNS) as copy:
                    if text is not None:
                        await copy.write(text)
                    else:
                        for r in batch.readings:
                            await copy.write_row(r)
                await cur.execute(_INSERT_READINGS, _clock_params(clock))
                row = await cur.fetchone()
                assert row is not None
                inserted, stations, max_rat = int(row[0]), list(row[1]), row[2]
        if batch.events:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO camera_events (camera_id, ts, type, confidence, segment_id, snapshot_url, extra,"
                    " received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (camera_id, ts, type) DO NOTHING",
                    [(e.event.camera_id, e.event.ts, e.event.type, e.event.confidence, e.event.segment_id,
                      e.event.snapshot_url, Jsonb(e.event.extra), e.received_at) for e in batch.events],
                )
        if batch.statuses:
            async with conn.cursor() as cur:
                rows = [(s.status.gateway_id, s.status.online, s.status.ts, Jsonb(s.status.extra), s.received_at)
                        for s in batch.statuses]
                # in arrival order, so the last status of a gateway wins
                await cur.executemany(
                    "INSERT INTO gateway_status AS g (gateway_id, online, ts, extra, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (gateway_id) DO UPDATE"
                    " SET online = EXCLUDED.online, ts = EXCLUDED.ts, extra = EXCLUDED.extra,"
                    " updated_at = EXCLUDED.updated_at WHERE g.updated_at <= EXCLUDED.updated_at",
                    rows,
                )
                await cur.executemany(
                    "INSERT INTO gateway_status_history (gateway_id, online, ts, received_at) VALUES (%s, %s, %s, %s)",
                    [(r[0], r[1], r[2], r[4]) for r in rows],
                )
        if batch.dead_letters:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO dead_letters (received_at, topic, payload, reason, detail) VALUES (%s, %s, %s, %s, %s)",
                    [(d.received_at, d.topic, d.payload, d.reason, d.detail) for d in batch.dead_letters],
                )
        if progress is not None:
            await conn.execute(
                'INSERT INTO ingest_spool_progress (consumer, segment, "offset") VALUES (%s, %s, %s)'
                ' ON CONFLICT (consumer, segment) DO UPDATE SET "offset" = EXCLUDED."offset", updated_at = now()',
                (progress.consumer, progress.segment, progress.offset),
            )
        if inserted or batch.events or batch.statuses:
            await notify(conn, INGEST_CHANNEL, notify_payload(stations, inserted, max_rat))
    return StoreResult(len(batch.readings), inserted, stations, max_rat)


async def spool_offset(conn: psycopg.AsyncConnection, consumer: str, segment: str) -> int:
    cur = await conn.execute('SELECT "offset" FROM ingest_spool_progress WHERE consumer = %s AND segment = %s',
                             (consumer, segment))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def forget_spool_segment(conn: psycopg.AsyncConnection, consumer: str, segment: str) -> None:
    await conn.execute("DELETE FROM ingest_spool_progress WHERE consumer = %s AND segment = %s", (consumer, segment))

"""Gather one cycle's inputs from PostgreSQL (the engine's read edge).

Everything here is a plain read; the result (:class:`RawInputs`) is converted
into riskcode's input types by :mod:`haixun.engine.evaluate`. Tables owned by
other packages that may not exist in a given database (the API's
``official_feeds`` / ``segment_overrides``) are checked with ``to_regclass``
and treated as empty when absent. Official feeds are read only with one of
riskcode's kinds (``FEED_KINDS``, the vocabulary the API validates against).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from haixun.engine.model import LatencyMark
from haixun.store.feeds import series_feeds


@dataclass(frozen=True, slots=True)
class LatestValue:
    value: float
    ts: datetime
    qc: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StationInfo:
    id: str
    kind: str
    segment_id: str | None
    gateway_id: str | None
    quantities: tuple[str, ...]
    wave_period_kind: str | None = None  # stations.props.wave_period_kind (which wave period a buoy reports)


@dataclass(slots=True)
class RawInputs:
    """One cycle's inputs as read from the store."""

    now: datetime
    stations: dict[str, StationInfo] = field(default_factory=dict)
    latest: dict[str, dict[str, LatestValue]] = field(default_factory=dict)  # station -> quantity -> value
    gateways_online: dict[str, bool] = field(default_factory=dict)
    gateways_status_at: dict[str, datetime] = field(default_factory=dict)  # when ingest stored the status (wall)
    camera_events: list[dict[str, Any]] = field(default_factory=list)
    camera_segments: dict[str, tuple[str, ...]] = field(default_factory=dict)  # camera -> segments it watches
    camera_kinds: dict[str, str] = field(default_factory=dict)  # camera -> sensor kind (thermal_ptz, ...)
    official_feeds: list[dict[str, Any]] = field(default_factory=list)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    # station -> recent wind_gust readings (value, ts, qc), for riskcode's gust persistence rule (it keeps
    # those within its configured window; gather reads the last 30 min)
    recent_gusts: dict[str, list[tuple[float, datetime, int]]] = field(default_factory=dict)
    # station -> tide_level of the last day, one per 10 min (value, ts, qc): the surge projection's
    # trend and skew surges (riskcode storm_tide; issue 13). Cached for TIDE_HISTORY_REFRESH_S.
    recent_tide: dict[str, list[tuple[float, datetime, int]]] = field(default_factory=dict)


async def table_exists(conn: psycopg.AsyncConnection, name: str) -> bool:
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    row = await cur.fetchone()
    return bool(row and row[0])


TIDE_HISTORY_S = 26 * 3600.0       # two tidal cycles: the skew surges of the last two high waters
TIDE_HISTORY_REFRESH_S = 300.0     # re-read at most every 5 min of engine time (the trend is hours long)
_tide_cache: dict[str, tuple[datetime, dict[str, list[tuple[float, datetime, int]]]]] = {}


async def _tide_history(conn: psycopg.AsyncConnection, now: datetime) -> dict[str, list[tuple[float, datetime, int]]]:
    """Accepted tide levels of the last day, the last reading of each 10-min bin, per station (cached)."""
    key = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    hit = _tide_cache.get(key)
    if hit is not None and 0 <= (now - hit[0]).total_seconds() < TIDE_HISTORY_REFRESH_S:
        return hit[1]
    cur = await conn.execute(
        "SELECT DISTINCT ON (station_id, floor(extract(epoch FROM ts) / 600)) station_id, value, ts, qc"
        " FROM readings WHERE quantity = 'tide_level' AND qc <> 4 AND ts > %s AND ts <= %s"
        " ORDER BY station_id, floor(extract(epoch FROM ts) / 600), ts DESC",
        (now - timedelta(seconds=TIDE_HISTORY_S), now))
    out: dict[str, list[tuple[float, datetime, int]]] = {}
    for sid, value, ts, qc in await cur.fetchall():
        out.setdefault(sid, []).append((float(value), ts, int(qc)))
    _tide_cache[key] = (now, out)
    return out


async def gather(conn: psycopg.AsyncConnection, now: datetime, *, camera_window_s: float = 1800.0,
                 gust_window_s: float = 1800.0) -> RawInputs:
    """Read stations, latest non-failed readings, gateways, recent camera
    events, and the feeds and overrides valid at ``now``."""
    out = RawInputs(now=now)
    cur = await conn.execute(
        "SELECT id, kind, segment_id, gateway_id, quantities, props->>'wave_period_kind' FROM stations WHERE active")
    for sid, kind, seg, gw, qs, period_kind in await cur.fetchall():
        out.stations[sid] = StationInfo(sid, kind, seg, gw, tuple(qs or ()), period_kind)
    cur = await conn.execute(
        "SELECT station_id, quantity, value, ts, qc, received_at FROM latest_readings WHERE qc <> 4")
    for sid, q, value, ts, qc, rec in await cur.fetchall():
        out.latest.setdefault(sid, {})[q] = LatestValue(value, ts, qc, rec)
    cur = await conn.execute(
        "SELECT station_id, value, ts, qc FROM readings WHERE quantity = 'wind_gust' AND qc <> 4"
        " AND ts > %s AND ts <= %s ORDER BY ts", (now - timedelta(seconds=gust_window_s), now))
    for sid, value, ts, qc in await cur.fetchall():
        out.recent_gusts.setdefault(sid, []).append((value, ts, qc))
    out.recent_tide = await _tide_history(conn, now)
    cur = await conn.execute("SELECT gateway_id, online, updated_at FROM gateway_status")
    for gw, online, updated_at in await cur.fetchall():
        out.gateways_online[gw] = online
        out.gateways_status_at[gw] = updated_at
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT camera_id, ts, type, confidence, segment_id, snapshot_url, extra, received_at"
        " FROM camera_events WHERE ts > %s AND ts <= %s ORDER BY ts",
        (now - timedelta(seconds=camera_window_s), now + timedelta(seconds=60)))
    out.camera_events = list(await cur.fetchall())
    if out.camera_events:
        await cur.execute("SELECT id, kind, segment_ids FROM cameras")
        for r in await cur.fetchall():
            out.camera_segments[r["id"]] = tuple(r["segment_ids"] or ())
            out.camera_kinds[r["id"]] = r["kind"] or ""
    if await table_exists(conn, "official_feeds"):
        out.official_feeds = await series_feeds(cur, now)
    if await table_exists(conn, "segment_overrides"):
        await cur.execute(
            "SELECT DISTINCT ON (segment_id) id, segment_id, level, reason, created_by, created_at, expires_at"
            " FROM segment_overrides WHERE cleared_at IS NULL AND expires_at > %s AND created_at <= %s"
            " ORDER BY segment_id, created_at DESC", (now, now))
        out.overrides = list(await cur.fetchall())
    return out


async def newest_input_mark(conn: psycopg.AsyncConnection) -> LatencyMark | None:
    """Sensor ts / received_at / stored_at of the most recently received
    latest reading (latest_readings is one row per station and quantity)."""
    cur = await conn.execute(
        "SELECT r.ts, r.received_at, r.stored_at FROM"
        " (SELECT station_id, quantity, ts FROM latest_readings ORDER BY received_at DESC LIMIT 1) l"
        " JOIN readings r ON r.station_id = l.station_id AND r.quantity = l.quantity AND r.ts = l.ts")
    row = await cur.fetchone()
    return LatencyMark(*row) if row else None


async def gather_with_mark(conn: psycopg.AsyncConnection, now: datetime, *, camera_window_s: float = 1800.0,
                           gust_window_s: float = 1800.0) -> tuple[RawInputs, LatencyMark | None]:
    """``gather`` and ``newest_input_mark`` from one snapshot of the database
    (one REPEATABLE READ transaction), so the latency mark names an input the
    gathered inputs contain. Read in two snapshots, a reading stored between
    them was reported as this cycle's latency although this cycle never saw
    it, and the next cycle, which decided on it, carried no latency at all.

    ``conn`` is an idle autocommit connection (the engine's pool hands out
    autocommit connections), so the transaction opened here is its own."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        raw = await gather(conn, now, camera_window_s=camera_window_s, gust_window_s=gust_window_s)
        mark = await newest_input_mark(conn)
    return raw, mark


async def validity_changed_between(conn: psycopg.AsyncConnection, after: datetime, until: datetime, *,
                                   wall: tuple[datetime, datetime] | None = None) -> bool:
    """Did an official feed or an override start, stop, appear or get cleared
    in (after, until]? Then the engine recomputes at once instead of waiting
    for the interval.

    ``after``/``until`` are clock (data) time: feed validity and the override
    times, which the API writes on the clock. A feed's ``received_at`` is a
    wall-clock latency mark, compared with ``wall`` (default: the same range)."""
    w_after, w_until = wall if wall is not None else (after, until)
    if await table_exists(conn, "official_feeds"):
        cur = await conn.execute(
            "SELECT EXISTS (SELECT 1 FROM official_feeds WHERE (valid_from > %(a)s AND valid_from <= %(b)s)"
            " OR (valid_to > %(a)s AND valid_to <= %(b)s) OR (received_at > %(wa)s AND received_at <= %(wb)s))",
            {"a": after, "b": until, "wa": w_after, "wb": w_until})
        if (await cur.fetchone())[0]:  # type: ignore[index]
            return True
    if await table_exists(conn, "segment_overrides"):
        cur = await conn.execute(
            "SELECT EXISTS (SELECT 1 FROM segment_overrides WHERE (expires_at > %(a)s AND expires_at <= %(b)s)"
            " OR (created_at > %(a)s AND created_at <= %(b)s) OR (cleared_at > %(a)s AND cleared_at <= %(b)s))",
            {"a": after, "b": until})
        if (await cur.fetchone())[0]:  # type: ignore[index]
            return True
    return False

"""The reads of one engine cycle (engine/inputs.py assembles them into its inputs).

Every function takes an open ``psycopg.AsyncConnection`` and returns typed
rows. Tables owned by the API that a database may lack (``official_feeds``,
``segment_overrides``, ``threshold_versions``, the geography tables) are
checked with ``store.db.table_exists`` by the caller. ``snapshot`` opens the one
REPEATABLE READ transaction in which a cycle reads its inputs and its latency
mark together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import psycopg

from haixun.contract import CameraEvent
from haixun.store.overrides import OVERRIDE_COLUMNS, StoredOverride
from haixun.store.rows import EventRow


@dataclass(frozen=True, slots=True)
class StationInfo:
    id: str
    kind: str
    segment_id: str | None
    gateway_id: str | None
    quantities: tuple[str, ...]
    wave_period_kind: str | None = None  # stations.props.wave_period_kind (which wave period a buoy reports)


@dataclass(frozen=True, slots=True)
class LatestValue:
    value: float
    ts: datetime
    qc: int
    received_at: datetime


class LatestRow(NamedTuple):
    station_id: str
    quantity: str
    value: LatestValue


class RecentValue(NamedTuple):
    """One reading of a recent series (value, ts, qc)."""

    value: float
    ts: datetime
    qc: int


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    gateway_id: str
    online: bool
    updated_at: datetime  # when ingest stored the status (wall)


@dataclass(frozen=True, slots=True)
class CameraRow:
    id: str
    kind: str
    segment_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LatencyMark:
    """Timestamps of the newest input of a cycle (docs/state.md ``latency``)."""

    sensor_ts: datetime
    received_at: datetime
    stored_at: datetime


@asynccontextmanager
async def snapshot(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[None]:
    """One REPEATABLE READ transaction on ``conn`` (an idle autocommit connection): every read
    inside sees the same snapshot of the database."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


async def active_stations(conn: psycopg.AsyncConnection[Any]) -> list[StationInfo]:
    cur = await conn.execute(
        "SELECT id, kind, segment_id, gateway_id, quantities, props->>'wave_period_kind' FROM stations WHERE active")
    return [StationInfo(sid, kind, seg, gw, tuple(qs or ()), period_kind)
            for sid, kind, seg, gw, qs, period_kind in await cur.fetchall()]


async def latest_accepted(conn: psycopg.AsyncConnection[Any]) -> list[LatestRow]:
    """The latest non-failed value of every station and quantity."""
    cur = await conn.execute(
        "SELECT station_id, quantity, value, ts, qc, received_at FROM latest_readings WHERE qc <> 4")
    return [LatestRow(sid, q, LatestValue(value, ts, qc, rec)) for sid, q, value, ts, qc, rec in await cur.fetchall()]


async def recent_gusts(conn: psycopg.AsyncConnection[Any], after: datetime,
                       until: datetime) -> dict[str, list[RecentValue]]:
    """Non-failed wind_gust readings with after < ts <= until, per station, oldest first."""
    cur = await conn.execute(
        "SELECT station_id, value, ts, qc FROM readings WHERE quantity = 'wind_gust' AND qc <> 4"
        " AND ts > %s AND ts <= %s ORDER BY ts", (after, until))
    out: dict[str, list[RecentValue]] = {}
    for sid, value, ts, qc in await cur.fetchall():
        out.setdefault(sid, []).append(RecentValue(value, ts, qc))
    return out


async def tide_bins(conn: psycopg.AsyncConnection[Any], after: datetime,
                    until: datetime) -> dict[str, list[RecentValue]]:
    """Accepted tide levels with after < ts <= until, the last reading of each 10-min bin, per station."""
    cur = await conn.execute(
        "SELECT DISTINCT ON (station_id, floor(extract(epoch FROM ts) / 600)) station_id, value, ts, qc"
        " FROM readings WHERE quantity = 'tide_level' AND qc <> 4 AND ts > %s AND ts <= %s"
        " ORDER BY station_id, floor(extract(epoch FROM ts) / 600), ts DESC",
        (after, until))
    out: dict[str, list[RecentValue]] = {}
    for sid, value, ts, qc in await cur.fetchall():
        out.setdefault(sid, []).append(RecentValue(float(value), ts, int(qc)))
    return out


async def gateway_statuses(conn: psycopg.AsyncConnection[Any]) -> list[GatewayStatus]:
    cur = await conn.execute("SELECT gateway_id, online, updated_at FROM gateway_status")
    return [GatewayStatus(gw, online, at) for gw, online, at in await cur.fetchall()]


async def camera_events(conn: psycopg.AsyncConnection[Any], after: datetime, until: datetime) -> list[EventRow]:
    """Camera events with after < ts <= until, oldest first (the rows ingest stored)."""
    cur = await conn.execute(
        "SELECT camera_id, ts, type, confidence, segment_id, snapshot_url, extra, received_at"
        " FROM camera_events WHERE ts > %s AND ts <= %s ORDER BY ts", (after, until))
    return [EventRow(CameraEvent(*r[:7]), r[7]) for r in await cur.fetchall()]


async def cameras(conn: psycopg.AsyncConnection[Any]) -> list[CameraRow]:
    cur = await conn.execute("SELECT id, kind, segment_ids FROM cameras")
    return [CameraRow(cid, kind or "", tuple(segs or ())) for cid, kind, segs in await cur.fetchall()]


async def overrides_in_force(conn: psycopg.AsyncConnection[Any], now: datetime) -> list[StoredOverride]:
    """The newest uncleared, unexpired override of each segment created by ``now``."""
    cur = await conn.execute(
        f"SELECT DISTINCT ON (segment_id) {OVERRIDE_COLUMNS}"
        " FROM segment_overrides WHERE cleared_at IS NULL AND expires_at > %s AND created_at <= %s"
        " ORDER BY segment_id, created_at DESC", (now, now))
    return [StoredOverride(*r) for r in await cur.fetchall()]


async def newest_input_mark(conn: psycopg.AsyncConnection[Any]) -> LatencyMark | None:
    """Sensor ts / received_at / stored_at of the most recently received
    latest reading (latest_readings is one row per station and quantity)."""
    cur = await conn.execute(
        "SELECT r.ts, r.received_at, r.stored_at FROM"
        " (SELECT station_id, quantity, ts FROM latest_readings ORDER BY received_at DESC LIMIT 1) l"
        " JOIN readings r ON r.station_id = l.station_id AND r.quantity = l.quantity AND r.ts = l.ts")
    row = await cur.fetchone()
    return LatencyMark(*row) if row else None


async def _exists(conn: psycopg.AsyncConnection[Any], query: str, params: dict[str, datetime]) -> bool:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return bool(row and row[0])


async def feed_validity_changed(conn: psycopg.AsyncConnection[Any], after: datetime, until: datetime,
                                wall_after: datetime, wall_until: datetime) -> bool:
    """Did an official feed start or stop being valid in (after, until] (clock time), or arrive in
    (wall_after, wall_until] (``received_at`` is a wall-clock mark)?"""
    return await _exists(
        conn,
        "SELECT EXISTS (SELECT 1 FROM official_feeds WHERE (valid_from > %(a)s AND valid_from <= %(b)s)"
        " OR (valid_to > %(a)s AND valid_to <= %(b)s) OR (received_at > %(wa)s AND received_at <= %(wb)s))",
        {"a": after, "b": until, "wa": wall_after, "wb": wall_until})


async def override_validity_changed(conn: psycopg.AsyncConnection[Any], after: datetime, until: datetime) -> bool:
    """Was an override created, cleared or did one expire in (after, until]?"""
    return await _exists(
        conn,
        "SELECT EXISTS (SELECT 1 FROM segment_overrides WHERE (expires_at > %(a)s AND expires_at <= %(b)s)"
        " OR (created_at > %(a)s AND created_at <= %(b)s) OR (cleared_at > %(a)s AND cleared_at <= %(b)s))",
        {"a": after, "b": until})

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

import psycopg

from haixun.store import engine_inputs as q
from haixun.store.db import table_exists
from haixun.store.engine_inputs import (
    LatencyMark,
    LatestValue,
    RecentValue,
    StationInfo,
)
from haixun.store.feeds import FeedRow, series_feed_rows
from haixun.store.overrides import StoredOverride
from haixun.store.rows import EventRow


@dataclass(slots=True)
class RawInputs:
    """One cycle's inputs as read from the store."""

    now: datetime
    stations: dict[str, StationInfo] = field(default_factory=dict)
    latest: dict[str, dict[str, LatestValue]] = field(default_factory=dict)  # station -> quantity -> value
    gateways_online: dict[str, bool] = field(default_factory=dict)
    gateways_status_at: dict[str, datetime] = field(default_factory=dict)  # when ingest stored the status (wall)
    camera_events: list[EventRow] = field(default_factory=list)
    camera_segments: dict[str, tuple[str, ...]] = field(default_factory=dict)  # camera -> segments it watches
    camera_kinds: dict[str, str] = field(default_factory=dict)  # camera -> sensor kind (thermal_ptz, ...)
    official_feeds: list[FeedRow] = field(default_factory=list)
    overrides: list[StoredOverride] = field(default_factory=list)
    # station -> recent wind_gust readings (value, ts, qc), for riskcode's gust persistence rule (it keeps
    # those within its configured window; gather reads the last 30 min)
    recent_gusts: dict[str, list[RecentValue]] = field(default_factory=dict)
    # station -> tide_level of the last day, one per 10 min (value, ts, qc): the surge projection's
    # trend and skew surges (riskcode storm_tide; issue 13). Cached for TIDE_HISTORY_REFRESH_S.
    recent_tide: dict[str, list[RecentValue]] = field(default_factory=dict)


TIDE_HISTORY_S = 26 * 3600.0       # two tidal cycles: the skew surges of the last two high waters
TIDE_HISTORY_REFRESH_S = 300.0     # re-read at most every 5 min of engine time (the trend is hours long)
_tide_cache: dict[str, tuple[datetime, dict[str, list[RecentValue]]]] = {}


async def _tide_history(conn: psycopg.AsyncConnection, now: datetime) -> dict[str, list[RecentValue]]:
    """Accepted tide levels of the last day, the last reading of each 10-min bin, per station (cached)."""
    key = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    hit = _tide_cache.get(key)
    if hit is not None and 0 <= (now - hit[0]).total_seconds() < TIDE_HISTORY_REFRESH_S:
        return hit[1]
    out = await q.tide_bins(conn, now - timedelta(seconds=TIDE_HISTORY_S), now)
    _tide_cache[key] = (now, out)
    return out


async def gather(conn: psycopg.AsyncConnection, now: datetime, *, camera_window_s: float = 1800.0,
                 gust_window_s: float = 1800.0) -> RawInputs:
    """Read stations, latest non-failed readings, gateways, recent camera
    events, and the feeds and overrides valid at ``now``."""
    out = RawInputs(now=now)
    out.stations = {s.id: s for s in await q.active_stations(conn)}
    for sid, quantity, value in await q.latest_accepted(conn):
        out.latest.setdefault(sid, {})[quantity] = value
    out.recent_gusts = await q.recent_gusts(conn, now - timedelta(seconds=gust_window_s), now)
    out.recent_tide = await _tide_history(conn, now)
    for gw in await q.gateway_statuses(conn):
        out.gateways_online[gw.gateway_id] = gw.online
        out.gateways_status_at[gw.gateway_id] = gw.updated_at
    out.camera_events = await q.camera_events(conn, now - timedelta(seconds=camera_window_s),
                                              now + timedelta(seconds=60))
    if out.camera_events:
        for cam in await q.cameras(conn):
            out.camera_segments[cam.id] = cam.segment_ids
            out.camera_kinds[cam.id] = cam.kind
    if await table_exists(conn, "official_feeds"):
        out.official_feeds = await series_feed_rows(conn, now)
    if await table_exists(conn, "segment_overrides"):
        out.overrides = await q.overrides_in_force(conn, now)
    return out


async def gather_with_mark(conn: psycopg.AsyncConnection, now: datetime, *, camera_window_s: float = 1800.0,
                           gust_window_s: float = 1800.0) -> tuple[RawInputs, LatencyMark | None]:
    """``gather`` and ``newest_input_mark`` from one snapshot of the database
    (one REPEATABLE READ transaction), so the latency mark names an input the
    gathered inputs contain. Read in two snapshots, a reading stored between
    them was reported as this cycle's latency although this cycle never saw
    it, and the next cycle, which decided on it, carried no latency at all.

    ``conn`` is an idle autocommit connection (the engine's pool hands out
    autocommit connections), so the transaction opened here is its own."""
    async with q.snapshot(conn):
        raw = await gather(conn, now, camera_window_s=camera_window_s, gust_window_s=gust_window_s)
        mark = await q.newest_input_mark(conn)
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
    if await table_exists(conn, "official_feeds") and await q.feed_validity_changed(conn, after, until,
                                                                                    w_after, w_until):
        return True
    return await table_exists(conn, "segment_overrides") and await q.override_validity_changed(conn, after, until)

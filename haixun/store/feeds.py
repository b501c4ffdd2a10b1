"""Official feed rows for the bulletin-series rule (read by the engine and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from haixun.riskcode import FEED_KINDS, FeedKind

SERIES_SQL = (
    # The bulletins valid now, and every bulletin of their source x kind sent since the oldest of
    # them (up to now): a newer one may supersede an older valid one even after it expired itself
    # (riskcode.feeds.effective_feeds decides; docs/riskcode.md "Bulletin series").
    "WITH act AS (SELECT source, kind, min(issued_at) AS since FROM official_feeds"
    "  WHERE valid_from <= %(now)s AND valid_to > %(now)s AND kind = ANY(%(kinds)s) AND msg_type <> 'Cancel'"
    "  GROUP BY source, kind)"
    " SELECT f.id, f.source, f.external_id, f.issuer, f.kind, f.level, f.area, f.valid_from, f.valid_to,"
    "  f.issued_at, f.msg_type, f.refs, f.surge_m, f.peak_level_m, f.peak_at"
    " FROM official_feeds f JOIN act ON f.source = act.source"
    " WHERE f.issued_at >= act.since AND f.issued_at <= %(now)s AND f.kind = ANY(%(kinds)s)"
    " AND (f.kind = act.kind OR cardinality(f.refs) > 0)"
    " ORDER BY f.issued_at, f.id")


async def series_feeds(cur: psycopg.AsyncCursor[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Rows for riskcode's bulletin-series rule at ``now`` (dict rows)."""
    await cur.execute(SERIES_SQL, {"now": now, "kinds": list(FEED_KINDS)})
    rows = list(await cur.fetchall())
    seen: set[int] = set()
    return [r for r in rows if not (r["id"] in seen or seen.add(r["id"]))]  # type: ignore[func-returns-value]


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One official_feeds row of SERIES_SQL's columns."""

    id: int
    source: str
    external_id: str | None
    issuer: str
    kind: FeedKind  # SERIES_SQL reads only riskcode's kinds
    level: str
    area: dict[str, Any]  # {"segments": [...]} or {"polygon": [[lon, lat], ...]}
    valid_from: datetime
    valid_to: datetime
    issued_at: datetime
    msg_type: str
    refs: list[str]
    surge_m: float | None
    peak_level_m: float | None
    peak_at: datetime | None


async def series_feed_rows(conn: psycopg.AsyncConnection[Any], now: datetime) -> list[FeedRow]:
    """``series_feeds`` as typed rows."""
    async with conn.cursor(row_factory=dict_row) as cur:
        return [FeedRow(**r) for r in await series_feeds(cur, now)]

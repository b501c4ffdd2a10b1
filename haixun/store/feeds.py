"""Official feed rows for the bulletin-series rule (read by the engine and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from haixun.riskcode import FEED_KINDS, FeedItem, FeedKind, Level

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


class FeedColumns(Protocol):
    """The official_feeds columns riskcode reads (``FeedRow`` and ``bulletins.StoredFeed`` have them)."""

    @property
    def id(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def issuer(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def area(self) -> Any: ...
    @property
    def valid_from(self) -> datetime: ...
    @property
    def valid_to(self) -> datetime: ...
    @property
    def issued_at(self) -> datetime: ...
    @property
    def msg_type(self) -> str: ...
    @property
    def refs(self) -> list[str]: ...
    @property
    def surge_m(self) -> float | None: ...
    @property
    def peak_level_m(self) -> float | None: ...
    @property
    def peak_at(self) -> datetime | None: ...


def feed_item(row: FeedColumns) -> FeedItem:
    """A stored bulletin as riskcode's ``FeedItem`` (id ``source:row id``), the one conversion the
    engine (its inputs) and the API (the feeds' series status) use. A level riskcode does not know
    raises ValueError."""
    area = row.area or {}
    return FeedItem(
        id=f"{row.source}:{row.id}", issuer=row.issuer, kind=row.kind, level=Level(row.level),  # type: ignore[arg-type]
        valid_from=row.valid_from, valid_to=row.valid_to,
        segment_ids=tuple(area.get("segments") or ()),
        polygon=tuple(tuple(p[:2]) for p in area.get("polygon") or ()),
        source=row.source, identifier=row.external_id or f"#{row.id}",
        references=tuple(row.refs or ()), msg_type=row.msg_type or "Alert",
        sent=row.issued_at, seq=int(row.id), surge_m=row.surge_m,
        peak_level_m=row.peak_level_m, peak_at=row.peak_at)

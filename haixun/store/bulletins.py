"""Official bulletins as the API stores and lists them (official_feeds: migrations 028, 041, 045, 081).
The engine reads the series in force with store/feeds.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from haixun.store.channels import INGEST_CHANNEL
from haixun.store.notify import notify

FEED_COLUMNS = ("id, source, external_id, issuer, kind, level, area, valid_from, valid_to, text_zh, text_en, "
                "issued_at, received_at, received_by, msg_type, refs, surge_m, peak_level_m, peak_at")


@dataclass(frozen=True, slots=True)
class StoredFeed:
    """One official_feeds row."""

    id: int
    source: str
    external_id: str | None
    issuer: str
    kind: str
    level: str
    area: Any  # jsonb: {"segments": [...]} or {"polygon": [[lon, lat], ...]}
    valid_from: datetime
    valid_to: datetime
    text_zh: str
    text_en: str
    issued_at: datetime
    received_at: datetime
    received_by: str
    msg_type: str
    refs: list[str]
    surge_m: float | None
    peak_level_m: float | None
    peak_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReferencedFeed:
    """What a new bulletin needs of one it replaces."""

    external_id: str
    kind: str
    area: Any
    valid_from: datetime
    valid_to: datetime
    issued_at: datetime
    msg_type: str


@dataclass(frozen=True, slots=True)
class FeedValues:
    """A bulletin to store, in the column order of the INSERT below (the identifier: external_id)."""

    source: str
    external_id: str | None
    issuer: str
    kind: str
    level: str | None
    area: Any
    valid_from: datetime
    valid_to: datetime
    text_zh: str
    text_en: str
    issued_at: datetime
    received_by: str
    msg_type: str
    refs: list[str]
    surge_m: float | None
    peak_level_m: float | None
    peak_at: datetime | None

    def params(self) -> tuple[Any, ...]:
        values = astuple(self)
        return (*values[:5], Jsonb(self.area), *values[6:])


async def referenced(conn: psycopg.AsyncConnection[Any], source: str,
                     identifiers: Sequence[str]) -> dict[str, ReferencedFeed]:
    """The stored bulletins of ``source`` with these identifiers, by identifier."""
    cur = conn.cursor(row_factory=class_row(ReferencedFeed))
    await cur.execute("SELECT external_id, kind, area, valid_from, valid_to, issued_at, msg_type FROM official_feeds"
                      " WHERE source = %s AND external_id = ANY(%s)", (source, list(identifiers)))
    return {r.external_id: r for r in await cur.fetchall()}


async def feed_by_identifier(conn: psycopg.AsyncConnection[Any], source: str, identifier: str, *,
                             for_update: bool = False) -> StoredFeed | None:
    cur = conn.cursor(row_factory=class_row(StoredFeed))
    await cur.execute(f"SELECT {FEED_COLUMNS} FROM official_feeds WHERE source = %s AND external_id = %s"
                      f"{' FOR UPDATE' if for_update else ''}", (source, identifier))
    return await cur.fetchone()


async def insert_feed(conn: psycopg.AsyncConnection[Any], values: FeedValues) -> StoredFeed:
    cur = conn.cursor(row_factory=class_row(StoredFeed))
    await cur.execute(
        "INSERT INTO official_feeds (source, external_id, issuer, kind, level, area, valid_from, valid_to, "
        "text_zh, text_en, issued_at, received_by, msg_type, refs, surge_m, peak_level_m, peak_at) "
        f"VALUES ({', '.join(['%s'] * 17)}) RETURNING {FEED_COLUMNS}", values.params())
    row = await cur.fetchone()
    assert row is not None  # INSERT .. RETURNING of one row
    return row


async def replace_feed(conn: psycopg.AsyncConnection[Any], feed_id: int, values: FeedValues) -> StoredFeed:
    """The stored bulletin ``feed_id`` (same source and identifier) rewritten with ``values``."""
    cur = conn.cursor(row_factory=class_row(StoredFeed))
    await cur.execute(
        "UPDATE official_feeds SET issuer=%s, kind=%s, level=%s, area=%s, valid_from=%s, valid_to=%s, text_zh=%s, "
        "text_en=%s, issued_at=%s, received_by=%s, msg_type=%s, refs=%s, surge_m=%s, peak_level_m=%s, peak_at=%s, "
        f"received_at=now() WHERE id=%s RETURNING {FEED_COLUMNS}", (*values.params()[2:], feed_id))
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"official_feeds {feed_id} is gone")
    return row


async def announce_feed(conn: psycopg.AsyncConnection[Any], feed_id: int) -> None:
    """NOTIFY the ingest channel: the engine recomputes at once (on commit), not at its next validity check."""
    await notify(conn, INGEST_CHANNEL, json.dumps({"feeds": feed_id}))


async def feeds_by_id(conn: psycopg.AsyncConnection[Any], ids: Sequence[int]) -> list[StoredFeed]:
    cur = conn.cursor(row_factory=class_row(StoredFeed))
    await cur.execute(f"SELECT {FEED_COLUMNS} FROM official_feeds WHERE id = ANY(%s)", (list(ids),))
    return await cur.fetchall()


async def recent_feeds(conn: psycopg.AsyncConnection[Any], limit: int = 500) -> list[StoredFeed]:
    """Newest first (by sent time, then id)."""
    cur = conn.cursor(row_factory=class_row(StoredFeed))
    await cur.execute(f"SELECT {FEED_COLUMNS} FROM official_feeds ORDER BY issued_at DESC, id DESC LIMIT %s", (limit,))
    return await cur.fetchall()

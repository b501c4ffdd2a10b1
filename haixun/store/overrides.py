"""Manual level overrides as the duty room sets, clears and lists them (segment_overrides,
migration 026). The engine reads the ones in force with store/engine_inputs.py.

Override times (created_at, expires_at, cleared_at) are on the system clock (a replay clock during a
replay), the time the engine judges validity by: callers pass ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

OVERRIDE_COLUMNS = "id, segment_id, level, reason, created_by, created_at, expires_at, cleared_at, cleared_by"


@dataclass(frozen=True, slots=True)
class StoredOverride:
    """One segment_overrides row."""

    id: int
    segment_id: str
    level: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    cleared_at: datetime | None
    cleared_by: str | None


async def active_override(conn: psycopg.AsyncConnection[Any], segment_id: str, now: datetime, *,
                          for_update: bool = False) -> StoredOverride | None:
    """The segment's newest uncleared, unexpired override."""
    cur = conn.cursor(row_factory=class_row(StoredOverride))
    await cur.execute(f"SELECT {OVERRIDE_COLUMNS} FROM segment_overrides WHERE segment_id = %s AND cleared_at IS NULL "
                      f"AND expires_at > %s ORDER BY created_at DESC LIMIT 1{' FOR UPDATE' if for_update else ''}",
                      (segment_id, now))
    return await cur.fetchone()


async def clear_override(conn: psycopg.AsyncConnection[Any], override_id: int, *, now: datetime,
                         actor: str) -> StoredOverride:
    cur = conn.cursor(row_factory=class_row(StoredOverride))
    await cur.execute(f"UPDATE segment_overrides SET cleared_at = %s, cleared_by = %s WHERE id = %s "
                      f"RETURNING {OVERRIDE_COLUMNS}", (now, actor, override_id))
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"segment_overrides {override_id} is gone")
    return row


async def insert_override(conn: psycopg.AsyncConnection[Any], *, segment_id: str, level: str, reason: str,
                          actor: str, now: datetime, expires_at: datetime) -> StoredOverride:
    cur = conn.cursor(row_factory=class_row(StoredOverride))
    await cur.execute(f"INSERT INTO segment_overrides (segment_id, level, reason, created_by, created_at, expires_at) "
                      f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {OVERRIDE_COLUMNS}",
                      (segment_id, level, reason, actor, now, expires_at))
    row = await cur.fetchone()
    assert row is not None  # INSERT .. RETURNING of one row
    return row


async def active_overrides(conn: psycopg.AsyncConnection[Any], now: datetime) -> list[StoredOverride]:
    """Every uncleared, unexpired override, newest first."""
    cur = conn.cursor(row_factory=class_row(StoredOverride))
    await cur.execute(f"SELECT {OVERRIDE_COLUMNS} FROM segment_overrides WHERE cleared_at IS NULL AND expires_at > %s "
                      "ORDER BY created_at DESC", (now,))
    return await cur.fetchall()


async def newest_per_segment(conn: psycopg.AsyncConnection[Any], now: datetime) -> dict[str, StoredOverride]:
    """segment id -> its newest uncleared, unexpired override."""
    cur = conn.cursor(row_factory=class_row(StoredOverride))
    await cur.execute(f"SELECT DISTINCT ON (segment_id) {OVERRIDE_COLUMNS} FROM segment_overrides "
                      "WHERE cleared_at IS NULL AND expires_at > %s ORDER BY segment_id, created_at DESC", (now,))
    return {r.segment_id: r for r in await cur.fetchall()}

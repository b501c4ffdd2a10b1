"""Threshold configuration versions (threshold_versions, migration 027): at most one active.

Saving and activating lock the table (SHARE ROW EXCLUSIVE) so that two admins cannot both be
"the active one", and NOTIFY ``haixun_config`` so every API process reloads (on commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from haixun.store.channels import CONFIG_CHANNEL
from haixun.store.notify import notify

VERSION_COLUMNS = "id, version, format, sha256, active, created_at, created_by, comment"


@dataclass(frozen=True, slots=True)
class ThresholdVersion:
    """A stored version without its text."""

    id: int
    version: str
    format: str
    sha256: str
    active: bool
    created_at: datetime
    created_by: str
    comment: str


@dataclass(frozen=True, slots=True)
class ThresholdText(ThresholdVersion):
    """A stored version with its text."""

    text: str


@dataclass(frozen=True, slots=True)
class ThresholdBody:
    format: str
    body: str


async def active_mark(conn: psycopg.AsyncConnection[Any]) -> tuple[int, str] | None:
    """(id, sha256) of the active version, None when none is: what tells one version from another."""
    row = await (await conn.execute("SELECT id, sha256 FROM threshold_versions WHERE active")).fetchone()
    return (int(row[0]), str(row[1])) if row is not None else None


async def version_body(conn: psycopg.AsyncConnection[Any], version_id: int) -> ThresholdBody | None:
    cur = conn.cursor(row_factory=class_row(ThresholdBody))
    await cur.execute("SELECT format, body FROM threshold_versions WHERE id = %s", (version_id,))
    return await cur.fetchone()


async def active_text(conn: psycopg.AsyncConnection[Any]) -> ThresholdText | None:
    cur = conn.cursor(row_factory=class_row(ThresholdText))
    await cur.execute(f"SELECT {VERSION_COLUMNS}, body AS text FROM threshold_versions WHERE active")
    return await cur.fetchone()


async def versions(conn: psycopg.AsyncConnection[Any]) -> list[ThresholdVersion]:
    """Newest first."""
    cur = conn.cursor(row_factory=class_row(ThresholdVersion))
    await cur.execute(f"SELECT {VERSION_COLUMNS} FROM threshold_versions ORDER BY id DESC")
    return await cur.fetchall()


async def lock_versions(conn: psycopg.AsyncConnection[Any]) -> ThresholdVersion | None:
    """Lock the table for a change (inside the caller's transaction); returns the active version."""
    await conn.execute("LOCK TABLE threshold_versions IN SHARE ROW EXCLUSIVE MODE")
    cur = conn.cursor(row_factory=class_row(ThresholdVersion))
    await cur.execute(f"SELECT {VERSION_COLUMNS} FROM threshold_versions WHERE active")
    return await cur.fetchone()


async def save_active(conn: psycopg.AsyncConnection[Any], *, version: str, fmt: str, text: str, sha256: str,
                      actor: str, comment: str) -> ThresholdVersion:
    """Insert a version as the active one (after ``lock_versions``) and NOTIFY its id."""
    await conn.execute("UPDATE threshold_versions SET active = false WHERE active")
    cur = conn.cursor(row_factory=class_row(ThresholdVersion))
    await cur.execute(f"INSERT INTO threshold_versions (version, format, body, sha256, active, created_by, comment) "
                      f"VALUES (%s, %s, %s, %s, true, %s, %s) RETURNING {VERSION_COLUMNS}",
                      (version, fmt, text, sha256, actor, comment))
    row = await cur.fetchone()
    assert row is not None  # INSERT .. RETURNING of one row
    await notify(conn, CONFIG_CHANNEL, str(row.id))
    return row


async def activate(conn: psycopg.AsyncConnection[Any], version_id: int) -> ThresholdVersion:
    """Make a stored version the active one (after ``lock_versions``) and NOTIFY its id."""
    await conn.execute("UPDATE threshold_versions SET active = false WHERE active")
    cur = conn.cursor(row_factory=class_row(ThresholdVersion))
    await cur.execute(f"UPDATE threshold_versions SET active = true WHERE id = %s RETURNING {VERSION_COLUMNS}",
                      (version_id,))
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"threshold_versions {version_id} is gone")
    await notify(conn, CONFIG_CHANNEL, str(version_id))
    return row

"""The audit trail (audit_log): one row per change, written in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: Any  # jsonb
    after: Any   # jsonb
    comment: str | None


async def write_audit(conn: psycopg.AsyncConnection[Any], *, actor: str, action: str, target: str,
                      before: Any, after: Any, comment: str = "") -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, target, before, after, comment) VALUES (%s, %s, %s, %s, %s, %s)",
        (actor, action, target, Jsonb(before) if before is not None else None,
         Jsonb(after) if after is not None else None, comment),
    )


def write_audit_sync(conn: psycopg.Connection[Any], *, actor: str, action: str, target: str,
                     after: Any = None) -> None:
    """``write_audit`` on a synchronous connection (the command line), with no before/comment."""
    conn.execute("INSERT INTO audit_log (actor, action, target, after) VALUES (%s, %s, %s, %s)",
                 (actor, action, target, Jsonb(after) if after is not None else None))


async def recent_audit(conn: psycopg.AsyncConnection[Any], limit: int) -> list[AuditRow]:
    """Newest first."""
    cur = conn.cursor(row_factory=class_row(AuditRow))
    await cur.execute("SELECT id, at, actor, action, target, before, after, comment FROM audit_log "
                      "ORDER BY id DESC LIMIT %s", (limit,))
    return await cur.fetchall()

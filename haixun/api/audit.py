"""Audit trail: one audit_log row per change, in the caller's transaction."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


async def write_audit(conn: psycopg.AsyncConnection, *, actor: str, action: str, target: str,
                      before: Any, after: Any, comment: str = "") -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, target, before, after, comment) VALUES (%s, %s, %s, %s, %s, %s)",
        (actor, action, target, Jsonb(before) if before is not None else None,
         Jsonb(after) if after is not None else None, comment),
    )

"""A subject's decision history (decisions, migration 020: the engine appends a row per decision)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True, slots=True)
class DecisionRow:
    decided_at: datetime
    level: str
    raw_level: str | None
    config_version: str | None
    decision: Any  # jsonb: the stored decision record


async def decision_history(conn: psycopg.AsyncConnection[Any], kind: str, subject_id: str,
                           limit: int = 200) -> list[DecisionRow]:
    """Newest first."""
    cur = conn.cursor(row_factory=class_row(DecisionRow))
    await cur.execute("SELECT decided_at, level, raw_level, config_version, decision FROM decisions "
                      "WHERE subject_kind = %s AND subject_id = %s ORDER BY decided_at DESC LIMIT %s",
                      (kind, subject_id, limit))
    return await cur.fetchall()

"""The live state as the API reads it: state_log rows (snapshot and delta bodies, migration 020) and
current_levels (a base when no snapshot was ever written). The engine writes both: store/levels.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg


@dataclass(frozen=True, slots=True)
class StoredState:
    seq: int
    at: datetime
    kind: str  # 'snapshot' | 'delta'
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CurrentLevel:
    subject_kind: str
    subject_id: str
    level: str
    raw_level: str
    since: datetime
    decided_at: datetime
    decision: dict[str, Any] | None


def _body(text: Any) -> dict[str, Any]:
    """A state body from its JSON text: orjson (a 10,000-station delta is megabytes, parsed by every API
    process), json for what orjson refuses (integers beyond 64 bits)."""
    if isinstance(text, dict):
        return text
    try:
        out: dict[str, Any] = orjson.loads(text)
    except orjson.JSONDecodeError:
        out = json.loads(text)
    return out


def _state(seq: Any, at: datetime, kind: str, body: Any) -> StoredState:
    return StoredState(int(seq), at, kind, _body(body))


async def states_after(conn: psycopg.AsyncConnection[Any], after: int, limit: int | None = None) -> list[StoredState]:
    """state_log rows with seq > ``after``, oldest first (at most ``limit``)."""
    # body::text: parsed by _body (orjson), not by psycopg's jsonb loader (json, 30 % of the API at 10,000 stations)
    cur = await conn.execute("SELECT seq, at, kind, body::text FROM state_log WHERE seq > %s ORDER BY seq LIMIT %s",
                             (after, limit))
    return [_state(*r) for r in await cur.fetchall()]


async def newest_seqs(conn: psycopg.AsyncConnection[Any]) -> tuple[int | None, int | None]:
    """(seq of the newest snapshot, newest seq); None where there is none."""
    cur = await conn.execute("SELECT (SELECT max(seq) FROM state_log WHERE kind = 'snapshot'), "
                             "(SELECT max(seq) FROM state_log)")
    row = await cur.fetchone()
    if row is None:
        return None, None
    return (None if row[0] is None else int(row[0])), (None if row[1] is None else int(row[1]))


async def current_levels(conn: psycopg.AsyncConnection[Any]) -> list[CurrentLevel]:
    cur = await conn.execute("SELECT subject_kind, subject_id, level, raw_level, since, decided_at, decision "
                             "FROM current_levels")
    return [CurrentLevel(*r) for r in await cur.fetchall()]


async def oldest_seq(conn: psycopg.AsyncConnection[Any]) -> int | None:
    """The oldest seq state_log still holds (older rows are pruned), None when empty."""
    row = await (await conn.execute("SELECT min(seq) FROM state_log")).fetchone()
    return None if row is None or row[0] is None else int(row[0])

"""The engine's writes and restores of levels: current_levels, decisions, level_changes (the alarm
list, data-outage alarms included) and state_log (docs/state.md, docs/engine.md).

The caller holds the transaction (engine/publish.py ``write_cycle``: one transaction per cycle,
ending with the NOTIFY of its seq); each function here is one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True, slots=True)
class LevelRow:
    """One subject's decision as stored (``decision``: the JSON record)."""

    kind: str
    id: str
    level: str
    raw_level: str
    since: datetime
    decision: dict[str, Any]


class StoredLevel(NamedTuple):
    """A current_levels row, with the time of its subject's newest decisions row."""

    row: LevelRow
    last_history_at: datetime | None


async def next_state_seq(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT nextval(pg_get_serial_sequence('state_log', 'seq'))")
    row = await cur.fetchone()
    assert row is not None  # nextval always returns a row
    return int(row[0])


async def upsert_current(conn: psycopg.AsyncConnection[Any], rows: Sequence[LevelRow], *, decided_at: datetime,
                         seq: int) -> None:
    async with conn.cursor() as c:
        await c.executemany(
            "INSERT INTO current_levels (subject_kind, subject_id, level, raw_level, since, decided_at,"
            " decision, seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (subject_kind, subject_id) DO UPDATE SET level = EXCLUDED.level,"
            " raw_level = EXCLUDED.raw_level, since = EXCLUDED.since, decided_at = EXCLUDED.decided_at,"
            " decision = EXCLUDED.decision, seq = EXCLUDED.seq",
            [(d.kind, d.id, d.level, d.raw_level, d.since, decided_at, Jsonb(d.decision), seq) for d in rows])


async def insert_decisions(conn: psycopg.AsyncConnection[Any], rows: Sequence[LevelRow], *, decided_at: datetime,
                           config_version: str) -> None:
    async with conn.cursor() as c:
        await c.executemany(
            "INSERT INTO decisions (subject_kind, subject_id, decided_at, level, raw_level, decision,"
            " config_version) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(d.kind, d.id, decided_at, d.level, d.raw_level, Jsonb(d.decision), config_version) for d in rows])


async def _returning_id(conn: psycopg.AsyncConnection[Any], query: str, params: tuple[Any, ...]) -> int:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None  # INSERT .. RETURNING of one row
    return int(row[0])


async def insert_level_change(conn: psycopg.AsyncConnection[Any], *, kind: str, id: str, at: datetime,
                              from_level: str, to_level: str, from_floor: str | None, to_floor: str | None,
                              reasons: Any) -> int:
    """A level change (the alarm list); returns its id."""
    return await _returning_id(
        conn,
        "INSERT INTO level_changes (subject_kind, subject_id, at, from_level, to_level, from_floor, to_floor,"
        " reasons, last_notified_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (kind, id, at, from_level, to_level, from_floor, to_floor, Jsonb(reasons), at))


async def insert_outage_alarm(conn: psycopg.AsyncConnection[Any], *, kind: str, id: str, at: datetime,
                              detail: str, reasons: list[dict[str, Any]]) -> int:
    """A data-outage alarm (online -> unknown); returns its id."""
    return await _returning_id(
        conn,
        "INSERT INTO level_changes (subject_kind, subject_id, at, from_level, to_level, alarm_type, detail,"
        " reasons, last_notified_at) VALUES (%s, %s, %s, 'online', 'unknown', 'data_outage', %s, %s, %s)"
        " RETURNING id", (kind, id, at, detail, Jsonb(reasons), at))


async def clear_outage_alarms(conn: psycopg.AsyncConnection[Any], *, kind: str, id: str, at: datetime) -> list[int]:
    """Clear the open data-outage alarms of a subject; returns their ids."""
    cur = await conn.execute(
        "UPDATE level_changes SET cleared_at = %s WHERE alarm_type = 'data_outage' AND subject_kind = %s"
        " AND subject_id = %s AND cleared_at IS NULL RETURNING id", (at, kind, id))
    return [int(r[0]) for r in await cur.fetchall()]


async def open_outage_alarms(conn: psycopg.AsyncConnection[Any]) -> dict[tuple[str, str], int]:
    """(kind, id) -> the newest data-outage alarm not cleared yet."""
    cur = await conn.execute("SELECT subject_kind, subject_id, max(id) FROM level_changes"
                             " WHERE alarm_type = 'data_outage' AND cleared_at IS NULL GROUP BY 1, 2")
    return {(k, s): int(i) for k, s, i in await cur.fetchall()}


async def insert_state(conn: psycopg.AsyncConnection[Any], *, seq: int, at: datetime, snapshot: bool,
                       body: dict[str, Any]) -> None:
    # orjson: the body is plain JSON already (engine.publish.jsonable); megabytes at 10,000 stations
    await conn.execute("INSERT INTO state_log (seq, at, kind, body) VALUES (%s, %s, %s, %s)",
                       (seq, at, "snapshot" if snapshot else "delta", Jsonb(body, dumps=orjson.dumps)))


async def stored_levels(conn: psycopg.AsyncConnection[Any]) -> list[StoredLevel]:
    """current_levels, each with the time of its subject's newest decisions row."""
    cur = await conn.execute(
        "SELECT c.subject_kind, c.subject_id, c.level, c.raw_level, c.since, c.decision,"
        " (SELECT max(d.decided_at) FROM decisions d WHERE d.subject_kind = c.subject_kind"
        "  AND d.subject_id = c.subject_id) FROM current_levels c")
    return [StoredLevel(LevelRow(*r[:6]), r[6]) for r in await cur.fetchall()]


async def prune_state_log(conn: psycopg.AsyncConnection[Any], before: datetime) -> int:
    """Delete state_log rows older than ``before``, always keeping the newest snapshot."""
    cur = await conn.execute(
        "DELETE FROM state_log WHERE at < %s AND seq < coalesce("
        " (SELECT max(seq) FROM state_log WHERE kind = 'snapshot'), 0)", (before,))
    return cur.rowcount

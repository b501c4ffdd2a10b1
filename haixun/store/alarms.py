"""The alarm list as the API reads and changes it: level_changes rows (the engine inserts them,
store/levels.py), their acknowledgement and the re-notification sweep of unacknowledged red alarms.

``renotify_due`` is safe to call from several processes (API instances or the engine): a
transaction-level advisory lock serialises the sweep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from haixun.store.channels import ALARM_CHANNEL
from haixun.store.notify import notify

ALARM_COLUMNS = ("id, subject_kind, subject_id, at, from_level, to_level, from_floor, to_floor, alarm_type, "
                 "cleared_at, detail, reasons, acknowledged_at, acknowledged_by, ack_comment, notify_count, "
                 "last_notified_at")
RENOTIFY_LOCK = (0x6861_6978, 25)   # (class "haix", 25): alarm re-notification sweep
# The engine NOTIFYs '{"event": "new", "id": N}' on ALARM_CHANNEL for every level_changes row it inserts;
# the API adds "renotify", "ack" and "ops" (status change). tests/test_api_engine.py pins it.


@dataclass(frozen=True, slots=True)
class AlarmRow:
    """One level_changes row (migrations 020, 040)."""

    id: int
    subject_kind: str
    subject_id: str
    at: datetime
    from_level: str
    to_level: str
    from_floor: str | None
    to_floor: str | None
    alarm_type: str
    cleared_at: datetime | None
    detail: str
    reasons: Any  # jsonb: the decision's reasons (a list of objects)
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_comment: str | None
    notify_count: int
    last_notified_at: datetime


async def alarm(conn: psycopg.AsyncConnection[Any], alarm_id: int, *, for_update: bool = False) -> AlarmRow | None:
    cur = conn.cursor(row_factory=class_row(AlarmRow))
    lock = " FOR UPDATE" if for_update else ""
    await cur.execute(f"SELECT {ALARM_COLUMNS} FROM level_changes WHERE id = %s{lock}", (alarm_id,))
    return await cur.fetchone()


async def acknowledge(conn: psycopg.AsyncConnection[Any], alarm_id: int, *, actor: str, comment: str) -> AlarmRow:
    """Mark the alarm acknowledged now by ``actor`` and NOTIFY "ack" (the caller holds the transaction
    and the row lock: ``alarm(..., for_update=True)``)."""
    cur = conn.cursor(row_factory=class_row(AlarmRow))
    await cur.execute(f"UPDATE level_changes SET acknowledged_at = now(), acknowledged_by = %s, ack_comment = %s "
                      f"WHERE id = %s RETURNING {ALARM_COLUMNS}", (actor, comment, alarm_id))
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"level_changes {alarm_id} is gone")
    await notify(conn, ALARM_CHANNEL, json.dumps({"event": "ack", "id": alarm_id}))
    return row


async def alarms(conn: psycopg.AsyncConnection[Any], *, limit: int, alarm_type: str | None = None,
                 is_open: bool | None = None, unacked: bool | None = None, to_level: str | None = None,
                 before_id: int | None = None) -> list[AlarmRow]:
    """Newest first (by id); a filter left None is not applied."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if alarm_type:
        where.append("alarm_type = %s")
        params.append(alarm_type)
    if is_open is not None:
        where.append("cleared_at IS NULL" if is_open else "cleared_at IS NOT NULL")
    if unacked is not None:
        where.append("acknowledged_at IS NULL" if unacked else "acknowledged_at IS NOT NULL")
    if to_level:
        where.append("to_level = %s")
        params.append(to_level)
    if before_id is not None:
        where.append("id < %s")
        params.append(before_id)
    cur = conn.cursor(row_factory=class_row(AlarmRow))
    await cur.execute(f"SELECT {ALARM_COLUMNS} FROM level_changes WHERE {' AND '.join(where)} "
                      "ORDER BY id DESC LIMIT %s", (*params, limit))
    return await cur.fetchall()


async def subject_alarms(conn: psycopg.AsyncConnection[Any], kind: str, subject_id: str,
                         limit: int = 50) -> list[AlarmRow]:
    """The newest alarms of one subject (``kind``: segment, village, town, gateway, station)."""
    cur = conn.cursor(row_factory=class_row(AlarmRow))
    await cur.execute(f"SELECT {ALARM_COLUMNS} FROM level_changes WHERE subject_kind = %s "
                      "AND subject_id = %s ORDER BY at DESC, id DESC LIMIT %s", (kind, subject_id, limit))
    return await cur.fetchall()


async def renotify_due(conn: psycopg.AsyncConnection[Any], every_s: float) -> list[int]:
    """Bump unacknowledged red alarms not notified for ``every_s`` seconds and
    NOTIFY each on ``haixun_alarm``; returns the ids bumped."""
    async with conn.transaction():
        got = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", RENOTIFY_LOCK)).fetchone()
        if not got or not got[0]:
            return []
        cur = await conn.execute(
            "UPDATE level_changes SET notify_count = notify_count + 1, last_notified_at = now() "
            "WHERE acknowledged_at IS NULL AND to_level = 'red' "
            "AND last_notified_at <= now() - make_interval(secs => %s) RETURNING id", (every_s,))
        ids = [int(r[0]) for r in await cur.fetchall()]
        for i in ids:
            await notify(conn, ALARM_CHANNEL, json.dumps({"event": "renotify", "id": i}))
    return ids

"""Alarm (level_changes) queries, acknowledgement and re-notification.

``renotify_due`` is safe to call from several processes (API instances or the
engine): a transaction-level advisory lock serialises the sweep.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from haixun.store.channels import ALARM_CHANNEL

ALARM_COLUMNS = ("id, subject_kind, subject_id, at, from_level, to_level, from_floor, to_floor, alarm_type, "
                 "cleared_at, detail, reasons, acknowledged_at, acknowledged_by, ack_comment, notify_count, "
                 "last_notified_at")
RENOTIFY_LOCK = (0x6861_6978, 25)   # (class "haix", 25): alarm re-notification sweep
# The engine NOTIFYs '{"event": "new", "id": N}' here for every level_changes row it inserts;
# the API adds "renotify", "ack" and "ops" (status change). tests/test_api_engine.py pins it.


def alarm_json(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for k in ("at", "acknowledged_at", "last_notified_at", "cleared_at"):
        if isinstance(out.get(k), datetime):
            out[k] = out[k].isoformat()
    return out


async def get_alarm(conn: psycopg.AsyncConnection, alarm_id: int) -> dict[str, Any] | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {ALARM_COLUMNS} FROM level_changes WHERE id = %s", (alarm_id,))
    return await cur.fetchone()


async def renotify_due(conn: psycopg.AsyncConnection, every_s: float) -> list[int]:
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
        ids = [r[0] for r in await cur.fetchall()]
        for i in ids:
            await conn.execute("SELECT pg_notify(%s, %s)", (ALARM_CHANNEL, json.dumps({"event": "renotify", "id": i})))
    return ids

"""What the API's readiness check reads: the engine leader's record and lock, and the newest data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from haixun.store.channels import LOCK_CLASS, LOCK_ENGINE


@dataclass(frozen=True, slots=True)
class LeaderRecord:
    """engine_leader's row, and whether its backend still holds the engine's advisory lock."""

    pid: int
    instance_id: str
    heartbeat_at: datetime | None
    holds_lock: bool


@dataclass(frozen=True, slots=True)
class Freshness:
    newest_received_at: datetime | None  # wall clock: when ingest stored the newest latest value
    newest_state_at: datetime | None     # clock (data) time of the newest state_log row


async def ping(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute("SELECT 1")


async def leader_record(conn: psycopg.AsyncConnection[Any]) -> LeaderRecord | None:
    """``pg_try_advisory_lock(LOCK_CLASS, LOCK_ENGINE)`` is classid, objid, objsubid 2 in pg_locks."""
    row = await (await conn.execute(
        "SELECT l.pid, l.instance_id, l.heartbeat_at, "
        " EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted"
        "  AND k.pid = l.backend_pid AND k.classid = %s::bigint::oid AND k.objid = %s::bigint::oid"
        "  AND k.objsubid = 2) "
        "FROM engine_leader l WHERE l.id = 1", (LOCK_CLASS, LOCK_ENGINE))).fetchone()
    return None if row is None else LeaderRecord(int(row[0]), str(row[1]), row[2], bool(row[3]))


async def freshness(conn: psycopg.AsyncConnection[Any]) -> Freshness:
    row = await (await conn.execute(
        "SELECT (SELECT max(received_at) FROM latest_readings), (SELECT max(at) FROM state_log)")).fetchone()
    return Freshness(row[0], row[1]) if row is not None else Freshness(None, None)

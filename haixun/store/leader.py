"""The engine leader's session: the advisory lock (store/channels.py keys) and ``engine_leader``.

engine/leader.py holds the session and decides; this module is its SQL. The lock is
session-level, so it lives exactly as long as the connection ``open_session`` returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import psycopg

from haixun.store.channels import LOCK_CLASS, LOCK_ENGINE

# Server-side keep-alive for the lock session, so that PostgreSQL notices a
# vanished leader host within ~15 s and frees the lock (user-settable GUCs).
_SESSION_SETUP = (
    "SET tcp_keepalives_idle = 5",
    "SET tcp_keepalives_interval = 2",
    "SET tcp_keepalives_count = 5",
    "SET application_name = 'haixun-engine-leader'",
)


class LockAttempt(NamedTuple):
    got: bool
    backend_pid: int
    now: datetime  # the server's transaction time of the attempt


async def open_session(url: str) -> psycopg.AsyncConnection[Any]:
    """An autocommit connection with client- and server-side TCP keep-alive."""
    conn = await psycopg.AsyncConnection.connect(
        url, autocommit=True, connect_timeout=5,
        keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=3,
    )
    for stmt in _SESSION_SETUP:
        await conn.execute(stmt)
    return conn


async def try_lock(conn: psycopg.AsyncConnection[Any]) -> LockAttempt:
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s), pg_backend_pid(), now()", (LOCK_CLASS, LOCK_ENGINE))
    row = await cur.fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    return LockAttempt(bool(row[0]), int(row[1]), row[2])


async def record_leader(conn: psycopg.AsyncConnection[Any], *, instance_id: str, host: str, pid: int,
                        backend_pid: int, since: datetime) -> None:
    """``engine_leader`` names this instance (its cycle marks start afresh)."""
    await conn.execute(
        "INSERT INTO engine_leader (id, instance_id, host, pid, backend_pid, since, heartbeat_at)"
        " VALUES (1, %s, %s, %s, %s, %s, now())"
        " ON CONFLICT (id) DO UPDATE SET instance_id = EXCLUDED.instance_id, host = EXCLUDED.host,"
        " pid = EXCLUDED.pid, backend_pid = EXCLUDED.backend_pid, since = EXCLUDED.since,"
        " heartbeat_at = EXCLUDED.heartbeat_at, last_cycle_at = NULL, last_seq = NULL",
        (instance_id, host, pid, backend_pid, since))


async def heartbeat(conn: psycopg.AsyncConnection[Any], instance_id: str) -> None:
    await conn.execute("UPDATE engine_leader SET heartbeat_at = now() WHERE id = 1 AND instance_id = %s",
                       (instance_id,))


async def mark_cycle(conn: psycopg.AsyncConnection[Any], *, instance_id: str, at: datetime, seq: int) -> None:
    """The leader's last written cycle (``last_cycle_at`` wall time, ``last_seq``)."""
    await conn.execute("UPDATE engine_leader SET last_cycle_at = %s, last_seq = %s WHERE id = 1"
                       " AND instance_id = %s", (at, seq, instance_id))


async def release(conn: psycopg.AsyncConnection[Any], instance_id: str) -> None:
    """Remove this instance's ``engine_leader`` row and give up the lock."""
    await conn.execute("DELETE FROM engine_leader WHERE id = 1 AND instance_id = %s", (instance_id,))
    await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, LOCK_ENGINE))

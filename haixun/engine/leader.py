"""Engine leadership: a session-level PostgreSQL advisory lock.

Exactly one engine computes at a time. The leader holds
``pg_try_advisory_lock(LOCK_CLASS, LOCK_ENGINE)`` on a dedicated connection and
also writes every cycle's transaction on that same connection, so a leader
whose session is gone (process killed, connection terminated, network cut and
noticed by TCP keep-alive) can neither hold the lock nor write: PostgreSQL
releases the lock when the session ends, and the standby's next attempt wins.

Standbys call :meth:`LeaderLock.try_acquire` every ``poll_s``. The leader calls
:meth:`LeaderLock.heartbeat` every ``heartbeat_s``; a failed or slow heartbeat
means leadership is lost and the service stops computing at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from haixun.errors import HaixunError
from haixun.store import leader as store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """Who this engine process is (recorded in ``engine_leader``)."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


class LeadershipLost(HaixunError, RuntimeError):
    """The lock session is gone; the caller must stop computing."""


class LeaderLock:
    """The advisory lock and the leader's write connection."""

    def __init__(self, url: str, instance: InstanceInfo, *, heartbeat_timeout_s: float = 3.0) -> None:
        self._url = url
        self.instance = instance
        self._heartbeat_timeout_s = heartbeat_timeout_s
        self._conn: psycopg.AsyncConnection | None = None
        self.held = False
        self.since: datetime | None = None
        self.backend_pid: int | None = None

    @property
    def conn(self) -> psycopg.AsyncConnection:
        """The lock session; only valid while ``held``."""
        if self._conn is None or not self.held:
            raise LeadershipLost("not the leader")
        return self._conn

    async def try_acquire(self) -> bool:
        """One attempt at the lock. True when this instance now leads."""
        if self.held:
            return True
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await store.open_session(self._url)
            got, backend_pid, now = await store.try_lock(self._conn)
        except psycopg.Error as exc:
            log.warning("leader lock attempt failed: %s", exc)
            await self._drop_conn()
            return False
        if not got:
            return False
        self.held, self.since, self.backend_pid = True, now, backend_pid
        try:
            await store.record_leader(self._conn, instance_id=self.instance.instance_id, host=self.instance.host,
                                      pid=self.instance.pid, backend_pid=backend_pid, since=now)
        except psycopg.Error as exc:
            log.warning("lock taken but the leader row could not be written: %s", exc)
            await self.release()
            return False
        log.info("engine %s (%s pid %s) is now the leader", self.instance.instance_id,
                 self.instance.host, self.instance.pid)
        return True

    async def heartbeat(self) -> bool:
        """Prove the lock session is alive (and refresh ``engine_leader``). False = lost."""
        if not self.held or self._conn is None:
            return False
        try:
            await asyncio.wait_for(store.heartbeat(self._conn, self.instance.instance_id),
                                   timeout=self._heartbeat_timeout_s)
            return True
        except (TimeoutError, psycopg.Error, OSError) as exc:
            log.error("leadership lost: lock session failed (%s)", exc)
            await self._lost()
            return False

    async def _lost(self) -> None:
        self.held = False
        await self._drop_conn()

    async def _drop_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except Exception:  # noqa: BLE001 - the session is being abandoned anyway
                pass

    async def release(self) -> None:
        """Give up the lock (clean shutdown) and close the session."""
        if self.held and self._conn is not None and not self._conn.closed:
            try:
                await store.release(self._conn, self.instance.instance_id)
            except psycopg.Error as exc:
                log.warning("releasing the leader lock: %s", exc)
        self.held = False
        await self._drop_conn()

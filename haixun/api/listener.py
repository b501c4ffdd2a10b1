"""LISTEN haixun_state / haixun_alarm and feed the live state and the hub."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from haixun.api.live import LiveState, StateRow
from haixun.lifecycle import Lifecycle
from haixun.store import state_reads
from haixun.store.channels import ALARM_CHANNEL, CONFIG_CHANNEL, STATE_CHANNEL
from haixun.store.notify import listen
from haixun.store.state_reads import StoredState

log = logging.getLogger(__name__)


def _row(r: StoredState) -> StateRow:
    return StateRow(seq=r.seq, at=r.at, kind=r.kind, body=r.body)


async def fetch_rows_after(pool: AsyncConnectionPool, after: int, limit: int) -> list[StateRow]:
    async with pool.connection() as conn:
        return [_row(r) for r in await state_reads.states_after(conn, after, limit)]


async def load_initial(pool: AsyncConnectionPool, live: LiveState, ring_size: int) -> None:
    """Latest snapshot + following deltas; without any snapshot, a base built
    from current_levels and the last ``ring_size`` deltas."""
    async with pool.connection() as conn:
        snap, newest = await state_reads.newest_seqs(conn)
        last = newest or 0
        start = max(0, last - ring_size)
        if snap is not None:
            start = min(start, snap - 1)
        else:
            live.body = await _base_from_current_levels(conn)
        live.seq = live.ring_floor = start
        rows = [_row(r) for r in await state_reads.states_after(conn, start)]
    # Rows before the snapshot only fill the ring; the snapshot resets the body.
    for r in rows:
        live.apply(r)


async def _base_from_current_levels(conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"segments": {}, "areas": {"towns": {}, "villages": {}}}
    for r in await state_reads.current_levels(conn):
        entry = dict(r.decision or {})
        entry.update(level=r.level, raw_level=r.raw_level, since=r.since.isoformat(),
                     decided_at=r.decided_at.isoformat())
        kind = r.subject_kind
        if kind == "segment":
            body["segments"][r.subject_id] = entry
        elif kind == "city":
            body["areas"]["city"] = entry
        elif kind in ("town", "village"):
            body["areas"][kind + "s"][r.subject_id] = entry
    return body


class StateListener:
    """One LISTEN connection; reconnects with backoff; polls as a safety net. ``start()`` runs it as a
    task, ``stop()`` ends it (once each, haixun/lifecycle.py); ``connected`` is set while it listens."""

    def __init__(self, url: str, pool: AsyncConnectionPool, live: LiveState, *,
                 on_rows: Callable[[list[StateRow]], Awaitable[None]],
                 on_alarm: Callable[[dict[str, Any]], Awaitable[None]],
                 on_config: Callable[[], Awaitable[None]],
                 poll_s: float, metrics: Any) -> None:
        self.url = url
        self.pool = pool
        self.live = live
        self.on_rows = on_rows
        self.on_alarm = on_alarm
        self.on_config = on_config
        self.poll_s = poll_s
        self.metrics = metrics
        self.connected = asyncio.Event()
        self._catchup_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._life = Lifecycle("StateListener")

    async def start(self) -> None:
        await self._life.start(self._begin, self._end)

    async def stop(self) -> None:
        await self._life.stop(self._end)

    async def _begin(self) -> None:
        self._task = asyncio.create_task(self.run(), name="haixun-api-listener")

    async def _end(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.connected.clear()

    async def catch_up(self) -> None:
        async with self._catchup_lock:
            while True:
                rows = await fetch_rows_after(self.pool, self.live.seq, 1000)
                if not rows:
                    return
                fresh = [r for r in rows if self.live.apply(r)]
                if fresh:
                    await self.on_rows(fresh)
                if len(rows) < 1000:
                    return

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await listen(conn, STATE_CHANNEL)
                    await listen(conn, ALARM_CHANNEL)
                    await listen(conn, CONFIG_CHANNEL)
                    self.connected.set()
                    backoff = 0.5
                    await self.on_config()  # a threshold activated while this connection was down
                    await self.catch_up()
                    await self._loop(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost, server restart, ...
                self.connected.clear()
                self.metrics.listener_reconnects.inc()
                log.warning("state listener: %s; reconnecting in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _loop(self, conn: psycopg.AsyncConnection) -> None:
        poller = asyncio.create_task(self._poll())
        try:
            async for n in conn.notifies():
                if n.channel == STATE_CHANNEL:
                    await self.catch_up()
                elif n.channel == ALARM_CHANNEL:
                    try:
                        await self.on_alarm(json.loads(n.payload))
                    except (ValueError, TypeError):
                        log.warning("bad %s payload ignored", ALARM_CHANNEL)
                elif n.channel == CONFIG_CHANNEL:
                    await self.on_config()  # the payload (a version id) is a hint: the active row decides
        finally:
            poller.cancel()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.catch_up()
            except Exception as exc:  # the LISTEN loop handles reconnects
                log.warning("state poll failed: %s", exc)

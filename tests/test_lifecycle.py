"""Service life cycles refuse misuse with a clear error (issue 17, haixun/lifecycle.py): stop() before start(),
start() twice (a leaked pool / second MQTT client), a start() that times out leaves nothing running.
Real PostgreSQL and Mosquitto; a closed port of this test's range (27700-27799) stands for a dead broker."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from haixun.api.listener import StateListener
from haixun.api.live import LiveState
from haixun.api.metrics import ApiMetrics
from haixun.engine.service import EngineService
from haixun.ingest.service import IngestService
from haixun.lifecycle import LifecycleError
from haixun.settings import Settings
from haixun.store.db import open_pool
from tests.support.net import free_port_in
from tests.support.wait import eventually


def _closed_port() -> int:
    """A port in 27700-27799 that nothing listens on."""
    return free_port_in(range(27799, 27699, -1))


def _backends(db_url: str) -> int:
    """Sessions on the test database other than this query's own."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()").fetchone()
    return int(row[0]) if row else 0


async def _no_backends_left(db_url: str) -> None:
    """Backends close asynchronously on the server side: wait (generously) for them to go."""
    await eventually(lambda: _backends(db_url) == 0, step=0.1, what="every backend of the service closed")


def _tasks_named(prefix: str) -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(prefix) and not t.done()]


# ---------------------------------------------------------------- ingest
async def test_ingest_stop_before_start_is_refused(settings: Settings) -> None:
    svc = IngestService(settings, registry=CollectorRegistry())
    with pytest.raises(LifecycleError, match=r"IngestService.stop\(\) before start\(\)"):
        await svc.stop()


async def test_ingest_start_that_times_out_leaves_no_task_running(settings: Settings) -> None:
    dead = settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{_closed_port()}"})
    svc = IngestService(dead, registry=CollectorRegistry())
    with pytest.raises(TimeoutError):
        await svc.start(wait_connected=1.0)
    assert _tasks_named("ingest-") == []  # both the writer and the MQTT reconnect loop are gone
    await svc.stop()  # after a failed start: nothing to do, no error
    with pytest.raises(LifecycleError, match="start\\(\\) called twice"):
        await svc.start(wait_connected=1.0)


async def test_ingest_start_twice_is_refused(settings: Settings) -> None:
    svc = IngestService(settings, registry=CollectorRegistry())
    await svc.start()
    try:
        tasks = _tasks_named("ingest-")
        assert len(tasks) == 2
        with pytest.raises(LifecycleError, match=r"IngestService.start\(\) called twice: it is already running"):
            await svc.start()
        assert _tasks_named("ingest-") == tasks  # no second writer, no second MQTT client
    finally:
        await svc.stop()
    await svc.stop()  # a second stop is a no-op
    assert _tasks_named("ingest-") == []


# ---------------------------------------------------------------- engine
async def test_engine_stop_before_start_is_refused(settings: Settings) -> None:
    with pytest.raises(LifecycleError, match=r"EngineService.stop\(\) before start\(\)"):
        await EngineService(settings, registry=CollectorRegistry()).stop()


async def test_engine_start_twice_is_refused_and_leaks_no_pool(settings: Settings, db_url: str) -> None:
    svc = EngineService(settings, registry=CollectorRegistry())
    await svc.start()
    try:
        with pytest.raises(LifecycleError, match=r"EngineService.start\(\) called twice"):
            await svc.start()
    finally:
        await svc.stop()
    # every connection of the engine is closed: a second pool opened by the second start would remain
    await _no_backends_left(db_url)
    with pytest.raises(LifecycleError, match="it was stopped"):
        await svc.start()


# ---------------------------------------------------------------- api listener
async def test_state_listener_lifecycle(settings: Settings, db_url: str) -> None:
    pool = await open_pool(db_url, name="test-listener")

    async def nothing(*_: object) -> None:
        return None

    listener = StateListener(db_url, pool, LiveState(10), on_rows=nothing, on_alarm=nothing, on_config=nothing,
                             poll_s=60.0, metrics=ApiMetrics())
    try:
        with pytest.raises(LifecycleError, match=r"StateListener.stop\(\) before start\(\)"):
            await listener.stop()
        await listener.start()
        await asyncio.wait_for(listener.connected.wait(), 30)
        with pytest.raises(LifecycleError, match="called twice"):
            await listener.start()
        await listener.stop()
        assert not listener.connected.is_set() and _tasks_named("haixun-api-listener") == []
    finally:
        await pool.close()
    await _no_backends_left(db_url)  # the LISTEN connection is closed too

"""Issue 14 item 10: connections the server killed are never handed out (API and engine pools), and
DB-backed routes answer 503 with a message during an outage instead of hanging."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from haixun.engine.service import EngineService
from haixun.settings import Settings
from tests.support.api import running_api, sync_test_geography
from tests.support.clock import utcnow
from tests.support.db import PG_SERVER
from tests.support.engine import FAST, calm, insert_geography_stations
from tests.support.wait import eventually

DB_ROUTES = ("/api/v1/stations", "/api/v1/shelters", "/api/v1/segments", "/api/v1/warnings", "/api/v1/cap/alerts")


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _terminate_others(db_url: str) -> int:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                "AND pid <> pg_backend_pid()", (_dbname(db_url),)).fetchall())


def _allow_connections(db_url: str, allow: bool) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(_dbname(db_url)), sql.Literal(allow)))


async def test_terminated_pool_connections_are_replaced_not_handed_out(settings: Settings, db_url: str,
                                                                       tmp_path: Path) -> None:
    sync_test_geography(db_url)
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base, timeout=20) as c:
        for path in DB_ROUTES:  # warm the pool: several idle connections
            assert (await c.get(path)).status_code == 200
        for _ in range(3):
            assert _terminate_others(db_url) > 0
            for path in DB_ROUTES:
                r = await c.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text)


async def test_db_routes_fail_fast_with_503_during_an_outage(settings: Settings, db_url: str,
                                                             tmp_path: Path) -> None:
    sync_test_geography(db_url)
    async with running_api(settings, tmp_path, db_checkout_timeout_s=1.0) as api, \
            httpx.AsyncClient(base_url=api.base, timeout=8) as c:
        assert (await c.get("/api/v1/stations")).status_code == 200
        _allow_connections(db_url, False)
        try:
            _terminate_others(db_url)
            for path in DB_ROUTES:
                r = await c.get(path)  # before: the pool's 30 s wait (the client gives up after 8 s)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.json()["error"]["code"] == "unavailable" and "database" in r.json()["error"]["message"]
                assert r.headers["retry-after"]
            assert (await c.get("/healthz")).status_code == 200
            assert (await c.get("/api/v1/risk", params={"lat": 30.6009, "lon": 121.02})).status_code == 200
        finally:
            _allow_connections(db_url, True)
        # and back once the database is
        async def stations_served() -> bool:
            return (await c.get("/api/v1/stations")).status_code == 200
        await eventually(stations_served, what="/api/v1/stations served again")
        assert (await c.get("/api/v1/stations")).status_code == 200


async def test_a_statement_stuck_behind_a_lock_is_cut_short(settings: Settings, db_url: str,
                                                            tmp_path: Path) -> None:
    sync_test_geography(db_url)
    async with running_api(settings, tmp_path, db_statement_timeout_ms=800) as api, \
            httpx.AsyncClient(base_url=api.base, timeout=8) as c:
        with psycopg.connect(db_url) as locker:
            locker.execute("LOCK TABLE stations IN ACCESS EXCLUSIVE MODE")
            r = await c.get("/api/v1/stations")
            assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
            locker.rollback()
        assert (await c.get("/api/v1/stations")).status_code == 200


async def test_engine_promotes_again_after_its_pool_connections_were_terminated(settings: Settings,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="haixun.engine")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        calm(conn, utcnow())
    a = EngineService(settings, options=FAST)
    await a.start()
    try:
        await asyncio.wait_for(a.leading.wait(), 5)
        seq = await eventually(lambda: a.last_seq)
        changes = a.metrics.leader_changes._value.get()
        # every session of the engine dies (lock session and pooled connections)
        _terminate_others(settings.database_url)
        await eventually(lambda: not a.leading.is_set(), timeout=60)
        # it wins the lock again and its promotion (pool reads) succeeds with fresh connections
        await eventually(lambda: a.is_leader and a.metrics.leader_changes._value.get() > changes, timeout=30)
        # and computes again: its promotion's snapshot is written (it may already be, before this line
        # runs; compare with the seq of before the outage, not of now)
        await eventually(lambda: a.last_seq and a.last_seq > seq, timeout=60)
        # before: the first promotion got a dead pooled connection ("promotion failed; giving up the lock")
        assert "promotion failed" not in caplog.text
    finally:
        await a.stop()


async def test_a_replay_during_an_outage_closes_with_1013(settings: Settings, db_url: str, tmp_path: Path) -> None:
    import json

    import websockets

    from tests.support.api import engine_write

    first = engine_write(db_url, {"segments": {}}, kind="snapshot")
    with psycopg.connect(db_url, autocommit=True) as conn:
        for i in range(40):
            conn.execute("INSERT INTO state_log (kind, body) VALUES ('delta', %s::jsonb)", (json.dumps({"i": i}),))
    async with running_api(settings, tmp_path, ring_size=8, db_checkout_timeout_s=1.0) as api:
        _allow_connections(db_url, False)
        try:
            _terminate_others(db_url)
            async with websockets.connect(api.ws + f"/ws/live?since={first}") as ws:
                try:
                    await asyncio.wait_for(ws.recv(), 10)
                    raise AssertionError("a replay was served with the database down")
                except websockets.ConnectionClosed as exc:
                    assert exc.rcvd is not None and exc.rcvd.code == 1013
        finally:
            _allow_connections(db_url, True)

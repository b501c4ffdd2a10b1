"""Ingest under faults: database down (spool), restart with a spool, broker restart."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from haixun.contract import format_ts
from haixun.ingest.service import IngestService
from haixun.settings import MqttEndpoint
from tests.brokers import PrivateBroker, add_stations, obs_json, publish_all, scalar, wait_for_count
from tests.conftest import PG_SERVER, free_port


def _set_db_available(db_url: str, available: bool) -> None:
    name = conninfo_to_dict(db_url)["dbname"]
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), sql.Literal(available)))
        if not available:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


def _messages(settings, stations: list[str], start: datetime, n_per_station: int, offset: int = 0):
    out = []
    for k in range(offset, offset + n_per_station):
        for s in stations:
            out.append((settings.topic("obs", s),
                        obs_json(format_ts(start + timedelta(minutes=k)), {"tide_level": 2.0 + 0.001 * k})))
    return out


def _spooled(svc: IngestService) -> float:
    return svc.metrics.spooled._value.get()  # noqa: SLF001


async def test_database_down_spools_then_stores_everything(settings, mqtt_endpoint):
    stations = [f"D{i}" for i in range(20)]
    add_stations(settings.database_url, stations)
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=2)
    first = _messages(settings, stations, start, 5)
    second = _messages(settings, stations, start, 20, offset=5)
    try:
        async with IngestService(settings) as svc:
            await publish_all(mqtt_endpoint, first)
            assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", len(first)) == len(first)
            await asyncio.to_thread(_set_db_available, settings.database_url, False)
            await publish_all(mqtt_endpoint, second)
            for _ in range(100):
                if _spooled(svc) >= len(second):
                    break
                await asyncio.sleep(0.1)
            assert _spooled(svc) == len(second)  # everything received while down went to disk
            assert svc.spool.bytes > 0
            await asyncio.to_thread(_set_db_available, settings.database_url, True)
            total = len(first) + len(second)
            assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", total) == total
            for _ in range(50):
                if svc.spool.is_empty():
                    break
                await asyncio.sleep(0.1)
            assert svc.spool.is_empty() and svc.spool.bytes == 0
    finally:
        await asyncio.to_thread(_set_db_available, settings.database_url, True)
    assert scalar(settings.database_url, "SELECT count(*) FROM latest_readings") == 20
    assert scalar(settings.database_url, "SELECT max(ts) FROM latest_readings") == start + timedelta(minutes=24)
    assert scalar(settings.database_url, "SELECT count(*) FROM ingest_spool_progress") == 0


async def test_restart_drains_spool_left_by_previous_run(settings, mqtt_endpoint):
    stations = ["R1", "R2"]
    add_stations(settings.database_url, stations)
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
    msgs = _messages(settings, stations, start, 30) + [(settings.topic("obs", "ZZZ"), obs_json(format_ts(start), {"tide_level": 1.0}))]
    try:
        await asyncio.to_thread(_set_db_available, settings.database_url, False)
        async with IngestService(settings) as svc:
            await publish_all(mqtt_endpoint, msgs)
            for _ in range(100):
                if _spooled(svc) >= len(msgs):
                    break
                await asyncio.sleep(0.1)
            assert _spooled(svc) == len(msgs)
        segments = list(Path(settings.spool_dir).glob("*.spool"))
        assert segments, "the first run left a spool"
        await asyncio.to_thread(_set_db_available, settings.database_url, True)
        assert scalar(settings.database_url, "SELECT count(*) FROM readings") == 0
        async with IngestService(settings) as svc2:  # acked messages are only on disk now
            assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 60) == 60
            assert await wait_for_count(settings.database_url, "SELECT count(*) FROM dead_letters", 1) == 1
            for _ in range(50):
                if svc2.spool.is_empty():
                    break
                await asyncio.sleep(0.1)
            assert svc2.spool.is_empty()
    finally:
        await asyncio.to_thread(_set_db_available, settings.database_url, True)
    assert scalar(settings.database_url, "SELECT reason FROM dead_letters") == "unknown_station"


async def test_broker_restart_during_stream_loses_nothing(settings, tmp_path):
    port = free_port()
    broker = PrivateBroker(tmp_path / "broker", port)
    broker.start()
    s = settings.model_copy(update={"mqtt_url": broker.url})
    ep = MqttEndpoint.from_url(broker.url)
    stations = [f"B{i}" for i in range(10)]
    add_stations(s.database_url, stations)
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=3)
    msgs = _messages(s, stations, start, 150)  # 1500 messages
    try:
        async with IngestService(s) as svc:
            pub = asyncio.create_task(publish_all(ep, msgs, client_id=f"pub-{s.topic_root}", timeout=40))
            await wait_for_count(s.database_url, "SELECT count(*) FROM readings", 300, timeout=20)
            await asyncio.to_thread(broker.stop)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(broker.start)
            await asyncio.wait_for(pub, 40)
            n = await wait_for_count(s.database_url, "SELECT count(*) FROM readings", len(msgs), timeout=30)
            assert n == len(msgs)
            assert svc.metrics.mqtt_reconnects._value.get() >= 1  # noqa: SLF001
    finally:
        broker.stop()
    assert scalar(s.database_url, "SELECT count(DISTINCT (station_id, ts)) FROM readings") == len(msgs)

"""The engine runs the store's retention rule (counted on data time) in both storage modes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import psycopg

from haixun.engine.service import EngineService
from haixun.store.migrate import migrate
from tests.support.db import fill_days, reading_days
from tests.support.engine import FAST, insert_geography_stations
from tests.support.wait import eventually


async def test_engine_applies_retention_on_data_time(settings) -> None:
    first = datetime(2021, 7, 20, tzinfo=UTC)  # years old by the wall clock
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        fill_days(conn, first, 8)
        kept = reading_days(conn)
    migrate(settings.database_url, retention_days=3)  # keep 3 days behind the newest reading
    opts = replace(FAST, retention_first_s=0.0)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        async with EngineService(settings, options=opts) as engine:
            await asyncio.wait_for(engine.leading.wait(), 10)
            await eventually(lambda: reading_days(conn) == kept[4:], timeout=60)
        assert reading_days(conn) == kept[4:]  # only the days older than the newest reading - 3 days went


async def test_engine_keeps_a_replay_database_whole(settings) -> None:
    first = datetime(2021, 7, 20, tzinfo=UTC)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        fill_days(conn, first, 8)
        kept = reading_days(conn)
    migrate(settings.database_url, retention_days=0)  # off, as the demo sets it
    opts = replace(FAST, retention_first_s=0.0)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        async with EngineService(settings, options=opts) as engine:
            await asyncio.wait_for(engine.leading.wait(), 10)
            await eventually(lambda: engine.retention_runs >= 1, timeout=60)
        assert reading_days(conn) == kept

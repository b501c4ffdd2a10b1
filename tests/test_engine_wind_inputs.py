"""The engine feeds riskcode the recent gust readings (gust persistence rule, issue 13) and the buoys'
wave period kinds, from the real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg

from haixun.data.geography import load_geography
from haixun.data.sync import sync_to_db
from haixun.engine import inputs as inputs_mod
from tests.test_engine_support import utcnow, write_readings


def test_gather_reads_recent_gusts_and_period_kinds(db_url: str) -> None:
    now = utcnow().replace(microsecond=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        sync_to_db(conn, load_geography())
        write_readings(conn, "XB-M01", now - timedelta(minutes=3), {"wind_gust": 15.0}, notify=False)
        write_readings(conn, "XB-M01", now - timedelta(minutes=40), {"wind_gust": 30.0}, notify=False)
        write_readings(conn, "XB-M01", now, {"wind_speed": 9.0, "wind_gust": 15.2, "tide_level": 0.5}, notify=False)

    async def run():
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            return await inputs_mod.gather(conn, now)

    raw = asyncio.run(run())
    assert [v for v, _, _ in raw.recent_gusts["XB-M01"]] == [15.0, 15.2]  # the 40-min-old one is outside
    assert raw.stations["ZP-B01"].wave_period_kind == "Tm-1,0"

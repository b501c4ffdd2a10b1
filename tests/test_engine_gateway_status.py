"""Issue 14: a (spoofed or stale) 'offline' gateway status never hides a station that still delivers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg

from haixun.engine.service import EngineService
from tests.support.clock import utcnow
from tests.support.engine import FAST, calm, insert_geography_stations
from tests.support.wait import eventually


async def test_offline_status_older_than_the_readings_does_not_hide_the_station(settings):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        gw = dict(conn.execute("SELECT id, gateway_id FROM stations WHERE id IN ('XB-M01', 'ZP-B01')").fetchall())
        assert gw["XB-M01"] != gw["ZP-B01"]
        now = utcnow()
        # XB-M01's gateway said 'offline' a minute ago, and its readings keep arriving after that
        conn.execute("INSERT INTO gateway_status (gateway_id, online, ts, updated_at) VALUES (%s, false, NULL, %s)",
                     (gw["XB-M01"], now - timedelta(minutes=1)))
        calm(conn, now)
        # ZP-B01's gateway went 'offline' after its last reading: offline it is
        conn.execute("INSERT INTO gateway_status (gateway_id, online, ts, updated_at) VALUES (%s, false, NULL, %s)",
                     (gw["ZP-B01"], utcnow() + timedelta(seconds=1)))
        async with EngineService(settings, options=FAST) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            row = await eventually(lambda: conn.execute(
                "SELECT body FROM state_log WHERE kind = 'snapshot' ORDER BY seq DESC LIMIT 1").fetchone())
    stations = row[0]["stations"]
    assert stations["XB-M01"]["online"] is True
    assert stations["ZP-B01"]["online"] is False

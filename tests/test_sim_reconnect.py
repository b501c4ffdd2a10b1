"""Issue 14 item 9: the gateway simulator reconnects after a broker restart and resends what failed.

A private Mosquitto (tests/support/mqtt.py) is stopped mid-run and started again;
ingest (persistent session) and the gateway both come back, and every tick's
readings are stored once. Before the fix, publish errors were swallowed in
``_publish_one`` and the gateway never reconnected: the shoreline went unknown.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg

from haixun.clock import Clock
from haixun.data.geography import load_geography
from haixun.data.sync import sync_to_db
from haixun.ingest.service import IngestService
from haixun.simulators.gateway import Gateway, GatewayOptions
from haixun.simulators.geo import load_sim_geography
from haixun.simulators.source import ModelSource
from tests.support.db import scalar, wait_for_count
from tests.support.mqtt import PrivateBroker
from tests.support.net import free_port

GW = "gw-zhapu"


async def test_gateway_reconnects_after_broker_restart_and_loses_nothing(settings, tmp_path):
    broker = PrivateBroker(tmp_path / "broker", free_port())
    broker.start()
    s = settings.model_copy(update={"mqtt_url": broker.url})
    with psycopg.connect(s.database_url, autocommit=True) as conn:
        sync_to_db(conn, load_geography())
    geo = load_sim_geography()
    stations = [st for st in geo.stations if st.gateway_id == GW]
    source = ModelSource(geo, 0.0, None, 0)
    # 01:00 UTC yesterday, one 60-s tick per wall second (60x), 12 ticks
    start = (datetime.now(UTC) - timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    ticks = 12
    until = start + timedelta(minutes=ticks - 1)
    gw = Gateway(s, GW, stations, source.observe, Clock.replay(start, 60.0), GatewayOptions(period_s=60.0,
                 keepalive_s=2, reconnect_delay_s=0.5), start=start)
    per_tick = sum(len(source.observe(st, start)) for st in stations)
    try:
        async with IngestService(s) as svc:
            run = asyncio.create_task(gw.run(until))
            await wait_for_count(s.database_url, "SELECT count(*) FROM readings", 2 * per_tick, timeout=60)
            await asyncio.to_thread(broker.stop)
            await asyncio.sleep(2.5)  # ticks fall due while the broker is away
            await asyncio.to_thread(broker.start)
            stats = await asyncio.wait_for(run, 60)
            n = await wait_for_count(s.database_url, "SELECT count(*) FROM readings", ticks * per_tick, timeout=30)
            assert svc.metrics.mqtt_reconnects._value.get() >= 1  # noqa: SLF001
    finally:
        broker.stop()
    assert stats.connects >= 2 and stats.link_losses >= 1
    assert stats.dropped == 0
    assert n == ticks * per_tick
    assert scalar(s.database_url, "SELECT count(DISTINCT ts) FROM readings") == ticks
    assert scalar(s.database_url, "SELECT max(ts) FROM readings") == until
    assert scalar(s.database_url, "SELECT online FROM gateway_status WHERE gateway_id = %s", (GW,)) is False  # said goodbye

"""Ingest on a replay clock and over MQTT 3.1.1 (real Mosquitto, which speaks
both): QC judges timestamps on the clock's time at receipt, received_at stays
wall time; a 3.1.1 session (clean_session False) stores, and keeps messages
published while ingest was away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import paho.mqtt.client as paho
import psycopg

from haixun.clock import Clock
from haixun.contract import format_ts
from haixun.ingest.qc import FAIL, PASS, SUSPECT, QcEngine, QcInput, load_qc_config
from haixun.ingest.service import IngestService
from tests.support.db import add_stations, wait_for_count
from tests.support.mqtt import obs_json, publish_all
from tests.support.wait import eventually

SIM_START = datetime(2021, 7, 25, 12, 0, tzinfo=UTC)


def test_qc_timestamps_on_a_replay_clock() -> None:
    wall = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    clock = Clock.replay(SIM_START, 60.0, wall_start=wall)
    received = wall + timedelta(minutes=10)  # the clock shows SIM_START + 10 h then
    sim = SIM_START + timedelta(hours=10)

    def flags(engine: QcEngine, ts: datetime) -> int:
        return engine.evaluate([QcInput("S1", "tide_level", ts, 2.0, received)]).flags[0]

    replay = QcEngine(load_qc_config(), clock=clock)
    assert flags(replay, sim - timedelta(minutes=1)) == PASS        # just measured, in simulated time
    assert flags(replay, sim + timedelta(hours=1)) == FAIL          # in the clock's future
    assert flags(replay, sim - timedelta(days=8)) == SUSPECT        # too old on the clock
    system = QcEngine(load_qc_config())  # the same readings judged on the wall clock: 5 years old
    assert flags(system, sim - timedelta(minutes=1)) == SUSPECT
    assert flags(system, received + timedelta(hours=1)) == FAIL


async def test_mqtt_311_ingest_with_a_replay_clock(settings, mqtt_endpoint):
    clock = Clock.replay(SIM_START, 60.0)
    s = settings.model_copy(update={"mqtt_protocol": "3.1.1", "clock_spec": clock.spec(),
                                    "ingest_client_id": f"ingest-311-{settings.topic_root}"})
    add_stations(s.database_url, ["C1"])
    now = clock.now().replace(microsecond=0)
    first = [(s.topic("obs", "C1"), obs_json(format_ts(now - timedelta(minutes=10 - k)), {"tide_level": 2.0 + 0.01 * k}))
             for k in range(5)]
    svc = IngestService(s)
    async with svc:
        assert not svc.mqtt_v5
        await eventually(lambda: svc.connected)
        live = svc._live_client
        assert live is not None and live._client.protocol == paho.MQTTv311  # noqa: SLF001 - what went on the wire
        await publish_all(mqtt_endpoint, first)
        await wait_for_count(s.database_url, "SELECT count(*) FROM readings", 5)
    # ingest away: the broker keeps QoS 1 messages for the persistent 3.1.1 session
    later = [(s.topic("obs", "C1"), obs_json(format_ts(now + timedelta(seconds=5 * k)), {"tide_level": 2.1}))
             for k in range(1, 4)]
    await publish_all(mqtt_endpoint, later)
    async with IngestService(s):
        await wait_for_count(s.database_url, "SELECT count(*) FROM readings", 8, timeout=60)
    with psycopg.connect(s.database_url) as conn:
        rows = conn.execute("SELECT ts, qc, received_at FROM readings WHERE station_id = 'C1' ORDER BY ts").fetchall()
    assert [qc for _, qc, _ in rows] == [PASS] * 8  # 2021 timestamps pass QC on the replay clock
    assert all(ts.year == 2021 for ts, _, _ in rows)
    assert all(abs((rec - datetime.now(UTC)).total_seconds()) < 120 for _, _, rec in rows)  # wall time

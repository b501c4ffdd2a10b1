"""Ingest end to end on the real broker and PostgreSQL: volume, dead letters, QC, redelivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from haixun.contract import Reason, format_ts
from haixun.ingest.service import IngestService
from tests.support.db import add_cameras, add_stations, scalar, wait_for_count
from tests.support.metrics import metric
from tests.support.mqtt import obs_json, publish_all
from tests.support.wait import eventually


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def test_many_stations_stored_exactly_once(settings, mqtt_endpoint):
    stations = [f"S{i:03d}" for i in range(200)]
    add_stations(settings.database_url, stations)
    t0 = _now() - timedelta(minutes=30)
    msgs: list[tuple[str, str]] = []
    for s in stations:
        for k in range(10):  # 10 single messages
            ts = format_ts(t0 + timedelta(minutes=k))
            msgs.append((settings.topic("obs", s), obs_json(ts, {"tide_level": 2.0 + 0.01 * k, "wind_speed": 5 + k % 3})))
        batch = [json.loads(obs_json(format_ts(t0 + timedelta(minutes=10 + k)),
                                     {"tide_level": 2.1 + 0.01 * k, "wind_speed": 6.0}, seq=k)) for k in range(10)]
        msgs.append((settings.topic("obs", s), json.dumps(batch)))  # one buffered batch of 10
    expected = 200 * 20 * 2
    async with IngestService(settings) as svc:
        await publish_all(mqtt_endpoint, msgs)
        n = await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", expected, timeout=40)
        assert n == expected
        # publish again (as a redelivery would): nothing new
        again = msgs[:300]
        dup_expected = sum(2 * (len(json.loads(p)) if p.startswith("[") else 1) for _, p in again)
        await publish_all(mqtt_endpoint, again)
        await eventually(lambda: metric(svc.metrics_text().decode(), "haixun_ingest_duplicate_readings_total")
                         >= dup_expected, step=0.1, what="the duplicates counted")
        text = svc.metrics_text().decode()
    assert metric(text, "haixun_ingest_duplicate_readings_total") == dup_expected
    assert metric(text, "haixun_ingest_stored_readings_total") == expected
    assert scalar(settings.database_url, "SELECT count(*) FROM readings") == expected
    assert scalar(settings.database_url,
                  "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY station_id, quantity, ts HAVING count(*) > 1) d") == 0
    assert scalar(settings.database_url, "SELECT count(*) FROM latest_readings") == 400
    last = format_ts(t0 + timedelta(minutes=19))
    assert scalar(settings.database_url,
                  "SELECT count(*) FROM latest_readings WHERE ts = %s", (last,)) == 400
    assert scalar(settings.database_url, "SELECT count(*) FROM dead_letters") == 0


async def test_every_malformed_kind_is_dead_lettered(settings, mqtt_endpoint):
    add_stations(settings.database_url, ["GOOD"])
    add_cameras(settings.database_url, ["CAM1"])
    with psycopg.connect(settings.database_url, autocommit=True) as conn:  # GOOD belongs to gateway GW1
        conn.execute("UPDATE stations SET gateway_id = 'GW1' WHERE id = 'GOOD'")
    ts = format_ts(_now())
    obs = settings.topic("obs", "GOOD")
    cases: list[tuple[str, str | bytes, Reason]] = [
        (settings.topic("obs", "bad id!"), obs_json(ts, {"tide_level": 1.0}), Reason.BAD_TOPIC),
        (obs, b"x" * (settings.ingest_max_payload_bytes + 1), Reason.OVERSIZED),
        (obs, b"{not json", Reason.BAD_JSON),
        (obs, b"\xff\xfe", Reason.BAD_JSON),
        (obs, json.dumps({"ts": ts}), Reason.BAD_SCHEMA),
        (obs, json.dumps({"ts": "2021-07-26T09:50:00", "obs": {"tide_level": 1}}), Reason.BAD_TIMESTAMP),
        (obs, json.dumps({"ts": ts, "obs": {"moon_phase": 1}}), Reason.UNKNOWN_QUANTITY),
        (obs, f'{{"ts": "{ts}", "obs": {{"tide_level": NaN}}}}', Reason.NOT_A_NUMBER),
        (obs, json.dumps({"ts": ts, "obs": {"tide_level": 99.0}}), Reason.OUT_OF_PHYSICAL_RANGE),
        (obs, json.dumps([json.loads(obs_json(ts, {"tide_level": 1.0})), {"ts": ts, "obs": {}}]), Reason.BAD_SCHEMA),
        (settings.topic("obs", "NOPE"), obs_json(ts, {"tide_level": 1.0}), Reason.UNKNOWN_STATION),
        (settings.topic("event", "CAMX"), json.dumps({"ts": ts, "type": "overtopping", "confidence": 0.9}),
         Reason.UNKNOWN_CAMERA),
        (settings.topic("event", "CAM1"), json.dumps({"ts": ts, "type": "overtopping", "confidence": 2}),
         Reason.BAD_SCHEMA),
        (settings.topic("status", "GW1"), b"maybe", Reason.BAD_JSON),
        (settings.topic("status", "GWX"), b"offline", Reason.UNKNOWN_GATEWAY),  # a stranger's gateway id
    ]
    good = [
        (obs, obs_json(ts, {"tide_level": 3.2})),
        (settings.topic("event", "CAM1"), json.dumps({"ts": ts, "type": "overtopping", "confidence": 0.8,
                                                      "segment_id": "PH07", "zone": 3})),
        (settings.topic("status", "GW1"), b"online"),
    ]
    async with IngestService(settings) as svc:
        await publish_all(mqtt_endpoint, [(t, p) for t, p, _ in cases] + good)
        await wait_for_count(settings.database_url, "SELECT count(*) FROM dead_letters", len(cases))
        await wait_for_count(settings.database_url, "SELECT count(*) FROM gateway_status", 1)
        assert svc.connected  # still running
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT topic, reason, detail, length(payload) FROM dead_letters ORDER BY id").fetchall()
        assert [r[1] for r in rows] == [c[2].value for c in cases]
        assert all(r[2] for r in rows)
        assert "batch element 1" in rows[9][2]
        assert rows[1][3] <= 16 * 1024  # oversized payload truncated
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 1
        ev = conn.execute("SELECT camera_id, type, segment_id, extra FROM camera_events").fetchall()
        assert ev == [("CAM1", "overtopping", "PH07", {"zone": 3})]
        assert conn.execute("SELECT online FROM gateway_status WHERE gateway_id = 'GW1'").fetchone()[0] is True
        assert conn.execute("SELECT count(*) FROM gateway_status_history").fetchone()[0] == 1


async def test_qc_flags_stored(settings, mqtt_endpoint):
    add_stations(settings.database_url, ["Q1", "Q2", "Q3"])
    now = _now()
    t0 = now - timedelta(hours=3)
    msgs: list[tuple[str, str]] = []
    # Q1: smooth tide with one 2 m spike at minute 10
    for k in range(15):
        v = 2.0 + 0.01 * k + (2.0 if k == 10 else 0.0)
        msgs.append((settings.topic("obs", "Q1"), obs_json(format_ts(t0 + timedelta(minutes=k)), {"tide_level": v})))
    # Q2: stuck tide gauge, same value every 5 min for 2.5 h (suspect after 1 h)
    for k in range(31):
        msgs.append((settings.topic("obs", "Q2"), obs_json(format_ts(t0 + timedelta(minutes=5 * k)), {"tide_level": 1.234})))
    # Q3: a timestamp 1 h in the future; 10 days old; outside climatology
    msgs.append((settings.topic("obs", "Q3"), obs_json(format_ts(now + timedelta(hours=1)), {"air_pressure": 1000.0})))
    msgs.append((settings.topic("obs", "Q3"), obs_json(format_ts(now - timedelta(days=10)), {"air_temperature": 20.0})))
    msgs.append((settings.topic("obs", "Q3"), obs_json(format_ts(now - timedelta(minutes=1)), {"wind_speed": 65.0})))
    msgs.append((settings.topic("obs", "Q3"), obs_json(format_ts(now - timedelta(minutes=1)), {"wind_gust": 80.0})))
    async with IngestService(settings):
        await publish_all(mqtt_endpoint, msgs)
        await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", len(msgs))
    with psycopg.connect(settings.database_url) as conn:
        q1 = conn.execute("SELECT qc FROM readings WHERE station_id = 'Q1' ORDER BY ts").fetchall()
        assert [r[0] for r in q1] == [1] * 10 + [4] + [1] * 4
        q2 = [r[0] for r in conn.execute("SELECT qc FROM readings WHERE station_id = 'Q2' ORDER BY ts")]
        assert q2[:12] == [1] * 12 and 3 in q2 and q2[-1] == 3
        q3 = dict(conn.execute("SELECT quantity, qc FROM readings WHERE station_id = 'Q3'").fetchall())
        assert q3 == {"air_pressure": 4, "air_temperature": 3, "wind_speed": 3, "wind_gust": 3}
        # failed values never reach latest_readings; the spike did not replace the latest value
        latest = dict(conn.execute("SELECT station_id || '/' || quantity, qc FROM latest_readings").fetchall())
        assert "Q3/air_pressure" not in latest
        assert latest["Q1/tide_level"] == 1
        assert conn.execute("SELECT value FROM latest_readings WHERE station_id = 'Q1'").fetchone()[0] == pytest.approx(2.14)


async def test_notify_payload_after_batch(settings, mqtt_endpoint):
    add_stations(settings.database_url, ["N1"])
    async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as listener:
        notes: list[psycopg.Notify] = []
        listener.add_notify_handler(notes.append)
        await listener.execute("LISTEN haixun_ingest")
        async with IngestService(settings):
            await publish_all(mqtt_endpoint, [(settings.topic("obs", "N1"),
                                               obs_json(format_ts(_now()), {"tide_level": 1.5, "wind_speed": 3}))])
            async def notified() -> bool:
                await listener.execute("SELECT 1")  # reads pending notifications
                return bool(notes)
            await eventually(notified, step=0.1, what="a NOTIFY haixun_ingest")
    assert len(notes) == 1
    body = json.loads(notes[0].payload)
    assert body["stations"] == ["N1"] and body["n"] == 2 and body["max_received_at"].endswith("Z")

"""EngineService against the real PostgreSQL: ingest NOTIFY -> decision ->
current_levels / level_changes / state_log / NOTIFY haixun_state; staleness."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import psycopg
from prometheus_client import CollectorRegistry

from haixun.engine.service import EngineService
from tests.support.clock import utcnow
from tests.support.engine import FAST, calm, current_level, insert_geography_stations, write_readings
from tests.support.wait import eventually


async def test_threshold_crossing_flows_to_state_log_and_notify(settings):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        calm(conn, utcnow())
        listener = await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True)
        await listener.execute("LISTEN haixun_state")
        registry = CollectorRegistry()
        async with EngineService(settings, options=FAST, registry=registry) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            await eventually(lambda: current_level(conn, "segment", "PH01"))
            level, raw, _, _ = current_level(conn, "segment", "PH01")
            assert (level, raw) == ("none", "none")
            first = conn.execute("SELECT seq, kind, body FROM state_log ORDER BY seq LIMIT 1").fetchone()
            assert first[1] == "snapshot" and len(first[2]["segments"]) == 27
            assert first[2]["stations"]["XB-M01"]["latest"]["tide_level"]["value"] == 2.2
            # tier roll-up: the city, 3 towns and 13 villages of the geography, with counts
            areas = first[2]["areas"]
            assert set(areas) == {"city", "towns", "villages"}
            assert len(areas["towns"]) == 3 and len(areas["villages"]) == 13
            assert sum(areas["city"]["counts"].values()) == 13
            kinds = dict(conn.execute("SELECT subject_kind, count(*) FROM current_levels GROUP BY 1").fetchall())
            assert kinds == {"segment": 27, "village": 13, "town": 3, "city": 1}

            # the tide rises above PH01's orange warning tide level (4.3 m)
            write_readings(conn, "XB-M01", utcnow(), {"tide_level": 4.45})
            row = await eventually(lambda: conn.execute(
                "SELECT seq, kind, body FROM state_log WHERE body->'segments'->'PH01'->>'level' = 'orange'"
                " ORDER BY seq LIMIT 1").fetchone())
            seq, kind, body = row
            assert kind == "delta"
            entry = body["segments"]["PH01"]
            assert entry["raw_level"] == "orange"
            storm = [h for h in entry["hazards"] if h["hazard"] == "storm_tide"][0]
            assert storm["level"] == "orange" and storm["value"] == 4.45 and storm["threshold"] == 4.3
            lat = {k: datetime.fromisoformat(v) for k, v in body["latency"].items()}
            assert set(lat) == {"sensor_ts", "received_at", "stored_at", "decided_at"}
            assert lat["sensor_ts"] <= lat["received_at"] <= lat["stored_at"] <= lat["decided_at"]
            print(f"received -> decided {(lat['decided_at'] - lat['received_at']).total_seconds() * 1000:.0f} ms")
            assert body["stations"]["XB-M01"]["latest"]["tide_level"]["value"] == 4.45
            # only changed subjects go into a delta (PH01 and whatever shares XB-M01)
            assert "PH27" not in body["segments"]

            level, raw, _, decision = current_level(conn, "segment", "PH01")
            assert (level, raw) == ("orange", "orange") and decision["state"]["held"]["level"] == "orange"
            lc = conn.execute("SELECT from_level, to_level, reasons FROM level_changes"
                              " WHERE subject_id = 'PH01'").fetchall()
            assert [(a, b) for a, b, _ in lc] == [("none", "orange")]
            assert any(r["hazard"] == "storm_tide" and r["level"] == "orange" for r in lc[0][2])
            assert conn.execute("SELECT count(*) FROM decisions WHERE subject_id = 'PH01'").fetchone()[0] >= 2

            seen: list[str] = []
            async def drain() -> None:
                async for n in listener.notifies():
                    seen.append(n.payload)
                    if n.payload == str(seq):
                        return
            await asyncio.wait_for(drain(), 5)
            assert str(seq) in seen
            text = engine.metrics_text().decode()
            assert 'haixun_engine_stage_seconds_count{stage="received_to_decided"}' in text
            assert "haixun_engine_cycle_seconds_count" in text
        await listener.close()


async def test_stale_inputs_turn_unknown_without_new_data(settings):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        # readings 580 s old: fresh for 20 s more, then stale (> 600 s). The engine must decide once
        # within those 20 s (it took over 2 s to start on a loaded 2-core machine: 598 s flaked)
        calm(conn, utcnow() - timedelta(seconds=580))
        fast = settings.model_copy(update={"engine_interval_s": 0.5})
        async with EngineService(fast, options=FAST) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            await eventually(lambda: (current_level(conn, "segment", "PH01") or ("",))[0] == "none")
            offline = engine.metrics.stations_offline

            def not_online() -> int:  # the station entries the screens got (state_log merged per id)
                entries: dict = {}
                for (b,) in conn.execute("SELECT body FROM state_log ORDER BY seq"):
                    entries.update(b.get("stations") or {})
                return sum(1 for e in entries.values() if not e.get("online"))

            n_stations = conn.execute("SELECT count(*) FROM stations").fetchone()[0]
            # the calm stations deliver; the others never did (not online either)
            await eventually(lambda: offline._value.get() == not_online() < n_stations)
            # nothing arrives; the interval job alone must turn PH01 unknown
            await eventually(lambda: (current_level(conn, "segment", "PH01") or ("",))[0] == "unknown", timeout=60)
            # stale stations (alert rule in docker/prometheus/alerts.yml) and the open outage alarms
            await eventually(lambda: offline._value.get() == not_online() > n_stations - 2)

            def open_outages() -> int:
                return conn.execute("SELECT count(*) FROM level_changes WHERE alarm_type = 'data_outage'"
                                    " AND cleared_at IS NULL").fetchone()[0]
            await eventually(lambda: open_outages() >= 1 and engine.metrics.data_outages._value.get() == open_outages())
            body = conn.execute("SELECT body FROM state_log WHERE body->'segments'->'PH01'->>'level' = 'unknown'"
                                " ORDER BY seq LIMIT 1").fetchone()[0]
            tide = [h for h in body["segments"]["PH01"]["hazards"] if h["hazard"] == "storm_tide"][0]
            assert tide["level"] == "unknown"

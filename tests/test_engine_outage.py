"""Issue 12: a station or gateway silent past its staleness limit raises a data-outage alarm
(level_changes, /ws/live, /api/v1/alarms); its return clears it. Engine + API + websocket."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import websockets
from prometheus_client import CollectorRegistry

from haixun.engine.publish import outages
from haixun.engine.service import EngineService
from haixun.settings import Settings
from tests.support.api import recv_until, running_api
from tests.support.clock import utcnow
from tests.support.engine import FAST, insert_geography_stations, write_readings
from tests.support.wait import eventually


async def _alarm(ws: Any, pred, timeout: float = 30.0) -> dict[str, Any]:
    return await recv_until(ws, lambda m: m["type"] == "alarm" and pred(m), timeout, what="the expected alarm")


def _open(conn: psycopg.Connection) -> set[tuple[str, str]]:
    return {(k, s) for k, s in conn.execute(
        "SELECT subject_kind, subject_id FROM level_changes WHERE alarm_type = 'data_outage' AND cleared_at IS NULL")}


def _fresh(conn: psycopg.Connection, ts) -> None:
    write_readings(conn, "ZP-T01", ts, {"tide_level": 1.0})
    write_readings(conn, "ZP-W01", ts, {"wind_speed": 3.0, "wind_gust": 4.0})


async def test_silent_station_and_offline_gateway_raise_and_clear_outage_alarms(settings: Settings, db_url: str,
                                                                                tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        now = utcnow()
        _fresh(conn, now)
        async with running_api(settings, tmp_path, project_geography=True) as api, \
                httpx.AsyncClient(base_url=api.base) as c, \
                websockets.connect(api.ws + "/ws/live") as ws, \
                EngineService(settings, options=FAST, registry=CollectorRegistry()) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            # stations that never delivered are no outage; the fresh Zhapu ones neither
            await eventually(lambda: conn.execute("SELECT count(*) FROM current_levels").fetchone()[0] > 0)
            assert _open(conn) == set()

            # ZP-T01 goes silent: its newest reading is older than riskcode.toml's 600 s tide limit
            conn.execute("DELETE FROM latest_readings WHERE station_id = 'ZP-T01'")
            write_readings(conn, "ZP-T01", now - timedelta(seconds=700), {"tide_level": 1.0})
            m = await _alarm(ws, lambda m: m["alarm"]["subject_id"] == "ZP-T01")
            a = m["alarm"]
            assert m["event"] == "new" and a["alarm_type"] == "data_outage" and a["subject_kind"] == "station"
            assert a["to_level"] == "unknown" and "silent since" in a["detail"] and "600" in a["detail"]
            assert a["cleared_at"] is None
            assert _open(conn) == {("station", "ZP-T01")}  # the weather station still delivers: no gateway outage
            items = (await c.get("/api/v1/alarms", params={"alarm_type": "data_outage", "open": "true"})).json()["items"]
            assert [(i["subject_id"], i["cleared_at"]) for i in items] == [("ZP-T01", None)]

            # it comes back: cleared (same row), announced on /ws/live
            write_readings(conn, "ZP-T01", utcnow(), {"tide_level": 1.1})
            m = await _alarm(ws, lambda m: m["event"] == "cleared")
            assert m["alarm"]["id"] == a["id"] and m["alarm"]["cleared_at"] is not None
            assert _open(conn) == set()

            # the Zhapu gateway reports offline (its last will): a gateway outage and one per station
            conn.execute("INSERT INTO gateway_status (gateway_id, online, ts, updated_at) VALUES"
                         " ('gw-zhapu', false, now(), now() + interval '1 second')")
            conn.execute("SELECT pg_notify('haixun_ingest', '{}')")
            m = await _alarm(ws, lambda m: m["alarm"]["subject_id"] == "gw-zhapu")
            assert m["alarm"]["subject_kind"] == "gateway" and "reported offline" in m["alarm"]["detail"]
            await eventually(lambda: _open(conn) == {("gateway", "gw-zhapu"), ("station", "ZP-T01"),
                                                   ("station", "ZP-W01")})
            # a second leader continues the open alarms, never raises them twice
            await engine.stop()
            async with EngineService(settings, options=FAST, registry=CollectorRegistry()) as again:
                await asyncio.wait_for(again.leading.wait(), 5)
                await asyncio.sleep(1.0)
                n = conn.execute("SELECT count(*) FROM level_changes WHERE alarm_type = 'data_outage'").fetchone()[0]
                assert n == 4  # ZP-T01 (cleared), gw-zhapu, ZP-T01, ZP-W01
                # back online and delivering: all cleared
                conn.execute("UPDATE gateway_status SET online = true, updated_at = now() WHERE gateway_id = 'gw-zhapu'")
                time.sleep(0.01)
                _fresh(conn, utcnow())
                await eventually(lambda: _open(conn) == set())


def test_outage_rules() -> None:
    from tests.support.clock import utcnow as now_

    class Info:
        def __init__(self, gw: str | None) -> None:
            self.gateway_id = gw

    t = now_()
    st = {"A": {"online": False, "age_s": 900.0, "latest": {"tide_level": {"ts": t - timedelta(seconds=900)}}},
          "B": {"online": True, "age_s": 5.0, "latest": {"wind_speed": {"ts": t}}},
          "C": {"online": False, "age_s": None, "latest": {}}}  # never delivered: no outage
    infos = {"A": Info("g1"), "B": Info("g1"), "C": Info("g2")}
    got = outages(st, infos, {}, {"A": 600.0, "B": 600.0, "C": 600.0})
    assert set(got) == {("station", "A")}  # g1 still delivers through B
    st["B"] = {"online": False, "age_s": 700.0, "latest": {"wind_speed": {"ts": t - timedelta(seconds=700)}}}
    got = outages(st, infos, {}, {"A": 600.0, "B": 600.0, "C": 600.0})
    assert set(got) == {("station", "A"), ("station", "B"), ("gateway", "g1")}
    assert "all its stations silent" in got[("gateway", "g1")].detail
    got = outages(st, infos, {"g2": t, "g9": None}, {"A": 600.0, "B": 600.0, "C": 600.0})
    assert ("gateway", "g2") in got and ("gateway", "g9") in got and ("station", "C") not in got

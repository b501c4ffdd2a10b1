"""The seams between the engine and the API, with both running against one
database: /readyz sees the engine's leader lock, the engine's NOTIFY
haixun_alarm reaches /ws/live as an alarm, and a feed posted to the API (in
riskcode's vocabulary) is evaluated by the engine."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import psycopg
import websockets
from prometheus_client import CollectorRegistry

from haixun.engine.service import EngineService
from haixun.settings import Settings
from tests.support.api import add_user, recv_until, running_api
from tests.support.clock import utcnow
from tests.support.engine import FAST, calm, current_level, insert_geography_stations, write_readings
from tests.support.wait import eventually


async def _alarm(ws: Any, subject_id: str, timeout: float = 30.0) -> dict[str, Any]:
    return await recv_until(ws, lambda m: m["type"] == "alarm" and m["alarm"]["subject_id"] == subject_id, timeout,
                            what=f"an alarm for {subject_id}")


async def test_engine_and_api_agree_on_leader_alarms_and_feeds(settings: Settings, db_url: str,
                                                               tmp_path: Path) -> None:
    add_user(db_url, "dora", "duty")
    with psycopg.connect(db_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        calm(conn, utcnow())
        async with running_api(settings, tmp_path, project_geography=True) as api, \
                httpx.AsyncClient(base_url=api.base) as c:
            ready = (await c.get("/readyz")).json()["checks"]["engine_leader"]
            assert ready["ok"] is False  # no engine yet
            async with EngineService(settings, options=FAST, registry=CollectorRegistry()) as engine:
                await asyncio.wait_for(engine.leading.wait(), 5)
                leader = (await c.get("/readyz")).json()["checks"]["engine_leader"]
                assert leader["ok"] is True and leader["pid"] == os.getpid(), leader
                await eventually(lambda: current_level(conn, "segment", "PH01"))

                async with websockets.connect(api.ws + "/ws/live") as ws:
                    # the engine's level change -> NOTIFY haixun_alarm -> an "alarm"/"new" message on /ws/live
                    write_readings(conn, "XB-M01", utcnow(), {"tide_level": 4.45})
                    m = await _alarm(ws, "PH01")
                    assert m["event"] == "new" and m["alarm"]["to_level"] == "orange"
                    lc_id = conn.execute("SELECT max(id) FROM level_changes WHERE subject_id = 'PH01'").fetchone()[0]
                    assert m["alarm"]["id"] == lc_id

                    # a feed in riskcode's vocabulary, posted to the API, is an input of the engine
                    token = (await c.post("/api/v1/auth/login", json={"username": "dora",
                                                                      "password": "correct horse battery"})).json()
                    feed = {"issuer": "浙江省海洋监测预报中心", "kind": "surge_forecast", "level": "red",
                            "area": {"segments": ["PH27"]}, "valid_from": "2021-07-25T12:00:00Z",
                            "valid_to": "2999-01-01T00:00:00Z", "issued_at": "2021-07-25T11:30:00Z"}
                    r = await c.post("/api/v1/feeds/provincial_surge", json=feed,
                                     headers={"Authorization": f"Bearer {token['access_token']}"})
                    assert r.status_code == 201, r.text
                    m = await _alarm(ws, "PH27", timeout=15)
                    assert m["alarm"]["to_level"] == "red"
                    level, _, _, decision = current_level(conn, "segment", "PH27")
                    assert level == "red" and decision["official_level"] == "red"
                    assert any(h["hazard"] == "official:surge_forecast" for h in decision["hazards"])
            # the engine released its lock on a clean stop
            assert (await c.get("/readyz")).json()["checks"]["engine_leader"]["ok"] is False

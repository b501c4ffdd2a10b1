"""The API on a replay clock (HAIXUN_CLOCK): data ages, override times and
feed validity on the clock; websocket messages carry server_now (clock) and
pushed_at (wall)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import websockets

from haixun.clock import Clock
from haixun.settings import Settings
from tests.support.api import add_user, engine_write, login, running_api, seg_entry, sync_test_geography

SIM_START = datetime(2021, 7, 25, 12, 0, tzinfo=UTC)


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


async def test_ages_overrides_and_ws_on_the_replay_clock(settings: Settings, db_url: str, tmp_path: Path) -> None:
    clock = Clock.replay(SIM_START, 60.0)
    replay = settings.model_copy(update={"clock_spec": clock.spec()})
    add_user(db_url, "dora", "duty")
    sync_test_geography(db_url)
    sim_now = clock.now()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO stations (id, kind, name, lat, lon, quantities) VALUES"
                     " ('T1', 'tide_gauge', 'T1', 30.6, 121.0, '{tide_level}')")
        conn.execute("INSERT INTO latest_readings (station_id, quantity, ts, value, qc, received_at)"
                     " VALUES ('T1', 'tide_level', %s, 5.0, 1, now())", (sim_now - timedelta(minutes=5),))
        conn.execute("INSERT INTO official_feeds (source, issuer, kind, level, area, valid_from, valid_to, issued_at,"
                     " received_by) VALUES ('zj_marine', 'ZJ', 'surge_forecast', 'orange', '{}', %s, %s, %s, 't')",
                     (sim_now - timedelta(hours=1), sim_now + timedelta(hours=5), sim_now - timedelta(hours=1)))
    engine_write(db_url, {"seq": 1, "at": sim_now.isoformat(), "segments": {"PH01": seg_entry("orange")}},
                 kind="snapshot")
    async with running_api(replay, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        body = (await c.get("/api/v1/stations")).json()
        t1 = [s for s in body["items"] if s["id"] == "T1"][0]
        assert 290 <= t1["age_s"] <= 300 + 60 * 5  # 5 sim-minutes old (+ at most 5 wall-s of test at 60x)
        assert abs((_parse(body["server_now"]) - clock.now()).total_seconds()) < 60 * 5
        assert _parse(body["server_now"]).year == 2021

        h = await login(c, "dora", "correct horse battery")
        feeds = (await c.get("/api/v1/feeds", headers=h)).json()["items"]
        assert [f["source"] for f in feeds] == ["zj_marine"]  # valid on the clock (2021), not on the wall clock
        r = await c.post("/api/v1/segments/PH01/override", json={"level": "red", "reason": "wall crack",
                                                                 "duration_min": 30}, headers=h)
        assert r.status_code == 201
        created, expires = _parse(r.json()["created_at"]), _parse(r.json()["expires_at"])
        assert created.year == 2021 and expires - created == timedelta(minutes=30)
        assert (await c.get("/api/v1/segments/PH01")).json()["properties"]["override"]["reason"] == "wall crack"
        assert [o["segment_id"] for o in (await c.get("/api/v1/overrides", headers=h)).json()["items"]] == ["PH01"]
        # an explicit expiry is judged on the clock too: a wall-clock "tomorrow" is years ahead of it
        r = await c.post("/api/v1/segments/PH02/override",
                         json={"level": "red", "reason": "wall crack",
                               "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, headers=h)
        assert r.status_code == 422

        async with websockets.connect(api.ws + "/ws/live") as ws:
            msg = json.loads(await ws.recv())
        assert msg["type"] == "snapshot"
        assert _parse(msg["server_now"]).year == 2021
        assert abs((_parse(msg["pushed_at"]) - datetime.now(UTC)).total_seconds()) < 30  # latency mark: wall

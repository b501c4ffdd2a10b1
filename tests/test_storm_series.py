"""Issue 12 through the real services (ingest over MQTT, engine, API, a /ws/live client):
a red bulletin followed by a blue Update turns blue, a Cancel ends it; wrong references
get a clear 4xx."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import websockets
from prometheus_client import CollectorRegistry

from haixun.contract import format_ts
from haixun.data.geography import load_geography
from haixun.engine.service import EngineService
from haixun.ingest.service import IngestService
from haixun.settings import Settings
from tests.support.api import add_user, recv_until, running_api
from tests.support.clock import utcnow
from tests.support.engine import FAST, current_level, insert_geography_stations, write_readings
from tests.support.geo import behind
from tests.support.mqtt import obs_json, publish_all
from tests.support.wait import eventually


async def segment_level_on_ws(ws: Any, sid: str, want: str, timeout: float = 30.0) -> dict[str, Any]:
    """Read /ws/live until segment ``sid`` is at ``want``; return its entry."""
    def entry(m: dict[str, Any]) -> dict[str, Any] | None:
        e = (m["body"].get("segments") or {}).get(sid) if m.get("type") in ("snapshot", "delta") else None
        return e if e and e["level"] == want else None
    return entry(await recv_until(ws, entry, timeout, what=f"{sid} {want} on /ws/live")) or {}


def calm_tide(segment_id: str = "PH01") -> float:
    """A water level 1 m under the segment's blue warning tide level (geography)."""
    seg = next(s for s in load_geography().segments if s.id == segment_id)
    return round(seg.warning_levels.blue - 1.0, 2)


async def publish_calm(settings: Settings, mqtt_endpoint: Any, ts) -> None:
    """PH01's stations (tide and wind XB-M01, waves ZP-B01), through MQTT and ingest."""
    await publish_all(mqtt_endpoint, [
        (settings.topic("obs", "XB-M01"), obs_json(format_ts(ts), {"tide_level": calm_tide(), "wind_speed": 3.0,
                                                                    "wind_gust": 5.0})),
        (settings.topic("obs", "ZP-B01"), obs_json(format_ts(ts), {"wave_height": 0.4, "wave_period": 4.0}))])


async def test_red_bulletin_blue_update_turns_blue_and_cancel_ends_it(settings: Settings, db_url: str,
                                                                      tmp_path: Path, mqtt_endpoint: Any) -> None:
    add_user(db_url, "dora", "duty")
    with psycopg.connect(db_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        async with IngestService(settings), running_api(settings, tmp_path, project_geography=True) as api, \
                httpx.AsyncClient(base_url=api.base) as c, \
                EngineService(settings, options=FAST, registry=CollectorRegistry()) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            now = utcnow()
            await publish_calm(settings, mqtt_endpoint, now)
            await eventually(lambda: (r := current_level(conn, "segment", "PH01")) and r[0] == "none", timeout=60)
            token = (await c.post("/api/v1/auth/login", json={"username": "dora",
                                                              "password": "correct horse battery"})).json()
            auth = {"Authorization": f"Bearer {token['access_token']}"}

            def bulletin(ident: str, msg: str, level: str | None, refs: list[str], sent_s: float) -> dict[str, Any]:
                sent = now + timedelta(seconds=sent_s)
                b: dict[str, Any] = {"identifier": ident, "msgType": msg, "references": refs, "sent": format_ts(sent),
                                     "issuer": "浙江省海洋监测预报中心", "kind": "surge_forecast",
                                     "area": {"segments": ["PH01", "PH02"]}, "valid_from": format_ts(sent),
                                     "valid_to": format_ts(sent + timedelta(hours=12))}
                if level is not None:
                    b["level"] = level
                return b

            async with websockets.connect(api.ws + "/ws/live") as ws:
                r = await c.post("/api/v1/feeds/zj_marine", json=bulletin("SS-1", "Alert", "red", [], -60), headers=auth)
                assert r.status_code == 201, r.text
                e = await segment_level_on_ws(ws, "PH01", "red")
                assert e["official_level"] == "red" and e["local_level"] == "none"

                r = await c.post("/api/v1/feeds/zj_marine", json=bulletin("SS-2", "Update", "blue", ["SS-1"], -30),
                                 headers=auth)
                assert r.status_code == 201, r.text
                assert r.json()["msgType"] == "Update" and r.json()["references"] == ["SS-1"]
                e = await segment_level_on_ws(ws, "PH01", "blue")  # at once: no dwell on an official downgrade
                assert e["official_level"] == "blue"
                assert [h["threshold_source"] for h in e["hazards"] if h["hazard"].startswith("official")] == \
                    [f"浙江省海洋监测预报中心 (zj_marine:{r.json()['id']})"]
                feeds = (await c.get("/api/v1/feeds?active=false", headers=auth)).json()["items"]
                by_id = {f["identifier"]: f for f in feeds}
                assert by_id["SS-1"]["status"] == "superseded" and by_id["SS-1"]["superseded_by"] == "SS-2"
                assert by_id["SS-2"]["status"] == "effective"
                active = (await c.get("/api/v1/feeds", headers=auth)).json()["items"]
                assert [f["identifier"] for f in active] == ["SS-2"]
                warnings = (await c.get("/api/v1/warnings")).json()
                assert [f["identifier"] for f in warnings["official"]] == ["SS-2"]

                # wrong references: a clear 4xx, nothing stored
                r = await c.post("/api/v1/feeds/zj_marine", json=bulletin("SS-X", "Update", "red", ["NOPE"], -20),
                                 headers=auth)
                assert r.status_code == 409 and "NOPE" in r.text, r.text
                r = await c.post("/api/v1/feeds/zj_marine", json=bulletin("SS-Y", "Update", "red", [], -20),
                                 headers=auth)
                assert r.status_code == 422 and "references" in r.text, r.text
                wrong_kind = bulletin("SS-Z", "Update", "red", ["SS-2"], -20) | {"kind": "typhoon_warning"}
                r = await c.post("/api/v1/feeds/zj_marine", json=wrong_kind, headers=auth)
                assert r.status_code == 422 and "same kind" in r.text, r.text
                r = await c.post("/api/v1/feeds/other_src", json=bulletin("SS-W", "Cancel", None, ["SS-2"], -20),
                                 headers=auth)
                assert r.status_code == 409, r.text  # identifiers are per source
                assert conn.execute("SELECT count(*) FROM official_feeds").fetchone()[0] == 2

                # the Cancel (no level, no area, no validity needed) ends the series
                cancel = {"identifier": "SS-3", "msgType": "Cancel", "references": "zj_marine,SS-2,x",
                          "sent": format_ts(now - timedelta(seconds=10)), "issuer": "浙江省海洋监测预报中心",
                          "kind": "surge_forecast"}
                r = await c.post("/api/v1/feeds/zj_marine", json=cancel, headers=auth)
                assert r.status_code == 201, r.text
                assert r.json()["level"] == "none" and r.json()["area"] == {"segments": ["PH01", "PH02"]}
                await segment_level_on_ws(ws, "PH01", "none")
                assert (await c.get("/api/v1/feeds", headers=auth)).json()["items"] == []
                # a Cancel's series is over: an Update of it is refused
                r = await c.post("/api/v1/feeds/zj_marine", json=bulletin("SS-4", "Update", "red", ["SS-3"], -5),
                                 headers=auth)
                assert r.status_code == 409 and "ended" in r.text, r.text
            level, _, _, decision = current_level(conn, "segment", "PH01")
            assert level == "none" and decision["official_level"] == "none"


async def test_zhapu_storm_tide_unknown_with_blue_wind_is_never_plain_blue_anywhere(settings: Settings, db_url: str,
                                                                                    tmp_path: Path) -> None:
    """Engine + API: the Zhapu tide gauge silent, wind blue -> "unknown, at least blue" for PH05-PH09 in
    /api/v1/segments, the resident behind PH07 on /api/v1/risk, /api/v1/warnings; then a red bulletin with
    every Zhapu sensor silent -> red everywhere, "official only, sensors offline since ..."."""
    add_user(db_url, "dora", "duty")
    zhapu = ("PH05", "PH06", "PH07", "PH08", "PH09")
    with psycopg.connect(db_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        now = utcnow()
        stale = now - timedelta(seconds=700)  # past the 600 s tide limit of riskcode.toml
        write_readings(conn, "ZP-T01", stale, {"tide_level": calm_tide("PH07")})
        write_readings(conn, "ZP-W01", now, {"wind_speed": 12.0, "wind_gust": 14.0})  # force 6 mean: gale blue
        write_readings(conn, "ZP-B01", now, {"wave_height": 0.4, "wave_period": 4.0})
        async with running_api(settings, tmp_path, project_geography=True) as api, \
                httpx.AsyncClient(base_url=api.base) as c, \
                EngineService(settings, options=FAST, registry=CollectorRegistry()) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            await eventually(lambda: (r := current_level(conn, "segment", "PH07")) and r[0] == "unknown")

            async def segs() -> dict[str, Any]:
                fc = (await c.get("/api/v1/segments")).json()
                return {f["id"]: f["properties"] for f in fc["features"]}

            await eventually(lambda: _props_level(segs, "PH07", "unknown, at least blue"))
            props = await segs()
            for sid in zhapu:
                p = props[sid]
                assert (p["level"], p["floor"], p["label"]) == ("unknown", "blue", "unknown, at least blue"), (sid, p["hazards"])
                assert "storm_tide" in p["unknown_hazards"] and p["sensors_offline"] is False
            lat, lon = behind("PH07", 80.0)
            rr = await c.get("/api/v1/risk", params={"lat": lat, "lon": lon, "lang": "en"})
            assert rr.status_code == 200, rr.text
            risk = rr.json()
            assert risk["code"] == "unknown" and risk["floor"] == "blue" and "storm_tide" in risk["unknown_hazards"]
            assert "at least" in risk["advice"]["title"]
            city = (await c.get("/api/v1/warnings")).json()["city"]
            assert city["level"] == "unknown" and city["floor"] != "none"

            # every Zhapu sensor silent, a red bulletin: red everywhere, official only
            conn.execute("UPDATE latest_readings SET ts = %s WHERE station_id IN ('ZP-W01', 'ZP-B01')",
                         (now - timedelta(hours=1),))  # past the wind (600 s) and wave (1800 s) limits
            token = (await c.post("/api/v1/auth/login", json={"username": "dora",
                                                              "password": "correct horse battery"})).json()
            r = await c.post("/api/v1/feeds/zj_marine", headers={"Authorization": f"Bearer {token['access_token']}"},
                             json={"identifier": "ZP-1", "msgType": "Alert", "sent": format_ts(now),
                                   "issuer": "浙江省海洋监测预报中心", "kind": "surge_forecast", "level": "red",
                                   "area": {"segments": list(zhapu)}, "valid_from": format_ts(now),
                                   "valid_to": format_ts(now + timedelta(hours=12))})
            assert r.status_code == 201, r.text
            await eventually(lambda: _props_level(segs, "PH07", "red"))
            props = await segs()
            for sid in zhapu:
                p = props[sid]
                assert p["level"] == "red" and p["official_only"] and p["sensors_offline"], (sid, p)
                assert p["sensors_offline_since"] is not None
            risk = (await c.get("/api/v1/risk", params={"lat": lat, "lon": lon})).json()
            assert risk["code"] == "red" and risk["official_only"] is True
            cap = (await c.get("/api/v1/cap")).text
            assert "Extreme" in cap  # the CAP export says red, not nothing


async def _props_level(segs, sid: str, label: str) -> bool:
    return (await segs())[sid].get("label") == label


async def test_progress_line_worst_segment_treats_unknown_as_at_least_its_floor(db_url: str) -> None:
    from haixun.demo.progress import ProgressSampler

    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO current_levels (subject_kind, subject_id, level, raw_level, since, decided_at, decision, seq)"
            " VALUES ('segment', 'PH05', 'unknown', 'unknown', now(), now(), '{\"floor\": \"orange\"}', 1),"
            " ('segment', 'PH06', 'yellow', 'yellow', now(), now(), '{\"floor\": \"yellow\"}', 1),"
            " ('city', 'city', 'unknown', 'unknown', now(), now(), '{\"floor\": \"orange\"}', 1)")
        line = (await ProgressSampler().sample(conn)).line()
    assert "worst unknown, at least orange (PH05)" in line and "city unknown, at least orange" in line

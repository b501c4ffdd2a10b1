"""Credentials and roles on every duty/admin endpoint; audit rows."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg

from haixun.settings import Settings
from tests.support.api import add_key, add_user, login, running_api, sync_test_geography

FEED = {"issuer": "省海洋预报台", "kind": "surge_forecast", "level": "orange",
        "area": {"segments": ["PH01"]}, "valid_from": "2021-07-25T12:00:00Z", "valid_to": "2999-07-26T12:00:00Z",
        "text_zh": "风暴潮橙色", "text_en": "orange surge", "issued_at": "2021-07-25T11:30:00Z"}

# (method, path, json body, role needed)
PROTECTED = [
    ("POST", "/api/v1/alarms/1/ack", {"comment": "seen"}, "duty"),
    ("POST", "/api/v1/segments/PH01/override", {"level": "red", "reason": "wall crack", "duration_min": 60}, "duty"),
    ("DELETE", "/api/v1/segments/PH01/override", None, "duty"),
    ("POST", "/api/v1/shelters/S01/status", {"open": False, "comment": "full"}, "duty"),
    ("POST", "/api/v1/roads/R01/status", {"closed": True, "comment": "flooded"}, "duty"),
    ("POST", "/api/v1/feeds/provincial_surge", FEED, "duty"),
    ("POST", "/api/v1/thresholds", {"format": "toml", "text": "version = 'x'"}, "admin"),
    ("POST", "/api/v1/thresholds/versions/1/activate", None, "admin"),
    ("GET", "/api/v1/audit", None, "admin"),
    ("GET", "/api/v1/overrides", None, "viewer"),
    ("GET", "/api/v1/thresholds", None, "viewer"),
    ("GET", "/api/v1/feeds", None, "viewer"),
]


async def test_every_protected_endpoint_refuses_without_and_with_wrong_role(settings: Settings, db_url: str,
                                                                            tmp_path: Path) -> None:
    add_user(db_url, "vera", "viewer")
    add_user(db_url, "dora", "duty")
    feed_key = add_key(db_url, "feeder", "feed")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        viewer = await login(c, "vera", "correct horse battery")
        duty = await login(c, "dora", "correct horse battery")
        for method, path, body, role in PROTECTED:
            r = await c.request(method, path, json=body)
            assert r.status_code == 401, (method, path, r.status_code)
            r = await c.request(method, path, json=body, headers={"Authorization": "Bearer not-a-jwt"})
            assert r.status_code == 401, (method, path)
            r = await c.request(method, path, json=body, headers={"X-API-Key": "hx_dead_beef"})
            assert r.status_code == 401, (method, path)
            wrong = {"duty": viewer, "admin": duty, "viewer": None}[role]
            if wrong is not None:
                r = await c.request(method, path, json=body, headers=wrong)
                assert r.status_code == 403, (method, path, r.status_code, r.text)
            if not path.startswith("/api/v1/feeds/"):
                r = await c.request(method, path, json=body, headers={"X-API-Key": feed_key})
                assert r.status_code == 403, ("feed key", method, path, r.status_code)


async def test_login_rejects_wrong_password_and_unknown_user(settings: Settings, db_url: str, tmp_path: Path) -> None:
    add_user(db_url, "dora", "duty")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        assert (await c.post("/api/v1/auth/login", json={"username": "dora", "password": "wrong password"})).status_code == 401
        assert (await c.post("/api/v1/auth/login", json={"username": "nobody", "password": "whatever1"})).status_code == 401
        h = await login(c, "dora", "correct horse battery")
        me = (await c.get("/api/v1/auth/me", headers=h)).json()
        assert me == {"username": "dora", "role": "duty", "via": "jwt"}
        # disabling the user invalidates their token at once
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE api_users SET active = false WHERE username = 'dora'")
        assert (await c.get("/api/v1/auth/me", headers=h)).status_code == 401


async def test_changes_are_audited_with_before_and_after(settings: Settings, db_url: str, tmp_path: Path) -> None:
    add_user(db_url, "dora", "duty")
    sync_test_geography(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        alarm_id = conn.execute("INSERT INTO level_changes (subject_kind, subject_id, at, from_level, to_level) "
                                "VALUES ('segment', 'PH01', now(), 'orange', 'red') RETURNING id").fetchone()[0]
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        h = await login(c, "dora", "correct horse battery")
        r = await c.post(f"/api/v1/alarms/{alarm_id}/ack", json={"comment": "team sent"}, headers=h)
        assert r.status_code == 200 and r.json()["acknowledged_by"] == "user:dora"
        assert (await c.post(f"/api/v1/alarms/{alarm_id}/ack", json={}, headers=h)).status_code == 409
        assert (await c.post("/api/v1/alarms/999999/ack", json={}, headers=h)).status_code == 404
        r = await c.post("/api/v1/segments/PH01/override", json={"level": "red", "reason": "wall crack", "duration_min": 30},
                         headers=h)
        assert r.status_code == 201 and r.json()["level"] == "red"
        seg = (await c.get("/api/v1/segments/PH01")).json()
        assert seg["properties"]["override"]["reason"] == "wall crack"
        assert (await c.request("DELETE", "/api/v1/segments/PH01/override", headers=h)).status_code == 200
        assert (await c.get("/api/v1/segments/PH01")).json()["properties"]["override"] is None
        r = await c.post("/api/v1/segments/PH01/override", json={"level": "red", "reason": "x", "duration_min": 30}, headers=h)
        assert r.status_code == 422  # reason too short
        r = await c.post("/api/v1/shelters/S01/status", json={"open": False, "comment": "full"}, headers=h)
        assert r.status_code == 200 and r.json()["open"] is False
        r = await c.post("/api/v1/roads/R01/status", json={"closed": True}, headers=h)
        assert r.status_code == 200 and r.json()["closed"] is True
        assert (await c.post("/api/v1/feeds/provincial_surge", json=FEED, headers=h)).status_code == 201
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT actor, action, target, before, after FROM audit_log ORDER BY id").fetchall()
    actions = [r[1] for r in rows]
    assert actions == ["alarm.ack", "segment.override.set", "segment.override.clear", "shelter.status", "road.status",
                       "feed.create"]
    assert all(r[0] == "user:dora" for r in rows)
    ack = rows[0]
    assert ack[3]["acknowledged_at"] is None and ack[4]["acknowledged_by"] == "user:dora"
    assert rows[3][3] == {"open": True} and rows[3][4] == {"open": False}


async def test_feed_key_restricted_to_its_sources(settings: Settings, db_url: str, tmp_path: Path) -> None:
    key = add_key(db_url, "province", "feed", ["provincial_surge"])
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        h = {"X-API-Key": key}
        r = await c.post("/api/v1/feeds/provincial_surge", json={**FEED, "external_id": "F-1"}, headers=h)
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["received_by"] == "key:province" and first["area"] == {"segments": ["PH01"]}
        r = await c.post("/api/v1/feeds/provincial_surge", json={**FEED, "external_id": "F-1", "level": "red"}, headers=h)
        assert r.status_code == 201 and r.json()["id"] == first["id"] and r.json()["level"] == "red"
        assert (await c.post("/api/v1/feeds/red_tide", json=FEED, headers=h)).status_code == 403
        bad = {**FEED, "valid_to": "2021-07-25T00:00:00Z"}
        assert (await c.post("/api/v1/feeds/provincial_surge", json=bad, headers=h)).status_code == 422
        # one vocabulary: riskcode's feed kinds; the old API names are refused, not translated
        for kind in ("storm_surge_forecast", "wave_warning", "anything_else"):
            r = await c.post("/api/v1/feeds/provincial_surge", json={**FEED, "kind": kind}, headers=h)
            assert r.status_code == 422 and "surge_forecast" in r.text, (kind, r.text)
        bad = {**FEED, "area": {"segments": ["NOPE"]}}
        assert (await c.post("/api/v1/feeds/provincial_surge", json=bad, headers=h)).status_code == 422
        poly = {**FEED, "area": {"polygon": [[121.0, 30.6], [121.1, 30.6], [121.1, 30.65]]}}
        r = await c.post("/api/v1/feeds/provincial_surge", json=poly, headers=h)
        assert r.status_code == 201 and r.json()["area"]["polygon"][-1] == [121.0, 30.6]


async def test_thresholds_versioned_validated_and_kept(settings: Settings, db_url: str, tmp_path: Path) -> None:
    from haixun.riskcode.config import DEFAULT_CONFIG_PATH

    add_user(db_url, "root", "admin")
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        h = await login(c, "root", "correct horse battery")
        r = await c.post("/api/v1/thresholds", json={"format": "toml", "text": text, "comment": "initial"}, headers=h)
        assert r.status_code == 201, r.text
        v1 = r.json()["id"]
        edited = text.replace("b_max_m = 200.0", "b_max_m = 250.0")
        assert edited != text
        r = await c.post("/api/v1/thresholds", json={"format": "toml", "text": edited}, headers=h)
        assert r.status_code == 201
        broken = text.replace("b_max_m = 200.0", "b_max_m = 5000.0")  # zone bounds no longer increasing
        r = await c.post("/api/v1/thresholds", json={"format": "toml", "text": broken}, headers=h)
        assert r.status_code == 422 and "b_max_m" in r.text
        versions = (await c.get("/api/v1/thresholds/versions", headers=h)).json()["items"]
        assert [v["active"] for v in versions] == [True, False]
        assert "250.0" in (await c.get("/api/v1/thresholds", headers=h)).json()["text"]
        r = await c.post(f"/api/v1/thresholds/versions/{v1}/activate", headers=h)
        assert r.status_code == 200 and r.json()["active"] is True
        assert "b_max_m = 200.0" in (await c.get("/api/v1/thresholds", headers=h)).json()["text"]
        assert api.app.state.ctx.risk_config.zones.b_max_m == 200.0

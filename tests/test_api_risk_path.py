"""The GET /api/v1/risk request path: request metrics middleware, the cache of serialised responses
(hits byte-identical to misses, bounded, a new state / status change / config makes new entries)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import psycopg

from haixun.api.context import ApiContext
from haixun.settings import Settings
from tests.support.api import engine_write, running_api, seen_seq, seg_entry, sync_test_geography

BEHIND_PH01 = {"lat": 30.6009, "lon": 121.02}  # ~100 m behind PH01: zone B


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name) + 1:line.rindex("} ")]))
        if got == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_request_metrics_by_route_template_and_status(settings: Settings, db_url: str, tmp_path: Path) -> None:
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        for _ in range(3):
            assert (await c.get("/api/v1/risk", params=BEHIND_PH01)).status_code == 200
        assert (await c.get("/api/v1/risk", params={"lat": "abc", "lon": 121.0})).status_code == 422
        assert (await c.get("/api/v1/segments/NOPE")).status_code == 404
        assert (await c.get("/no/such/path")).status_code == 404
        m = (await c.get("/metrics")).text
    assert _metric(m, "haixun_api_requests_total", method="GET", route="/api/v1/risk", status="200") == 3
    assert _metric(m, "haixun_api_requests_total", method="GET", route="/api/v1/risk", status="422") == 1
    # the template, never the concrete id (or a location) in a label
    assert _metric(m, "haixun_api_requests_total", method="GET", route="/api/v1/segments/{segment_id}",
                   status="404") == 1
    assert "NOPE" not in m and "30.6009" not in m
    assert _metric(m, "haixun_api_requests_total", method="GET", route="unmatched", status="404") == 1
    assert _metric(m, "haixun_api_request_seconds_count", route="/api/v1/risk") == 4


async def test_cached_bytes_equal_computed_and_cache_is_bounded(settings: Settings, db_url: str,
                                                                tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {"PH01": seg_entry("orange"), "PH02": seg_entry("none")}}, kind="snapshot")
    async with running_api(settings, tmp_path, risk_cache_max=4) as api, httpx.AsyncClient(base_url=api.base) as c:
        ctx: ApiContext = api.app.state.ctx
        first = await c.get("/api/v1/risk", params={**BEHIND_PH01, "lang": "en"})
        again = await c.get("/api/v1/risk", params={**BEHIND_PH01, "lang": "en"})
        assert first.status_code == again.status_code == 200
        assert first.headers["content-type"] == again.headers["content-type"] == "application/json"
        assert first.content == again.content
        body = first.json()
        assert body["code"] == "orange" and body["zone"]["id"] == "B" and body["lang"] == "en"
        # UTF-8 text, not \\u escapes (as FastAPI's JSONResponse writes it)
        zh = await c.get("/api/v1/risk", params={**BEHIND_PH01, "lang": "zh"})
        assert "风险".encode() in zh.content and zh.json()["lang"] == "zh"
        m = (await c.get("/metrics")).text
        assert _metric(m, "haixun_risk_cache_total", result="hit") == 1
        assert _metric(m, "haixun_risk_cache_total", result="miss") == 2
        for i in range(10):
            r = await c.get("/api/v1/risk", params={"lat": 30.61 + i * 0.001, "lon": 121.03})
            assert r.status_code == 200
            assert len(ctx.risk_cache) <= 4
        assert len(ctx.risk_cache) == 4
        # the first point was evicted: computed again, same answer
        m0 = _metric((await c.get("/metrics")).text, "haixun_risk_cache_total", result="miss")
        recomputed = (await c.get("/api/v1/risk", params={**BEHIND_PH01, "lang": "en"})).json()
        assert recomputed.pop("data_age_s") >= body.pop("data_age_s")  # the one field that moves with the clock
        assert recomputed == body
        assert _metric((await c.get("/metrics")).text, "haixun_risk_cache_total", result="miss") == m0 + 1


async def test_new_state_and_status_change_are_not_served_from_cache(settings: Settings, db_url: str,
                                                                     tmp_path: Path) -> None:
    sync_test_geography(db_url)
    engine_write(db_url, {"segments": {"PH01": seg_entry("none"), "PH02": seg_entry("none")}}, kind="snapshot")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        ctx: ApiContext = api.app.state.ctx
        r = (await c.get("/api/v1/risk", params=BEHIND_PH01)).json()
        assert r["code"] == "none" and (await c.get("/api/v1/risk", params=BEHIND_PH01)).json() == r
        seq = engine_write(db_url, {"segments": {"PH01": seg_entry("red")}})
        await seen_seq(api, seq)
        r2 = (await c.get("/api/v1/risk", params=BEHIND_PH01)).json()
        assert r2["code"] == "red" and r2["seq"] == seq
        assert "S01" in [s["id"] for s in r2["shelters"]]
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE shelters SET open = false WHERE id = 'S01'")
        assert await ctx.reload_ops()
        r3 = (await c.get("/api/v1/risk", params=BEHIND_PH01)).json()
        assert "S01" not in [s["id"] for s in r3["shelters"]] and r3["code"] == "red"
        # the websocket path reads the same cache as fresh dicts
        from haixun.api.risk_lookup import risk_for

        d = risk_for(ctx, BEHIND_PH01["lat"], BEHIND_PH01["lon"], "zh")
        d["code"] = "changed"
        assert risk_for(ctx, BEHIND_PH01["lat"], BEHIND_PH01["lon"], "zh") == r3
        assert json.loads((await c.get("/api/v1/risk", params=BEHIND_PH01)).content) == r3

"""Issue 14 item 7: input the database or Python cannot take is a 4xx with a message in one error body
(docs/api.md, errors), never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from haixun.settings import Settings
from tests.support.api import add_key, add_user, running_api, sync_test_geography
from tests.support.tide import add_station, store_model

FEED = {"issuer": "省海洋预报台", "kind": "surge_forecast", "level": "orange",
        "area": {"segments": ["PH01"]}, "valid_from": "2021-07-25T12:00:00Z", "valid_to": "2999-07-26T12:00:00Z",
        "text_zh": "风暴潮橙色", "text_en": "orange surge", "issued_at": "2021-07-25T11:30:00Z"}
LATE = "9999-12-31T23:59:59-01:00"
EARLY = "0001-01-01T00:00:00+01:00"


def _assert_error(r: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert r.status_code in statuses, (r.request.method, r.request.url, r.status_code, r.text)
    body = r.json()
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


async def test_nul_bytes_overflowing_dates_and_nan_are_4xx(settings: Settings, db_url: str, tmp_path: Path) -> None:
    sync_test_geography(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_station(conn, "ST1")
        store_model(conn, "ST1")
    add_user(db_url, "dora", "duty")
    feed_key = add_key(db_url, "feeder", "feed")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        r = await c.post("/api/v1/auth/login", json={"username": "dora", "password": "correct horse battery"})
        duty = {"Authorization": f"Bearer {r.json()['access_token']}"}
        nul = "a\x00b"
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/api/v1/stations/ST1/readings", {"params": {"quantity": nul}}),
            ("GET", "/api/v1/stations/S%00T/readings", {"params": {"quantity": "tide_level"}}),
            ("GET", "/api/v1/stations/S%00T/tide", {}),
            ("GET", "/api/v1/cap/alerts/x%00y", {}),
            ("GET", "/api/v1/segments/P%00H", {}),
            ("POST", "/api/v1/auth/login", {"json": {"username": nul, "password": "whatever1"}}),
            ("POST", "/api/v1/segments/PH01/override",
             {"json": {"level": "red", "reason": f"crack{nul}", "duration_min": 60}, "headers": duty}),
            ("POST", "/api/v1/shelters/S01/status", {"json": {"open": False, "comment": nul}, "headers": duty}),
            ("POST", "/api/v1/roads/R01/status", {"json": {"closed": True, "comment": nul}, "headers": duty}),
            ("POST", "/api/v1/alarms/1/ack", {"json": {"comment": nul}, "headers": duty}),
            ("POST", "/api/v1/feeds/provincial_surge", {"json": {**FEED, "issuer": nul}, "headers": duty}),
            ("POST", "/api/v1/feeds/provincial_surge",
             {"json": {**FEED, "external_id": nul}, "headers": {"X-API-Key": feed_key}}),
            # dates past Python's or PostgreSQL's range
            ("GET", "/api/v1/stations/ST1/readings", {"params": {"quantity": "tide_level", "to": LATE}}),
            ("GET", "/api/v1/stations/ST1/readings", {"params": {"quantity": "tide_level", "from": EARLY}}),
            ("GET", "/api/v1/stations/ST1/readings",
             {"params": {"quantity": "tide_level", "from": EARLY, "to": "0001-01-02T00:00:00Z"}}),
            ("GET", "/api/v1/stations/ST1/tide", {"params": {"to": LATE}}),
            ("GET", "/api/v1/stations/ST1/tide", {"params": {"from": EARLY}}),
            ("GET", "/api/v1/stations/ST1/tide", {"params": {"from": "9999-12-31T00:00:00Z"}}),
            ("POST", "/api/v1/feeds/provincial_surge", {"json": {**FEED, "valid_from": EARLY}, "headers": duty}),
            ("POST", "/api/v1/feeds/provincial_surge", {"json": {**FEED, "valid_to": LATE}, "headers": duty}),
            ("POST", "/api/v1/segments/PH01/override",
             {"json": {"level": "red", "reason": "crack", "expires_at": LATE}, "headers": duty}),
        ]
        for method, path, kw in cases:
            _assert_error(await c.request(method, path, **kw), 404, 422)
        for params in ({"to": LATE}, {"from": EARLY}, {"from": "0001-01-01T00:00:00Z", "to": "0001-01-01T06:00:00Z"}):
            r = await c.get("/api/v1/stations/ST1/tide", params=params)
            assert _assert_error(r, 422)["error"]["message"], params
            r = await c.get("/api/v1/stations/ST1/readings", params={"quantity": "tide_level", **params})
            assert _assert_error(r, 422)["error"]["message"], params
        # NaN / Infinity in a body that fails validation: the 422 itself must encode
        for raw in ('{"level": NaN, "reason": "abc", "duration_min": 60}',
                    '{"level": "red", "reason": "abc", "duration_min": Infinity}',
                    '{"level": "red", "reason": -Infinity, "duration_min": 1}'):
            r = await c.post("/api/v1/segments/PH01/override", content=raw,
                             headers={**duty, "content-type": "application/json"})
            body = _assert_error(r, 422)
            assert body["error"]["code"] == "invalid_input"
        r = await c.post("/api/v1/feeds/provincial_surge", headers={**duty, "content-type": "application/json"},
                         content=('{"issuer": "x", "kind": "surge_forecast", "level": "red", "area": {"polygon": '
                                  '[[NaN, 30.6], [121.0, Infinity], [121.1, 30.6]]}, "valid_from": '
                                  '"2021-07-25T12:00:00Z", "valid_to": "2999-07-26T12:00:00Z", '
                                  '"issued_at": "2021-07-25T11:30:00Z"}'))
        _assert_error(r, 422)
        # the ordinary errors carry the same shape (and the old ``detail``)
        r = await c.get("/api/v1/segments/NOPE")
        body = _assert_error(r, 404)
        assert body["error"]["code"] == "not_found" and "NOPE" in body["detail"]
        body = _assert_error(await c.get("/api/v1/risk", params={"lat": "nan", "lon": 121.0}), 422)
        assert isinstance(body["detail"], list)


@pytest.mark.parametrize("path", ["/api/v1/stations", "/api/v1/shelters", "/api/v1/segments"])
async def test_error_body_is_valid_json_for_unicode(settings: Settings, tmp_path: Path, path: str) -> None:
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        assert (await c.get(path)).status_code == 200
        _assert_error(await c.get(path + "/%E6%B5%B7%00"), 404, 405, 422)

"""Issue 17: every HTTP route documents its response body in /openapi.json with a pydantic model,
and the bodies the routes send are those models (no field added or lost on the way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg

from haixun.api.app import create_app
from haixun.api.options import ApiOptions
from haixun.data.geography import parse_geography
from haixun.settings import Settings
from tests.support.api import add_key, running_api, sample_geography, sync_test_geography, write_geography
from tests.support.tide import add_station, store_model

NON_JSON = {"application/cap+xml", "application/geo+json"}


def _openapi(settings: Settings, tmp_path: Path) -> dict[str, Any]:
    path = write_geography(tmp_path)
    app = create_app(settings, ApiOptions(geo_path=path, web_dir=tmp_path / "web"),
                     geography=parse_geography(sample_geography(), str(path)))
    return app.openapi()


def test_every_route_documents_its_body_with_a_model(settings: Settings, tmp_path: Path) -> None:
    spec = _openapi(settings, tmp_path)
    undocumented, ops = [], 0
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            ops += 1
            ok = [r for code, r in op["responses"].items() if code.startswith("2") and code != "204"]
            assert ok, (method, path)
            for resp in ok:
                content = resp.get("content") or {}
                json_schema = (content.get("application/json") or {}).get("schema")
                other = [m for m in content if m != "application/json" and content[m].get("schema")]
                if json_schema is not None and "$ref" in json_schema:
                    continue
                if json_schema in (None, {}) and (other or set(content) & NON_JSON):
                    continue  # XML, text or a file: its media type and schema are documented
                undocumented.append(f"{method.upper()} {path}: {json_schema}")
    assert ops >= 31, ops
    assert undocumented == []


async def test_models_document_the_bodies_as_sent(settings: Settings, db_url: str, tmp_path: Path) -> None:
    """The response models neither drop nor add fields: raw readings have no rollup fields, a segment
    list has no per-segment history, a station keeps its database columns."""
    sync_test_geography(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_station(conn, "ST1")
        store_model(conn, "ST1")
        conn.execute("INSERT INTO readings (station_id, quantity, ts, value, qc, received_at) VALUES "
                     "('ST1', 'tide_level', '2021-07-25T10:00:00Z', 4.2, 1, now())")
    admin = {"X-API-Key": add_key(db_url, "models-admin", "admin")}
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        r = await c.get("/api/v1/stations/ST1/readings", params={
            "quantity": "tide_level", "from": "2021-07-25T00:00:00Z", "to": "2021-07-26T00:00:00Z"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"station_id", "quantity", "resolution", "from", "to", "points"}
        assert body["points"] == [{"ts": "2021-07-25T10:00:00Z", "value": 4.2, "qc": 1}]
        r = await c.get("/api/v1/segments")
        props = r.json()["features"][0]["properties"]
        assert "history" not in props and "alarms" not in props and "structure" in props, props
        r = await c.get(f"/api/v1/segments/{props['id']}")
        assert r.json()["properties"]["history"] == [] and r.json()["properties"]["alarms"] == []
        r = await c.get("/api/v1/stations")
        st = next(s for s in r.json()["items"] if s["id"] == "ST1")
        assert {"lat", "lon", "segment_id", "gateway_id", "active", "online"} <= set(st), st
        r = await c.get("/api/v1/thresholds", headers=admin)
        assert r.status_code == 200 and "sha256" not in r.json() and r.json()["id"] is None, r.text

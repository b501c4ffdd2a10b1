"""The API tests' pieces: a small test geography, a real uvicorn server on a
free port, users/keys and logins, simulated engine writes, websocket reads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI

from haixun.api.app import create_app
from haixun.api.auth import hash_password, new_api_key
from haixun.api.options import ApiOptions
from haixun.data.geography import parse_geography
from haixun.data.sync import sync_to_db
from haixun.settings import Settings
from tests.support.net import free_port
from tests.support.wait import eventually

# `haixun api` and create_app refuse the old default and short secrets (haixun.api.auth.check_jwt_secret)
TEST_JWT_SECRET = "test-only-jwt-secret-" + "0123456789abcdef" * 2

# Coast along latitude 30.600 from 121.00 E to 121.10 E, the sea to the south.
COAST_LAT = 30.600


def _rect(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]}


def _f(layer: str, fid: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": {"layer": layer, "id": fid, **props}}


def sample_geography() -> dict[str, Any]:
    seg = dict(town_id="T01", structure="sloped_dike", crest_level_m=7.0, slope_tan=0.333, toe_level_m=-1.0,
               foreshore_slope=0.02, roughness_gamma_f=1.0,
               warning_levels_m={"blue": 5.0, "yellow": 5.5, "orange": 6.0, "red": 6.5},
               tide_station="ST1", wind_station="ST1", wave_station="ST1", orientation_deg=180.0)
    feats = [
        _f("seawall_segment", "PH01", {"type": "LineString", "coordinates": [[121.00, COAST_LAT], [121.05, COAST_LAT]]},
           name="一段", name_en="Section 1", **seg),
        _f("seawall_segment", "PH02", {"type": "LineString", "coordinates": [[121.05, COAST_LAT], [121.10, COAST_LAT]]},
           name="二段", name_en="Section 2", **seg),
        _f("land_boundary", "served", _rect(121.00, 30.595, 121.10, 30.65)),
        _f("town", "T01", _rect(121.00, COAST_LAT, 121.10, 30.65), name="乍浦镇", name_en="Zhapu", population=20000,
           population_source="test"),
        _f("village", "V01", _rect(121.00, COAST_LAT, 121.05, 30.65), town_id="T01", name="西村", name_en="West",
           population=8000, contact={"name": "王", "phone": "0573-1", "role": "duty", "sample": True}),
        _f("village", "V02", _rect(121.05, COAST_LAT, 121.10, 30.65), town_id="T01", name="东村", name_en="East",
           population=12000, contact={"name": "李", "phone": "0573-2", "role": "duty", "sample": True}),
        _f("shelter", "S01", {"type": "Point", "coordinates": [121.02, 30.62]}, village_id="V01", name="学校",
           name_en="School", capacity=300, open=True, address="a"),
        _f("shelter", "S02", {"type": "Point", "coordinates": [121.03, 30.63]}, village_id="V01", name="礼堂",
           name_en="Hall", capacity=200, open=True, address="b"),
        _f("shelter", "S03", {"type": "Point", "coordinates": [121.07, 30.62]}, village_id="V02", name="体育馆",
           name_en="Gym", capacity=900, open=True, address="c"),
        _f("shelter", "S04", {"type": "Point", "coordinates": [121.021, 30.605]}, village_id="V01", name="closed one",
           name_en="Closed", capacity=50, open=False, address="d"),
        _f("road", "R01", {"type": "LineString", "coordinates": [[121.00, 30.602], [121.10, 30.602]]}, name="沿海路",
           name_en="Coast road", closed=False, low_points=[{"lon": 121.02, "lat": 30.602, "ground_level_m": 3.0}]),
    ]
    return {"type": "FeatureCollection", "meta": {"version": "test"}, "features": feats}


def write_geography(folder: Path) -> Path:
    path = folder / "geo.geojson"
    path.write_text(json.dumps(sample_geography(), ensure_ascii=False), encoding="utf-8")
    return path


def sync_test_geography(db_url: str) -> None:
    """What ``haixun load-geo`` does, with the test geography (shelters/roads rows for the status endpoints)."""
    with psycopg.connect(db_url) as conn:
        sync_to_db(conn, parse_geography(sample_geography(), "test"))


@dataclass
class Api:
    base: str
    ws: str
    app: FastAPI
    host: str
    port: int


@contextlib.asynccontextmanager
async def running_api(settings: Settings, tmp_path: Path, *, project_geography: bool = False,
                      **opts: Any) -> AsyncIterator[Api]:
    """``project_geography``: the packaged pinghu.geojson (as the engine uses), else the small test geography."""
    if project_geography:
        app = create_app(settings, ApiOptions(web_dir=tmp_path / "web", **opts))
    else:
        path = write_geography(tmp_path)
        options = ApiOptions(geo_path=path, web_dir=tmp_path / "web", **opts)
        # the small test geography is parsed, not validated (it is no 27 km seawall)
        app = create_app(settings, options, geography=parse_geography(sample_geography(), str(path)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           ws_ping_interval=None))
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        if task.done():
            task.result()  # raises why it stopped
        return bool(server.started)
    await eventually(started, timeout=60, step=0.02, what="uvicorn started")
    try:
        yield Api(base=f"http://127.0.0.1:{port}", ws=f"ws://127.0.0.1:{port}", app=app, host="127.0.0.1", port=port)
    finally:
        server.should_exit = True
        server.force_exit = True
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)


def add_user(db_url: str, username: str, role: str, password: str = "correct horse battery") -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO api_users (username, password_hash, role) VALUES (%s, %s, %s)",
                     (username, hash_password(password), role))
    return password


def add_key(db_url: str, name: str, role: str, sources: list[str] | None = None) -> str:
    k = new_api_key()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO api_keys (name, prefix, key_sha256, role, sources) VALUES (%s, %s, %s, %s, %s)",
                     (name, k.prefix, k.sha256, role, sources or []))
    return k.key


def engine_write(db_url: str, body: dict[str, Any], kind: str = "delta") -> int:
    """What the engine does: append a state_log row and NOTIFY in one transaction."""
    with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
        seq = conn.execute("INSERT INTO state_log (kind, body) VALUES (%s, %s::jsonb) RETURNING seq",
                           (kind, json.dumps(body))).fetchone()[0]
        conn.execute("SELECT pg_notify('haixun_state', %s)", (str(seq),))
    return int(seq)


def seg_entry(level: str, raw: str | None = None, **extra: Any) -> dict[str, Any]:
    e = {"level": level, "raw_level": raw or level, "since": "2021-07-26T01:00:00Z",
         "decided_at": "2021-07-26T01:50:00Z", "hazards": []}
    e.update(extra)
    return e


async def login(c: httpx.AsyncClient, user: str, pw: str) -> dict[str, str]:
    """POST /api/v1/auth/login; the bearer header."""
    r = await c.post("/api/v1/auth/login", json={"username": user, "password": pw})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def recv(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    """The next websocket message, parsed."""
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def recv_until(ws: Any, accept: Callable[[dict[str, Any]], Any], timeout: float = 30.0,
                     what: str = "the expected message") -> dict[str, Any]:
    """The next websocket message that ``accept`` takes (others skipped); ``timeout`` bounds a hang."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{what}: not received within {timeout:g} s")
        m = await recv(ws, left)
        if accept(m):
            return m


async def recv_type(ws: Any, type_: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next websocket message of type ``type_`` (others skipped)."""
    return await recv_until(ws, lambda m: m["type"] == type_, timeout, what=f"a {type_} message")


async def raw_ws_never_reading(host: str, port: int, path: str) -> socket.socket:
    """A websocket client that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no receive-buffer autotuning
    sock.connect((host, port))
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await asyncio.to_thread(sock.recv, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def seen_seq(api: Api, seq: int) -> None:
    """Wait until the API has read state_log up to ``seq`` (its live hub)."""
    ctx = api.app.state.ctx
    await eventually(lambda: ctx.live.seq >= seq, what=f"the API at state seq {seq}")

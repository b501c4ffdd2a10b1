"""Issue 14 items 6 and 8: /ws/risk computes once per location cell per state, connection caps,
dropped slow clients' sockets closed, long replays streamed, binary frames closed with 1003."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import websockets

from haixun.settings import Settings
from tests.support.api import engine_write, raw_ws_never_reading, recv, running_api, seg_entry
from tests.support.wait import eventually


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_ws_risk_computes_once_per_cell_per_state(settings: Settings, db_url: str, tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {"PH01": seg_entry("none"), "PH02": seg_entry("none")}}, kind="snapshot")
    cells = [(30.6009, 121.02), (30.6012, 121.07)]
    per_cell = 6
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        socks = []
        for lat, lon in cells:
            for k in range(per_cell):  # the same ~11 m cell, spelled a little differently
                socks.append(await websockets.connect(api.ws + f"/ws/risk?lat={lat + k * 1e-6:.6f}&lon={lon}&lang=en"))
        for ws in socks:
            assert (await recv(ws))["type"] == "risk"
        m0 = _metric((await c.get("/metrics")).text, "haixun_risk_cache_total", result="miss")
        h0 = _metric((await c.get("/metrics")).text, "haixun_risk_cache_total", result="hit")
        engine_write(db_url, {"segments": {"PH01": seg_entry("red"), "PH02": seg_entry("yellow")}})
        for ws in socks:
            m = await recv(ws)
            while m["type"] != "risk":
                m = await recv(ws)
            assert m["risk"]["code"] in ("red", "yellow", "orange")
        m1 = _metric((await c.get("/metrics")).text, "haixun_risk_cache_total", result="miss")
        h1 = _metric((await c.get("/metrics")).text, "haixun_risk_cache_total", result="hit")
        assert m1 - m0 == len(cells), (m0, m1)
        # one lookup per cell: before, each client looked its cell up again (10 cache hits and 12 decodes)
        assert h1 - h0 == 0, (h0, h1)
        for ws in socks:
            await ws.close()


async def test_connection_caps_per_address_and_in_total(settings: Settings, db_url: str, tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {}}, kind="snapshot")
    async with running_api(settings, tmp_path, ws_max_per_address=3, ws_max_clients=5) as api:
        mine = [await websockets.connect(api.ws + "/ws/live") for _ in range(3)]
        for ws in mine:
            assert (await recv(ws))["type"] == "snapshot"
        extra = await websockets.connect(api.ws + "/ws/risk?lat=30.6009&lon=121.02")
        try:
            await asyncio.wait_for(extra.recv(), 5)
            raise AssertionError("a 4th connection from one address was served")
        except websockets.ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 1013
        # other addresses (behind the trusted proxy) still fit, up to the total
        others = []
        for i in range(2):
            others.append(await websockets.connect(api.ws + "/ws/live",
                                                   additional_headers={"X-Forwarded-For": f"198.51.100.{i}"}))
            assert (await recv(others[-1]))["type"] == "snapshot"
        over = await websockets.connect(api.ws + "/ws/live", additional_headers={"X-Forwarded-For": "198.51.100.9"})
        try:
            await asyncio.wait_for(over.recv(), 5)
            raise AssertionError("connection over the total cap was served")
        except websockets.ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 1013
        # a closed connection frees its place
        await mine[0].close()
        await eventually(lambda: len(api.app.state.ctx.hub.clients) == 4)
        again = await websockets.connect(api.ws + "/ws/live")
        assert (await recv(again))["type"] == "snapshot"
        for ws in [*mine[1:], *others, again]:
            await ws.close()


def _server_side_open(port: int, peer_port: int) -> bool:
    """The server process still holds a socket (any state) to the client's port."""
    for c in psutil.Process().net_connections(kind="tcp"):
        if c.laddr and c.laddr.port == port and c.raddr and c.raddr.port == peer_port:
            return True
    return False


async def test_dropped_slow_clients_sockets_are_closed(settings: Settings, db_url: str, tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {}}, kind="snapshot")
    filler = "x" * 100_000
    async with running_api(settings, tmp_path, ws_queue_max=8, ws_close_timeout_s=0.5) as api:
        slow = await raw_ws_never_reading(api.host, api.port, "/ws/live")
        peer = slow.getsockname()[1]
        assert _server_side_open(api.port, peer)
        for i in range(60):
            engine_write(db_url, {"i": i, "filler": filler})
        ctx = api.app.state.ctx
        await eventually(lambda: not any(c.channel == "live" for c in ctx.hub.clients))
        # before: the server kept its end until the client closed (never, for this one)
        await eventually(lambda: not _server_side_open(api.port, peer))
        slow.close()


async def test_a_replay_longer_than_the_queue_is_streamed(settings: Settings, db_url: str, tmp_path: Path) -> None:
    first = engine_write(db_url, {"segments": {}}, kind="snapshot")
    n = 300
    with psycopg.connect(db_url, autocommit=True) as conn:
        for i in range(n):
            conn.execute("INSERT INTO state_log (kind, body) VALUES ('delta', %s::jsonb)", (json.dumps({"i": i}),))
    async with running_api(settings, tmp_path, ws_queue_max=32) as api:
        assert api.app.state.ctx.live.seq > first + n - 1
        async with websockets.connect(api.ws + f"/ws/live?since={first}") as ws:
            got = [await recv(ws) for _ in range(n)]
            assert [m["body"]["i"] for m in got] == list(range(n))
            assert all(m["type"] == "delta" for m in got)
            # and it stays connected for the live stream
            seq = engine_write(db_url, {"i": "live"})
            m = await recv(ws)
            assert m["seq"] == seq and m["body"]["i"] == "live"


async def test_binary_frames_are_closed_with_1003(settings: Settings, db_url: str, tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {}}, kind="snapshot")
    async with running_api(settings, tmp_path) as api:
        for path in ("/ws/live", "/ws/risk?lat=30.6009&lon=121.02"):
            ws = await websockets.connect(api.ws + path)
            await recv(ws)
            await ws.send(b"\x00\x01binary")
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as exc:
                assert exc.rcvd is not None and exc.rcvd.code == 1003, (path, exc)
            # text from a client is still ignored, not a reason to close
            ws = await websockets.connect(api.ws + path)
            await recv(ws)
            await ws.send("hello")
            seq = engine_write(db_url, {"segments": {"PH01": seg_entry("yellow" if path == "/ws/live" else "red")}})
            if path == "/ws/live":
                assert (await recv(ws))["seq"] == seq
            else:
                assert re.match(r"risk|ping", (await recv(ws))["type"])
            await ws.close()


async def test_ws_risk_merges_fast_state_changes_and_ends_on_the_newest(settings: Settings, db_url: str,
                                                                       tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {"PH01": seg_entry("none"), "PH02": seg_entry("none")}}, kind="snapshot")
    async with running_api(settings, tmp_path, ws_risk_min_interval_s=1.0) as api:
        async with websockets.connect(api.ws + "/ws/risk?lat=30.6009&lon=121.02&lang=en") as ws:
            assert (await recv(ws))["type"] == "risk"
            levels = ["red", "yellow"] * 10 + ["orange"]
            with psycopg.connect(db_url, autocommit=True) as conn:
                for lv in levels:  # 21 states as fast as the database takes them
                    with conn.transaction():
                        seq = conn.execute("INSERT INTO state_log (kind, body) VALUES ('delta', %s::jsonb) "
                                           "RETURNING seq", (json.dumps({"segments": {"PH01": seg_entry(lv)}}),)
                                           ).fetchone()[0]
                        conn.execute("SELECT pg_notify('haixun_state', %s)", (str(seq),))
            got = []
            while True:
                m = await recv(ws, timeout=10)
                if m["type"] == "risk":
                    got.append(m["risk"]["segments"][0]["level"])
                    if m["risk"]["seq"] == seq:
                        break
            # the newest state always arrives; the ones in between are merged (before: one push per change)
            assert got[-1] == "orange"
            assert len(got) <= 5, got


async def test_ws_risk_skips_cells_whose_segments_did_not_change(settings: Settings, db_url: str,
                                                                 tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {"PH01": seg_entry("none"), "PH02": seg_entry("none")}}, kind="snapshot")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        west = await websockets.connect(api.ws + "/ws/risk?lat=30.6009&lon=121.02")   # in front of PH01 only
        east = await websockets.connect(api.ws + "/ws/risk?lat=30.6012&lon=121.08")   # in front of PH02 only
        for ws in (west, east):
            assert (await recv(ws))["type"] == "risk"
        first_west = (await _recv_risk_after(west, engine_write(db_url, {"segments": {"PH01": seg_entry("red")}})))
        assert first_west["risk"]["code"] != "none"
        cells0 = _metric((await c.get("/metrics")).text, "haixun_ws_risk_cells_total")
        seq = engine_write(db_url, {"segments": {"PH02": seg_entry("red")}})
        m = await _recv_risk_after(east, seq)
        assert m["risk"]["segments"][0]["id"] == "PH02" and m["risk"]["segments"][0]["level"] == "red"
        await eventually(lambda: api.app.state.ctx.risk_push_task.done())
        cells1 = _metric((await c.get("/metrics")).text, "haixun_ws_risk_cells_total")
        assert cells1 - cells0 == 1  # only the east cell was computed again
        # a snapshot replaces every entry: both cells are computed again, and both see it
        seq = engine_write(db_url, {"segments": {"PH01": seg_entry("yellow"), "PH02": seg_entry("yellow")}},
                           kind="snapshot")
        for ws in (west, east):
            m = await _recv_risk_after(ws, seq)
            assert m["risk"]["segments"][0]["level"] == "yellow"
        await west.close()
        await east.close()


async def _recv_risk_after(ws: Any, seq: int) -> dict[str, Any]:
    while True:
        m = await recv(ws, timeout=10)
        if m["type"] == "risk" and m["risk"]["seq"] >= seq:
            return m

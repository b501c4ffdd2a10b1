"""/ws/live: snapshot then deltas, replay with ?since=, slow clients dropped; /ws/risk pushes."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
import psycopg
import pytest
import websockets

from haixun.settings import Settings
from tests.support.api import engine_write, raw_ws_never_reading, recv, recv_type, running_api, seen_seq, seg_entry
from tests.support.wait import eventually


async def test_snapshot_then_delta_then_replay_since(settings: Settings, db_url: str, tmp_path: Path) -> None:
    s1 = engine_write(db_url, {"segments": {"PH01": seg_entry("none"), "PH02": seg_entry("none")}}, kind="snapshot")
    async with running_api(settings, tmp_path) as api:
        async with websockets.connect(api.ws + "/ws/live") as ws:
            snap = await recv(ws)
            assert snap["type"] == "snapshot" and snap["seq"] == s1 and "pushed_at" in snap
            assert snap["body"]["segments"]["PH01"]["level"] == "none"
            s2 = engine_write(db_url, {"segments": {"PH01": seg_entry("orange")},
                                       "latency": {"decided_at": "2021-07-26T01:50:00Z"}})
            d = await recv_type(ws, "delta")
            assert d["seq"] == s2 and d["body"]["segments"]["PH01"]["level"] == "orange"
            last_seen = d["seq"]
        # while disconnected the engine writes three more deltas
        missed = [engine_write(db_url, {"segments": {"PH02": seg_entry(lv)}}) for lv in ("blue", "yellow", "orange")]
        await seen_seq(api, missed[-1])  # the API has read them
        async with websockets.connect(api.ws + f"/ws/live?since={last_seen}") as ws:
            got = [await recv(ws) for _ in missed]
            assert [m["type"] for m in got] == ["delta"] * 3
            assert [m["seq"] for m in got] == missed
            assert [m["body"]["segments"]["PH02"]["level"] for m in got] == ["blue", "yellow", "orange"]
            s_next = engine_write(db_url, {"segments": {"PH01": seg_entry("red")}})
            m = await recv_type(ws, "delta")
            assert m["seq"] == s_next  # nothing duplicated, nothing missing in between
        # a seq from the future gets a snapshot with the merged state
        async with websockets.connect(api.ws + "/ws/live?since=999999") as ws:
            m = await recv(ws)
            assert m["type"] == "snapshot" and m["reason"] == "since_unavailable" and m["seq"] == s_next
            assert m["body"]["segments"]["PH01"]["level"] == "red" and m["body"]["segments"]["PH02"]["level"] == "orange"
        async with websockets.connect(api.ws + "/ws/live?since=abc") as ws:
            with pytest.raises(websockets.ConnectionClosed) as exc:
                await recv(ws)
            assert exc.value.rcvd.code == 4400


async def test_since_ahead_of_this_process_is_caught_up_not_sent_back_in_time(settings: Settings, db_url: str,
                                                                              tmp_path: Path) -> None:
    """A client reconnects (load balancer) to a replica whose LISTEN has not yet delivered the seq the client
    saw on another replica: it gets what follows that seq, never the older snapshot (a red going back to
    yellow). The replica's lag is made certain: the row is written without NOTIFY and the poll is off."""
    s1 = engine_write(db_url, {"segments": {"PH01": seg_entry("yellow")}}, kind="snapshot")
    async with running_api(settings, tmp_path, state_poll_s=3600.0) as api:
        await seen_seq(api, s1)
        assert api.app.state.ctx.live.seq == s1
        with psycopg.connect(db_url, autocommit=True) as conn:  # served by "the other replica"; no NOTIFY here
            s2 = conn.execute("INSERT INTO state_log (kind, body) VALUES ('delta', %s::jsonb) RETURNING seq",
                              (json.dumps({"segments": {"PH01": seg_entry("red")}}),)).fetchone()[0]
        assert api.app.state.ctx.live.seq == s1
        async with websockets.connect(api.ws + f"/ws/live?since={s2}") as ws:
            s3 = engine_write(db_url, {"segments": {"PH02": seg_entry("orange")}})
            m = await recv(ws)
            assert m["type"] == "delta" and m["seq"] == s3, m  # not the snapshot of s1 (PH01 yellow)
        async with websockets.connect(api.ws + "/ws/live") as ws:
            snap = await recv(ws)
            assert snap["seq"] == s3 and snap["body"]["segments"]["PH01"]["level"] == "red"


async def test_replay_falls_back_to_state_log_when_ring_is_too_short(settings: Settings, db_url: str,
                                                                     tmp_path: Path) -> None:
    first = engine_write(db_url, {"segments": {"PH01": seg_entry("none")}}, kind="snapshot")
    async with running_api(settings, tmp_path, ring_size=2) as api:
        seqs = [engine_write(db_url, {"segments": {"PH01": seg_entry(lv)}}) for lv in ("blue", "yellow", "orange", "red")]
        await seen_seq(api, seqs[-1])
        assert api.app.state.ctx.live.replay_from_ring(first) is None  # ring holds only the last 2
        async with websockets.connect(api.ws + f"/ws/live?since={first}") as ws:
            got = [await recv(ws) for _ in seqs]
            assert [(m["type"], m["seq"]) for m in got] == [("delta", s) for s in seqs]


def _drain_close_code(sock: socket.socket) -> int | None:
    """Read frames until the close frame; its status code (None if the connection was reset)."""
    sock.settimeout(10)
    buf = b""
    try:
        while True:
            while len(buf) < 2 or len(buf) < _frame_len(buf):
                chunk = sock.recv(1 << 20)
                if not chunk:
                    return None
                buf += chunk
            n = _frame_len(buf)
            frame, buf = buf[:n], buf[n:]
            if frame[0] & 0x0F == 0x8:
                payload = frame[2:] if frame[1] & 0x7F < 126 else frame[4:]
                return int.from_bytes(payload[:2], "big")
    except ConnectionResetError:
        return None
    finally:
        sock.close()


def _frame_len(buf: bytes) -> int:
    if len(buf) < 2:
        return 1 << 62
    ln = buf[1] & 0x7F
    if ln < 126:
        return 2 + ln
    if ln == 126:
        return 4 + int.from_bytes(buf[2:4], "big") if len(buf) >= 4 else 1 << 62
    return 10 + int.from_bytes(buf[2:10], "big") if len(buf) >= 10 else 1 << 62


async def test_slow_client_is_dropped_and_does_not_delay_a_fast_one(settings: Settings, db_url: str,
                                                                   tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {}}, kind="snapshot")
    n = 150
    filler = "x" * 100_000  # big deltas fill the slow client's socket buffers quickly
    async with running_api(settings, tmp_path, ws_queue_max=16) as api:
        # The slow client never reads (and its library buffers at most 1 message).
        slow = await raw_ws_never_reading(api.host, api.port, "/ws/live")
        fast = await websockets.connect(api.ws + "/ws/live", max_size=None)
        await recv(fast)  # snapshot
        got: list[int] = []

        async def read_fast() -> None:
            while len(got) < n:
                m = await recv(fast, timeout=10)
                if m["type"] == "delta":
                    got.append(m["body"]["i"])

        reader = asyncio.create_task(read_fast())
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            for i in range(n):  # the engine's pace, compressed: a delta every few ms
                async with conn.transaction():
                    cur = await conn.execute("INSERT INTO state_log (kind, body) VALUES ('delta', %s::jsonb) RETURNING seq",
                                             (json.dumps({"i": i, "filler": filler}),))
                    seq = (await cur.fetchone())[0]
                    await conn.execute("SELECT pg_notify('haixun_state', %s)", (str(seq),))
                await asyncio.sleep(0.003)
        await reader
        assert got == list(range(n))
        ctx = api.app.state.ctx
        await eventually(lambda: sum(1 for c in ctx.hub.clients if c.channel == "live") == 1)
        assert sum(1 for c in ctx.hub.clients if c.channel == "live") == 1, [(c.queue.qsize(), c.dropped.is_set()) for c in ctx.hub.clients]  # the slow one is gone
        # draining the slow socket now ends with the server's close frame (code 4008) or a reset
        assert await asyncio.to_thread(_drain_close_code, slow) in (4008, None)
        async with httpx.AsyncClient(base_url=api.base) as c:
            text = (await c.get("/metrics")).text
        assert 'haixun_ws_dropped_total{channel="live",reason="too_slow"} 1.0' in text
        await fast.close()


async def test_alarm_renotification_pushes_on_live(settings: Settings, db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        red = conn.execute("INSERT INTO level_changes (subject_kind, subject_id, at, from_level, to_level, last_notified_at) "
                           "VALUES ('segment', 'PH01', now(), 'orange', 'red', now() - interval '1 hour') "
                           "RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO level_changes (subject_kind, subject_id, at, from_level, to_level, last_notified_at) "
                     "VALUES ('segment', 'PH02', now(), 'yellow', 'orange', now() - interval '1 hour')")
    async with running_api(settings, tmp_path, renotify_check_s=0.2, renotify_every_s=60) as api:
        async with websockets.connect(api.ws + "/ws/live") as ws:
            await recv(ws)
            m = await recv_type(ws, "alarm")
            assert m["event"] == "renotify" and m["alarm"]["id"] == red and m["alarm"]["notify_count"] == 2
            await asyncio.sleep(0.6)  # not due again for 60 s: no second bump
    with psycopg.connect(db_url) as conn:
        counts = dict(conn.execute("SELECT subject_id, notify_count FROM level_changes").fetchall())
    assert counts == {"PH01": 2, "PH02": 1}


async def test_heartbeat_ping(settings: Settings, db_url: str, tmp_path: Path) -> None:
    async with running_api(settings, tmp_path, ws_heartbeat_s=0.2) as api:
        async with websockets.connect(api.ws + "/ws/live") as ws:
            await recv(ws)
            m = await recv(ws, timeout=2)
            assert m["type"] == "ping" and "pushed_at" in m


async def test_ws_risk_pushes_when_the_code_changes(settings: Settings, db_url: str, tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {"PH01": seg_entry("none"), "PH02": seg_entry("none")}}, kind="snapshot")
    async with running_api(settings, tmp_path) as api:
        async with websockets.connect(api.ws + "/ws/risk?lat=30.601&lon=121.02&lang=en") as ws:
            m = await recv(ws)
            assert m["type"] == "risk" and m["risk"]["code"] == "none"
            engine_write(db_url, {"segments": {"PH02": seg_entry("none", since="x")}})  # no change for this point
            engine_write(db_url, {"segments": {"PH01": seg_entry("orange")}})
            m = await recv_type(ws, "risk")
            assert m["risk"]["code"] == "orange" and m["risk"]["zone"]["id"] == "B"
        async with websockets.connect(api.ws + "/ws/risk?lat=31.5&lon=121.02") as ws:
            with pytest.raises(websockets.ConnectionClosed) as exc:
                await recv(ws)
            assert exc.value.rcvd.code == 4404
        async with websockets.connect(api.ws + "/ws/risk?lat=abc&lon=121.02") as ws:
            with pytest.raises(websockets.ConnectionClosed) as exc:
                await recv(ws)
            assert exc.value.rcvd.code == 4422

"""Websockets: /ws/live (state snapshot + deltas + alarms) and /ws/risk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from haixun.api.context import ApiContext, ws_ctx
from haixun.api.listener import fetch_rows_after
from haixun.api.live import CLOSE_TOO_SLOW, Client, row_message
from haixun.api.risk import OutsideServedArea, risk_signature
from haixun.api.routes_public import pick_lang, risk_for

log = logging.getLogger(__name__)
router = APIRouter()


async def _pump(ws: WebSocket, client: Client) -> None:
    """Send queued messages until the client is dropped or disconnects."""
    while True:
        text = await client.queue.get()
        await ws.send_text(text)


async def _reader(ws: WebSocket) -> None:
    """Consume (and ignore) client messages; returns on disconnect."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.receive_text()


async def serve_client(ws: WebSocket, ctx: ApiContext, client: Client) -> None:
    pump = asyncio.create_task(_pump(ws, client))
    reader = asyncio.create_task(_reader(ws))
    dropped = asyncio.create_task(client.dropped.wait())
    try:
        done, _ = await asyncio.wait({pump, reader, dropped}, return_when=asyncio.FIRST_COMPLETED)
        if dropped in done:
            log.info("websocket client on %s dropped: %s", client.channel, client.drop_reason)
            pump.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pump
            if ws.client_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(CLOSE_TOO_SLOW, "too slow"), timeout=2.0)
    finally:
        for t in (pump, reader, dropped):
            t.cancel()
        ctx.hub.unregister(client)


@router.websocket("/ws/live")
async def ws_live(ws: WebSocket) -> None:
    ctx = ws_ctx(ws)
    since_raw = ws.query_params.get("since")
    since: int | None = None
    if since_raw is not None:
        try:
            since = int(since_raw)
            if since < 0:
                raise ValueError
        except ValueError:
            await ws.accept()
            await ws.close(4400, "since must be a non-negative integer")
            return
    await ws.accept()
    replay: list[dict[str, Any]] | None = None
    if since is not None:
        rows = ctx.live.replay_from_ring(since)
        if rows is None and since < ctx.live.seq:
            rows = await _replay_from_db(ctx, since)
        if rows is not None:
            replay = [row_message(r) for r in rows]
    # No await between here and register: the snapshot/replay and the live
    # stream join without a gap or a duplicate.
    if replay is not None and (replay[-1]["seq"] if replay else since) != ctx.live.seq:
        replay = None  # the DB read raced with new rows: fall back to a snapshot
    client = ctx.hub.register("live")
    if replay is None:
        ctx.hub.send(client, ctx.live.snapshot_message("since_unavailable" if since is not None else None))
    else:
        for m in replay:
            ctx.hub.send(client, m)
    await serve_client(ws, ctx, client)


async def _replay_from_db(ctx: ApiContext, since: int) -> list[Any] | None:
    """state_log rows after ``since`` when state_log still holds the row ``since`` (not pruned)."""
    async with ctx.db().connection() as conn:
        row = await (await conn.execute("SELECT min(seq) FROM state_log")).fetchone()
    oldest = row[0] if row else None
    if oldest is None or since < oldest:
        return None
    rows = await fetch_rows_after(ctx.db(), since, ctx.options.replay_max_rows + 1)
    rows = [r for r in rows if r.seq <= ctx.live.seq]
    if len(rows) > ctx.options.replay_max_rows:
        return None
    return rows


def _coord(raw: str | None, lo: float, hi: float) -> float | None:
    try:
        v = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return v if math.isfinite(v) and lo <= v <= hi else None


@router.websocket("/ws/risk")
async def ws_risk(ws: WebSocket) -> None:
    ctx = ws_ctx(ws)
    lat = _coord(ws.query_params.get("lat"), -90, 90)
    lon = _coord(ws.query_params.get("lon"), -180, 180)
    if lat is None or lon is None:
        await ws.accept()
        await ws.close(4422, "lat and lon must be valid WGS84 coordinates")
        return
    lang = pick_lang(ws.query_params.get("lang"), ws.headers.get("accept-language"))
    try:
        first = risk_for(ctx, lat, lon, lang)
    except OutsideServedArea:
        await ws.accept()
        await ws.close(4404, "outside the served area")
        return
    await ws.accept()
    client = ctx.hub.register("risk", lat=lat, lon=lon, lang=lang, sig=risk_signature(first))
    ctx.hub.send(client, {"type": "risk", "seq": first["seq"], "risk": first})
    await serve_client(ws, ctx, client)


def push_risk_updates(ctx: ApiContext) -> None:
    """After a state change: recompute each /ws/risk client's code, push if it changed."""
    for c in [c for c in ctx.hub.clients if c.channel == "risk"]:
        try:
            r = risk_for(ctx, c.context["lat"], c.context["lon"], c.context["lang"])
        except OutsideServedArea:
            continue
        sig = risk_signature(r)
        if sig != c.context.get("sig"):
            c.context["sig"] = sig
            ctx.hub.send(c, {"type": "risk", "seq": r["seq"], "risk": r})

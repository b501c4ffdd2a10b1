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
from haixun.api.middleware import ABORT_KEY
from haixun.api.risk import OutsideServedArea, risk_signature
from haixun.api.risk_lookup import pick_lang, risk_for
from haixun.store import state_reads

log = logging.getLogger(__name__)
router = APIRouter()


CLOSE_UNSUPPORTED = 1003   # RFC 6455: a data type the endpoint does not accept (binary frames)
CLOSE_TRY_AGAIN = 1013     # RFC 6455: try again later (connection caps)


async def _pump(ws: WebSocket, client: Client) -> None:
    """Send the backlog (a replay of any length), then queued messages, until dropped or disconnected."""
    backlog, client.backlog = client.backlog, []
    for text in backlog:
        await ws.send_text(text)
    while True:
        text = await client.queue.get()
        await ws.send_text(text)


async def _reader(ws: WebSocket) -> int | None:
    """Consume (and ignore) client text messages; returns on disconnect (None) or on a binary frame
    (CLOSE_UNSUPPORTED: the caller closes with that code)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return None
            if message.get("bytes") is not None:
                return CLOSE_UNSUPPORTED
    return None


def _abort(ws: WebSocket) -> None:
    """Drop the TCP connection now (a client that reads nothing never takes the close frame, and a
    plain close waits for the send buffer to drain: forever)."""
    abort = ws.scope.get(ABORT_KEY)
    if abort is not None:
        with contextlib.suppress(Exception):
            abort()


async def _close(ws: WebSocket, ctx: ApiContext, code: int, reason: str, *, abort_after: bool) -> None:
    if ws.client_state == WebSocketState.CONNECTED:
        try:
            await asyncio.wait_for(ws.close(code, reason), timeout=ctx.options.ws_close_timeout_s)
        except (TimeoutError, Exception):
            abort_after = True
    if abort_after:
        _abort(ws)


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
            # the close frame if it still fits; the socket is aborted either way (a reader this slow
            # would hold it, and its buffers, until it closed itself)
            await _close(ws, ctx, CLOSE_TOO_SLOW, "too slow", abort_after=True)
        elif reader in done and not reader.cancelled() and reader.exception() is None \
                and reader.result() == CLOSE_UNSUPPORTED:
            ctx.metrics.ws_refused.labels("binary_frame").inc()
            pump.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pump
            await _close(ws, ctx, CLOSE_UNSUPPORTED, "binary frames are not accepted", abort_after=False)
    finally:
        for t in (pump, reader, dropped):
            t.cancel()
        ctx.hub.unregister(client)


def _client_addr(ws: WebSocket) -> str:
    return ws.client.host if ws.client else "unknown"


async def _admit(ws: WebSocket, ctx: ApiContext) -> bool:
    """Accept the handshake; False (and closed with 1013) when the connection caps are reached."""
    o, st = ctx.options, ctx.settings
    reason = ctx.hub.admit(_client_addr(ws), st.ws_max_clients if o.ws_max_clients is None else o.ws_max_clients,
                           st.ws_max_per_address if o.ws_max_per_address is None else o.ws_max_per_address)
    await ws.accept()
    if reason is None:
        return True
    ctx.metrics.ws_refused.labels("cap").inc()
    await _close(ws, ctx, CLOSE_TRY_AGAIN, reason, abort_after=False)
    return False


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
    if not await _admit(ws, ctx):
        return
    replay: list[dict[str, Any]] | None = None
    if since is not None and since > ctx.live.seq:
        await _catch_up(ctx)
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
    client = ctx.hub.register("live", addr=_client_addr(ws))
    if replay is None:
        ctx.hub.send(client, ctx.live.snapshot_message("since_unavailable" if since is not None else None))
    else:
        # any length: sent ahead of the queue at the reader's pace (a fast reader is never dropped for it)
        ctx.hub.send_backlog(client, replay)
    await serve_client(ws, ctx, client)


async def _catch_up(ctx: ApiContext) -> None:
    """A client's ``since`` ahead of this process: it saw that seq on another API replica (it reconnected
    here through the load balancer) before this one's LISTEN delivered it. Read state_log now, so the
    client gets the rows after ``since`` instead of a snapshot older than what it shows (a step back in
    time, e.g. red back to yellow until the next delta)."""
    listener = ctx.listener
    if listener is None:
        return
    try:
        await listener.catch_up()
    except Exception as exc:  # noqa: BLE001 - the database is down: the snapshot path below still answers
        log.warning("catching up for a client ahead of this process failed: %s", exc)


async def _replay_from_db(ctx: ApiContext, since: int) -> list[Any] | None:
    """state_log rows after ``since`` when state_log still holds the row ``since`` (not pruned)."""
    async with ctx.db().connection() as conn:
        oldest = await state_reads.oldest_seq(conn)
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
    if not await _admit(ws, ctx):
        return
    try:
        first = risk_for(ctx, lat, lon, lang)
    except OutsideServedArea:
        await ws.close(4404, "outside the served area")
        return
    client = ctx.hub.register("risk", addr=_client_addr(ws), lat=lat, lon=lon, lang=lang, sig=risk_signature(first))
    ctx.hub.send(client, {"type": "risk", "seq": first["seq"], "risk": first})
    await serve_client(ws, ctx, client)

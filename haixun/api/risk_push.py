"""Pushing recomputed risk codes to /ws/risk clients after a state, status or config change."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from haixun.api.context import ApiContext
from haixun.api.live import Client
from haixun.api.risk import OutsideServedArea, risk_signature
from haixun.api.risk_lookup import risk_for

log = logging.getLogger(__name__)


def push_risk_updates(ctx: ApiContext) -> None:
    """After a state, status or config change: recompute /ws/risk clients' codes (one computation per
    distinct location cell, ``risk_for``'s rounding and cache key) in a task that yields to the event loop
    every ``ws_risk_batch`` cells; changes arriving meanwhile make one more pass, never a backlog."""
    ctx.risk_push_dirty = True
    task = ctx.risk_push_task
    if task is None or task.done():
        ctx.risk_push_task = asyncio.get_running_loop().create_task(_risk_pusher(ctx), name="haixun-ws-risk")


async def _risk_pusher(ctx: ApiContext) -> None:
    """Passes over the /ws/risk cells while changes keep coming. A pass right after a quiet spell starts at
    once; the next one waits ``ws_risk_min_interval_s`` after the previous start and at least as long as
    that pass took, so pushing holds the event loop at most about half the time however fast states
    arrive (later changes are merged into the next pass: a resident gets the newest code, not each one)."""
    batch = max(1, ctx.options.ws_risk_batch)
    loop = asyncio.get_running_loop()
    while ctx.risk_push_dirty:
        ctx.risk_push_dirty = False
        t0 = loop.time()
        await _risk_pass(ctx, batch)
        took = loop.time() - t0
        if ctx.risk_push_dirty:
            await asyncio.sleep(max(ctx.options.ws_risk_min_interval_s - took, took))


async def _risk_pass(ctx: ApiContext, batch: int) -> None:
    """One recompute of every /ws/risk cell whose inputs changed. A cell's code depends only on the state
    entries of its segments (those that count there and the one in front: geometry, fixed per config),
    the shelter/road status and the risk config; a delta replaces the entries it changes with new objects
    (``merge_state``), a snapshot replaces them all, so a cell whose entries are the very same objects as
    at its last computation, under the same status and config version, cannot have changed: skipped."""
    cells: dict[tuple[float, float, str], list[Client]] = {}
    for c in ctx.hub.clients:
        if c.channel == "risk" and not c.dropped.is_set():
            key = (round(c.context["lat"], 4), round(c.context["lon"], 4), c.context["lang"])
            cells.setdefault(key, []).append(c)
    seg_states: dict[str, Any] = ctx.live.body.get("segments") or {}
    versions = (ctx.ops_version, ctx.config_version)
    last, ctx.risk_cell_inputs = ctx.risk_cell_inputs, {}
    ctx.metrics.risk_push_passes.inc()
    computed = 0
    for (lat, lon, lang), clients in cells.items():
        key = (lat, lon, lang)
        prev = last.get(key)
        if prev is not None and prev[0] == versions and all(
                seg_states.get(sid) is entry for sid, entry in zip(prev[1], prev[2], strict=False)):
            ctx.risk_cell_inputs[key] = prev
            continue
        if computed and computed % batch == 0:
            await asyncio.sleep(0)  # let requests and other sockets through
            seg_states = ctx.live.body.get("segments") or {}
            versions = (ctx.ops_version, ctx.config_version)
        computed += 1
        try:
            r = risk_for(ctx, lat, lon, lang)
        except OutsideServedArea:
            continue
        except Exception:  # noqa: BLE001 - one bad cell must not stop the others' pushes
            log.exception("risk push failed for one cell")
            continue
        ids = tuple(dict.fromkeys([*(s["id"] for s in r.get("segments") or []),
                                   (r.get("wall") or {}).get("segment_id")]))
        ctx.risk_cell_inputs[key] = (versions, ids, tuple(seg_states.get(sid) for sid in ids))
        sig = risk_signature(r)
        changed = [c for c in clients if c.context.get("sig") != sig and c in ctx.hub.clients]
        for c in changed:
            c.context["sig"] = sig
        if changed:
            ctx.hub.broadcast("risk", {"type": "risk", "seq": r["seq"], "risk": r}, clients=changed)
    ctx.metrics.risk_push_cells.inc(computed)

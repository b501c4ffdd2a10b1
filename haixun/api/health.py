"""/healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import hmac
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from haixun.api.context import ApiContext, get_ctx
from haixun.api.models import HealthOut, ReadyOut
from haixun.store import health as store_health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness", response_model=HealthOut)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_db(ctx: ApiContext) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        async with ctx.db().connection(timeout=2.0) as conn:
            await store_health.ping(conn)
        return {"ok": True, "ms": round((time.perf_counter() - t0) * 1000, 1)}
    except Exception as exc:
        return {"ok": False, "detail": str(exc)[:200]}


async def _check_broker(ctx: ApiContext) -> dict[str, Any]:
    ep = ctx.settings.mqtt
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(ep.host, ep.port), timeout=2.0)
        writer.close()
        return {"ok": True, "detail": f"{ep.host}:{ep.port}"}
    except (TimeoutError, OSError) as exc:
        return {"ok": False, "detail": f"{ep.host}:{ep.port}: {exc or 'timeout'}"}


async def _check_engine_and_freshness(ctx: ApiContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """Engine leader = the backend recorded in engine_leader holds the engine's advisory lock
    (store/health.py ``leader_record``)."""
    try:
        async with ctx.db().connection(timeout=2.0) as conn:
            row = await store_health.leader_record(conn)
            fresh = await store_health.freshness(conn)
    except Exception as exc:
        err = {"ok": False, "detail": str(exc)[:200]}
        return err, err
    if row is None:
        leader = {"ok": False, "detail": "no engine has ever led"}
    else:
        leader = {"ok": row.holds_lock, "pid": row.pid, "instance_id": row.instance_id,
                  "heartbeat_at": row.heartbeat_at.isoformat() if row.heartbeat_at else None}
        if not row.holds_lock:
            leader["detail"] = "the recorded leader no longer holds the lock"
    # newest received_at is a wall-clock mark; the state's ``at`` is clock (data) time
    received, state_at = fresh.newest_received_at, fresh.newest_state_at
    reading_age = (datetime.now(UTC) - received).total_seconds() if received else None
    state_age = (ctx.settings.clock.now() - state_at).total_seconds() if state_at else None
    state_limit = max(60.0, 3 * ctx.settings.engine_interval_s)
    ok = (reading_age is not None and reading_age < ctx.options.reading_fresh_s
          and state_age is not None and state_age < state_limit)
    freshness = {"ok": ok, "newest_reading_age_s": None if reading_age is None else round(reading_age, 1),
                 "state_age_s": None if state_age is None else round(state_age, 1),
                 "limits_s": {"reading": ctx.options.reading_fresh_s, "state": state_limit}}
    return leader, freshness


@router.get("/readyz", summary="Readiness: database, broker, engine leader, data freshness",
            responses={200: {"model": ReadyOut}, 503: {"model": ReadyOut, "description": "not ready: see checks"}})
async def readyz(ctx: ApiContext = Depends(get_ctx)) -> JSONResponse:
    db, broker, (leader, freshness) = await asyncio.gather(_check_db(ctx), _check_broker(ctx),
                                                          _check_engine_and_freshness(ctx))
    checks = {"database": db, "broker": broker, "engine_leader": leader, "data_freshness": freshness}
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def metrics_allowed(request: Request, ctx: ApiContext) -> bool:
    """HAIXUN_METRICS_TOKEN set: that Bearer token (constant-time compare). Otherwise loopback callers only,
    unless HAIXUN_METRICS_PUBLIC (docs/api.md, metrics)."""
    token = ctx.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    if ctx.settings.metrics_public:
        return True
    host = request.client.host if request.client else ""
    return host in LOOPBACK or host.startswith("127.")


@router.get("/metrics", summary="Prometheus metrics (loopback, or Bearer HAIXUN_METRICS_TOKEN; docs/api.md)",
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format"},
                       403: {"description": "not a loopback caller and no valid metrics token"}})
async def metrics(request: Request, ctx: ApiContext = Depends(get_ctx)) -> Response:
    if not metrics_allowed(request, ctx):
        raise HTTPException(403, "metrics are served to loopback callers or with the metrics token "
                                 "(HAIXUN_METRICS_TOKEN, docs/api.md)", headers={"WWW-Authenticate": "Bearer"})
    ctx.metrics.state_seq.set(ctx.live.seq)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

"""``create_app(settings)``: the FastAPI application (state on app.state.ctx)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from haixun.api import errors, logfilter
from haixun.api.alarms import alarm_json
from haixun.api.auth import PasswordHasherPool, check_jwt_secret, check_metrics_token
from haixun.api.context import ApiContext, LruCache
from haixun.api.geo import ServedGeography
from haixun.api.listener import StateListener, load_initial
from haixun.api.live import Hub, LiveState, StateRow
from haixun.api.metrics import ApiMetrics
from haixun.api.middleware import RequestMetrics, TransportAbort
from haixun.api.options import ApiOptions
from haixun.api.ratelimit import LoginLimiter
from haixun.api.risk import parse_state_ts
from haixun.api.risk_push import push_risk_updates
from haixun.api.thresholds import parse_config
from haixun.data.geography import PACKAGED_FILE, Geography, load_geography
from haixun.riskcode.config import ConfigError, RiskConfig, load_config
from haixun.settings import Settings
from haixun.store import alarms as store_alarms
from haixun.store import thresholds as store_thresholds
from haixun.store.db import open_pool

log = logging.getLogger(__name__)


def default_web_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "web"


def default_geo_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / PACKAGED_FILE


async def _reload_thresholds(ctx: ApiContext, packaged: RiskConfig) -> bool:
    """Use the active threshold version (the packaged riskcode.toml when none is active) if it is not the
    one in use; True when it changed. Run at start, on every ``haixun_config`` NOTIFY (a version activated
    by any API process) and by the safety poller, so every process of ``--workers N`` follows an edit."""
    async with ctx.db().connection() as conn:
        fingerprint = await store_thresholds.active_mark(conn)
        if fingerprint == ctx.threshold_fingerprint:
            return False
        body = await store_thresholds.version_body(conn, fingerprint[0]) if fingerprint is not None else None
    config = packaged
    if body is not None:
        try:
            config = parse_config(body.format, body.body)
        except ConfigError as exc:
            log.error("active threshold version %s no longer validates, using the packaged one: %s",
                      fingerprint[0] if fingerprint else None, exc)
    ctx.use_config(config, fingerprint)
    log.info("risk configuration: %s (threshold version %s)", config.version,
             fingerprint[0] if fingerprint else "packaged")
    return True


async def _on_config(ctx: ApiContext, packaged: RiskConfig) -> None:
    if await _reload_thresholds(ctx, packaged):
        push_risk_updates(ctx)



async def _on_rows(ctx: ApiContext, rows: list[StateRow]) -> None:
    for r in rows:
        ctx.hub.broadcast("live", {"type": "delta" if r.kind == "delta" else "snapshot", "seq": r.seq,
                                   "at": r.at.isoformat(), "body": r.body})
        decided = parse_state_ts((r.body.get("latency") or {}).get("decided_at")) or r.at
        ctx.metrics.push_latency.observe(max(0.0, (datetime.now(UTC) - decided).total_seconds()))
    ctx.metrics.state_seq.set(ctx.live.seq)
    push_risk_updates(ctx)


async def _on_alarm(ctx: ApiContext, payload: dict[str, Any]) -> None:
    event = payload.get("event")
    if event == "ops":
        await ctx.reload_ops()
        push_risk_updates(ctx)
        return
    if event not in ("new", "renotify", "ack", "cleared") or not isinstance(payload.get("id"), int):
        return
    async with ctx.db().connection() as conn:
        row = await store_alarms.alarm(conn, payload["id"])
    if row is not None:
        ctx.hub.broadcast("live", {"type": "alarm", "event": event, "alarm": alarm_json(row)})


async def _heartbeat(ctx: ApiContext) -> None:
    while True:
        await asyncio.sleep(ctx.options.ws_heartbeat_s)
        ctx.hub.broadcast("live", {"type": "ping", "seq": ctx.live.seq})
        ctx.hub.broadcast("risk", {"type": "ping", "seq": ctx.live.seq})


async def _ops_poller(ctx: ApiContext, packaged: RiskConfig) -> None:
    """Safety net: a status change whose ``ops`` NOTIFY was missed (the listener was reconnecting) still
    reaches the risk lookups. Duty-officer changes and ``haixun load-geo`` both send that NOTIFY.
    Likewise a threshold activation whose ``haixun_config`` NOTIFY was missed."""
    while True:
        await asyncio.sleep(ctx.options.state_poll_s)
        try:
            if await ctx.reload_ops():
                push_risk_updates(ctx)
        except Exception as exc:
            log.warning("reloading shelter/road status failed: %s", exc)
        try:
            await _on_config(ctx, packaged)
        except Exception as exc:
            log.warning("reloading the threshold version failed: %s", exc)


async def _renotifier(ctx: ApiContext) -> None:
    while True:
        await asyncio.sleep(ctx.options.renotify_check_s)
        try:
            async with ctx.db().connection() as conn:
                ids = await store_alarms.renotify_due(conn, ctx.options.renotify_every_s)
            ctx.metrics.renotify.inc(len(ids))
        except Exception as exc:
            log.warning("alarm re-notification failed: %s", exc)


def create_app(settings: Settings, options: ApiOptions | None = None, geography: Geography | None = None) -> FastAPI:
    """The application. ``geography``: an already parsed geography (tests); by default
    ``haixun.data.load_geography(options.geo_path)``, loaded and validated once here."""
    check_jwt_secret(settings.jwt_secret)  # raises InsecureSecret: no app signs tokens with a known key
    check_metrics_token(settings.metrics_token)  # nor opens /metrics to a guessable token
    opts = options or ApiOptions()
    served = ServedGeography.build(geography or load_geography(opts.geo_path))
    metrics = ApiMetrics()
    config = load_config()
    ctx = ApiContext(settings=settings, options=opts, metrics=metrics, geo=served, risk_config=config,
                     seawall=served.seawall(config), live=LiveState(opts.ring_size),
                     hub=Hub(opts.ws_queue_max, metrics, settings.clock), risk_cache=LruCache(opts.risk_cache_max),
                     login_limiter=LoginLimiter(opts.login_user_max_failures, opts.login_addr_max_failures,
                                                opts.login_window_s),
                     hasher=PasswordHasherPool(opts.password_threads))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logfilter.install()
        ctx.pool = await open_pool(settings.database_url, name="haixun-api", timeout=opts.db_checkout_timeout_s,
                                   connect_timeout=opts.db_connect_timeout_s,
                                   statement_timeout_ms=opts.db_statement_timeout_ms)
        try:
            await _reload_thresholds(ctx, config)
            await ctx.reload_ops()
            await load_initial(ctx.pool, ctx.live, opts.ring_size)
            ctx.listener = StateListener(settings.database_url, ctx.pool, ctx.live,
                                         on_rows=lambda rows: _on_rows(ctx, rows),
                                         on_alarm=lambda p: _on_alarm(ctx, p),
                                         on_config=lambda: _on_config(ctx, config),
                                         poll_s=opts.state_poll_s, metrics=metrics)
            await ctx.listener.start()
            ctx.tasks.append(asyncio.create_task(_heartbeat(ctx), name="haixun-api-heartbeat"))
            ctx.tasks.append(asyncio.create_task(_ops_poller(ctx, config), name="haixun-api-ops"))
            if opts.renotify_check_s > 0:
                ctx.tasks.append(asyncio.create_task(_renotifier(ctx), name="haixun-api-renotify"))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ctx.listener.connected.wait(), timeout=10)
            # Everything loaded so far (numpy/scipy/shapely modules, geography, config) lives as long as the
            # process: out of the collector's sight, a full collection no longer walks it (tens of ms
            # that stalled every request in flight).
            gc.collect()
            gc.freeze()
            yield
        finally:
            if ctx.risk_push_task is not None:
                ctx.tasks.append(ctx.risk_push_task)
            for t in ctx.tasks:
                t.cancel()
            for t in ctx.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            ctx.tasks.clear()
            if ctx.listener is not None:
                await ctx.listener.stop()
                ctx.listener = None
            await ctx.pool.close()
            ctx.pool = None
            ctx.hasher.close()

    app = FastAPI(title="haixun API", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Pinghu marine-hazard monitoring and location risk codes. See docs/api.md.")
    app.state.ctx = ctx
    errors.install(app)

    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(TransportAbort)  # added last: outermost, sees uvicorn's own send

    from haixun.api import health, routes_cap, routes_ops, routes_public, routes_tide, routes_ws

    app.include_router(health.router)
    app.include_router(routes_public.router)
    app.include_router(routes_tide.router)
    app.include_router(routes_cap.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_ws.router)

    from haixun.api.routes_web import install_web

    install_web(app, web_dir=opts.web_dir or default_web_dir(), geo_file=opts.geo_path or default_geo_path(),
                settings=settings)
    return app

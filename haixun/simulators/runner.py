"""Compose a simulation run: gateways + replay source + cameras + feeds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiomqtt
import numpy as np

from haixun.clock import Clock
from haixun.contract import event_topic
from haixun.settings import Settings
from haixun.simulators.backfill import BackfillOptions, BackfillStats, publish_backfill
from haixun.simulators.cameras import camera_events
from haixun.simulators.faults import FaultPlan
from haixun.simulators.feeds import FeedIssuer, post_bulletin
from haixun.simulators.gateway import Gateway, GatewayOptions, GatewayStats, sleep_until
from haixun.simulators.geo import SimGeography
from haixun.simulators.mqtt import make_client
from haixun.simulators.source import ModelSource

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunConfig:
    sim_start: datetime
    until: datetime | None
    speed: float = 60.0
    gateway: GatewayOptions = field(default_factory=GatewayOptions)
    faults: FaultPlan = field(default_factory=FaultPlan)
    cameras: bool = False
    camera_period_s: float = 300.0
    camera_repeat_s: float = 1800.0  # same camera/type/segment reported again at most this often
    feeds: bool = False
    feed_period_s: float = 3600.0
    api_url: str = "http://127.0.0.1:8000/api/v1/feeds/{source}"
    api_key: str | None = None
    gateways_enabled: bool = True
    backfill: BackfillOptions | None = None  # history published before the live run (docs/simulators.md)
    # the replay clock shared with ingest/engine/api (HAIXUN_CLOCK); None: one is
    # built (sim_start, speed) when the live run starts, after the backfill
    clock: Clock | None = None
    backfill_only: bool = False  # publish the history, then stop (no live run)


@dataclass(slots=True)
class RunStats:
    gateways: dict[str, GatewayStats] = field(default_factory=dict)
    camera_events: int = 0
    bulletins: int = 0
    bulletins_delivered: int = 0
    backfill: BackfillStats | None = None
    issued: list = field(default_factory=list)  # (sim time, feeds.Bulletin) in order


async def run_cameras(settings: Settings, geo: SimGeography, source: ModelSource, clock: Clock, cfg: RunConfig,
                      stats: RunStats, stop: asyncio.Event) -> None:
    rng = np.random.default_rng(source.seed + 7)
    last: dict[tuple[str, str, str], datetime] = {}
    period = timedelta(seconds=cfg.camera_period_s)
    k = 0
    gateways = sorted({cam.gateway_id for cam in geo.cameras})

    def clients() -> dict[str, aiomqtt.Client]:
        # one connection per gateway, as its broker user: the broker's ACL lets a
        # gateway publish only its own cameras' events (docs/operations.md)
        return {gw: make_client(settings, f"sim-cameras-{settings.topic_root}-{gw}", gateway_id=gw) for gw in gateways}

    while not stop.is_set():
        try:
            async with contextlib.AsyncExitStack() as stack:
                by_gateway = {gw: await stack.enter_async_context(c) for gw, c in clients().items()}
                while not stop.is_set():
                    when = cfg.sim_start + k * period
                    if cfg.until is not None and when > cfg.until:
                        return
                    await sleep_until(clock, when)
                    for cam in geo.cameras:
                        segs = {s: (geo.segment(s), source.segment_state(s, when)) for s in cam.segment_ids
                                if s in source.scenario_at(source.model_time(when)).segments}
                        for ev in camera_events(cam, when, segs, list(geo.low_points), rng):
                            key = (cam.id, ev["type"], ev.get("segment_id", ""))
                            prev = last.get(key)
                            if prev is not None and (when - prev).total_seconds() < cfg.camera_repeat_s:
                                continue
                            last[key] = when
                            await by_gateway[cam.gateway_id].publish(event_topic(settings.topic_root, cam.id),
                                                                     json.dumps(ev, ensure_ascii=False).encode(), qos=1)
                            stats.camera_events += 1
                    k += 1
        except aiomqtt.MqttError as exc:
            log.warning("cameras: MQTT error %s; reconnecting", exc)
            await asyncio.sleep(2.0)


async def run_feeds(geo: SimGeography, source: ModelSource, clock: Clock, cfg: RunConfig, stats: RunStats,
                    stop: asyncio.Event) -> None:
    """Every ``feed_period_s`` the provincial services look ahead and issue Alerts/Updates/Cancels
    (feeds.FeedIssuer); a bulletin the API refuses is logged, the series goes on."""
    period = timedelta(seconds=cfg.feed_period_s)
    issuer = FeedIssuer(cfg.sim_start.isoformat())
    k = 0
    while not stop.is_set():
        when = cfg.sim_start + k * period
        if cfg.until is not None and when > cfg.until:
            return
        await sleep_until(clock, when)
        for b in await asyncio.to_thread(issuer.step, geo, source, when):
            stats.bulletins += 1
            status = await post_bulletin(cfg.api_url, b, cfg.api_key)
            if status is not None and 200 <= status < 300:
                stats.bulletins_delivered += 1
            stats.issued.append((when, b))
        k += 1


async def run_simulation(settings: Settings, geo: SimGeography, source: ModelSource, cfg: RunConfig,
                         stop: asyncio.Event | None = None) -> RunStats:
    stop = stop or asyncio.Event()
    stats = RunStats()
    if cfg.backfill is not None and cfg.gateways_enabled:
        stats.backfill = await publish_backfill(settings, source, list(geo.stations), cfg.sim_start, cfg.backfill)
    if cfg.backfill_only:
        return stats
    # an own clock starts after the history is out (the first live tick is sim_start
    # at once); a shared clock runs on, and ticks it already passed go out at once
    clock = cfg.clock or Clock.replay(cfg.sim_start, cfg.speed)
    gateways = [Gateway(settings, gid, sts, source.observe, clock, cfg.gateway, cfg.faults, start=cfg.sim_start)
                for gid, sts in geo.gateways().items()] if cfg.gateways_enabled else []
    jobs = [g.run(cfg.until, stop) for g in gateways]
    if cfg.cameras:
        jobs.append(run_cameras(settings, geo, source, clock, cfg, stats, stop))
    if cfg.feeds:
        jobs.append(run_feeds(geo, source, clock, cfg, stats, stop))
    await asyncio.gather(*jobs)
    stats.gateways = {g.gateway_id: g.stats for g in gateways}
    return stats

"""History backfill: days of past observations, published before the live run.

A fresh system has no tide history, and the engine needs >= 15 days of it
(29 for a fit without inferred constituents) before it can fit a tidal model
(docs/engine.md). ``--backfill-days N`` makes
every station publish N days of hourly observations ending just before the
simulated start, from the same model as the live run (tide + calm weather;
the part of the history inside the storm window is the storm scenario
itself, so history and live data join without a seam). Faults do not apply
to the history.

Hourly, not 10-min, on purpose: ingest's spike test compares a value with the
median of the previous values within ``spike_window_s`` (1 h); 10-min tide
values 30 min apart differ by up to 0.7 m in this macro-tidal bay and would be
flagged suspect, hourly values have a single neighbour in the window (no
spike test), and the hourly rate of change (<= 1.4 m/h) passes.

Messages use the contract's batch form: one JSON array of ``per_message``
observations (a day) per station and message, oldest first, so ingest's QC
history sees the values in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiomqtt

from haixun.contract import obs_payload, obs_topic
from haixun.settings import Settings
from haixun.simulators.geo import SimStation
from haixun.simulators.mqtt import make_client
from haixun.simulators.source import ModelSource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    days: float
    step_s: float = 3600.0
    per_message: int = 24

    def __post_init__(self) -> None:
        if self.days <= 0 or self.step_s <= 0 or self.per_message < 1:
            raise ValueError("backfill needs days > 0, step_s > 0 and per_message >= 1")


@dataclass(slots=True)
class BackfillStats:
    messages: int = 0
    observations: int = 0
    failed: int = 0


def backfill_times(end: datetime, options: BackfillOptions) -> list[datetime]:
    """Ascending times ``end - k * step`` (k >= 1) covering ``options.days`` before ``end``."""
    n = int(options.days * 86400.0 // options.step_s)
    return [end - timedelta(seconds=k * options.step_s) for k in range(n, 0, -1)]


def backfill_messages(source: ModelSource, stations: list[SimStation], end: datetime,
                      options: BackfillOptions) -> Iterator[tuple[str, list[dict]]]:
    """(station id, array of observations) per message; per station oldest first. Pure (CPU only)."""
    history = source.coarse_view(options.step_s)
    times = backfill_times(end, options)
    for station in stations:
        batch: list[dict] = []
        for ts in times:
            values = history.observe(station, ts)
            if not values:
                continue
            batch.append(obs_payload(ts, values))
            if len(batch) == options.per_message:
                yield station.id, batch
                batch = []
        if batch:
            yield station.id, batch


async def publish_backfill(settings: Settings, source: ModelSource, stations: list[SimStation], end: datetime,
                           options: BackfillOptions) -> BackfillStats:
    """Publish the history (QoS 1, one client per gateway, in order per station); returns when all are acknowledged."""
    messages = await asyncio.to_thread(lambda: list(backfill_messages(source, stations, end, options)))
    by_station: dict[str, list[tuple[bytes, int]]] = {}
    for sid, batch in messages:
        by_station.setdefault(sid, []).append((json.dumps(batch, separators=(",", ":")).encode(), len(batch)))
    stats = BackfillStats()
    gateway_of = {s.id: s.gateway_id for s in stations}

    async def one_station(client: aiomqtt.Client, sid: str, payloads: list[tuple[bytes, int]]) -> None:
        topic = obs_topic(settings.topic_root, sid)
        for payload, count in payloads:  # sequential: the broker keeps one client's order per topic
            try:
                await client.publish(topic, payload, qos=1)
            except aiomqtt.MqttError as exc:
                stats.failed += 1
                log.warning("backfill of %s: publish failed (%s)", sid, exc)
                continue
            stats.messages += 1
            stats.observations += count

    async def one_gateway(gw: str, sids: list[str]) -> None:
        # as the gateway's broker user: an authenticating broker lets a gateway
        # publish only its own stations' topics (docs/operations.md)
        async with make_client(settings, f"sim-backfill-{settings.topic_root}-{gw}", gateway_id=gw) as client:
            await asyncio.gather(*(one_station(client, sid, by_station[sid]) for sid in sids))

    groups: dict[str, list[str]] = {}
    for sid in by_station:
        groups.setdefault(gateway_of.get(sid, ""), []).append(sid)
    await asyncio.gather(*(one_gateway(gw, sids) for gw, sids in groups.items()))
    log.info("backfill: %d messages, %d observations (%.1f days before %s), %d failed", stats.messages,
             stats.observations, options.days, end.isoformat(), stats.failed)
    return stats

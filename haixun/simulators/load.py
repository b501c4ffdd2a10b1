"""Load mode: N virtual stations x rate Hz from one process, many publishes in flight."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiomqtt

from haixun.contract import format_ts, obs_topic
from haixun.settings import Settings
from haixun.simulators.mqtt import make_client

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadOptions:
    stations: int = 100
    rate_hz: float = 1.0
    duration_s: float = 10.0
    batch: int = 1  # readings per message per station (a buffered gateway): messages/s = stations*rate/batch
    connections: int = 4
    in_flight: int = 2000
    prefix: str = "LOAD"


@dataclass(frozen=True, slots=True)
class LoadResult:
    requested_messages: int
    published_messages: int
    readings: int
    failed: int
    elapsed_s: float

    @property
    def msg_per_s(self) -> float:
        return self.published_messages / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.elapsed_s if self.elapsed_s > 0 else 0.0


def station_ids(options: LoadOptions) -> list[str]:
    return [f"{options.prefix}-{i:05d}" for i in range(options.stations)]


def load_payload(ts: datetime, seq: int, batch: int, period_s: float, index: int) -> bytes:
    """One message: a single observation or an array of ``batch`` consecutive ones."""
    items = []
    for k in range(batch):
        t = ts + timedelta(seconds=k * period_s)
        items.append({"ts": format_ts(t), "seq": seq + k,
                      "obs": {"tide_level": round(2.0 + 0.001 * ((index + seq + k) % 1000), 3),
                              "wind_speed": round(5.0 + 0.01 * ((index * 7 + seq + k) % 500), 2)}})
    body = items[0] if batch == 1 else items
    return json.dumps(body, separators=(",", ":")).encode()


def plan_messages(options: LoadOptions) -> int:
    rounds = int(round(options.duration_s * options.rate_hz / options.batch))
    return rounds * options.stations


async def run_load(settings: Settings, options: LoadOptions) -> LoadResult:
    ids = station_ids(options)
    period = 1.0 / options.rate_hz
    rounds = int(round(options.duration_s * options.rate_hz / options.batch))
    readings_per_msg = 2 * options.batch
    sem = asyncio.Semaphore(options.in_flight)
    published = failed = 0
    start_ts = datetime.now(UTC).replace(microsecond=0)

    async def one(client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        nonlocal published, failed
        try:
            await client.publish(topic, payload, qos=1)
            published += 1
        except aiomqtt.MqttError:
            failed += 1
        finally:
            sem.release()

    async def connection(n: int, client: aiomqtt.Client, t0: float) -> None:
        mine = ids[n:: options.connections]
        tasks: set[asyncio.Task] = set()
        for r in range(rounds):
            due = t0 + r * period * options.batch
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            ts = start_ts + timedelta(seconds=r * period * options.batch)
            for i, sid in enumerate(mine):
                await sem.acquire()
                t = asyncio.create_task(one(client, obs_topic(settings.topic_root, sid),
                                            load_payload(ts, r * options.batch, options.batch, period, i)))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)

    clients = [make_client(settings, f"sim-load-{settings.topic_root}-{n}", max_inflight=max(20, options.in_flight // options.connections))
               for n in range(options.connections)]
    for c in clients:
        await c.__aenter__()
    try:
        t0 = time.monotonic()
        await asyncio.gather(*(connection(n, c, t0) for n, c in enumerate(clients)))
        elapsed = time.monotonic() - t0
    finally:
        for c in clients:
            try:
                await c.__aexit__(None, None, None)
            except aiomqtt.MqttError:
                pass
    return LoadResult(rounds * options.stations, published, published * readings_per_msg, failed, elapsed)

"""Publisher for the latency section: each observation carries the wall-clock time of its publish as ``ts``.

The simulators' load mode stamps the scheduled (second-rounded) time, which
is fine for throughput but not for a per-stage latency, hence this small
publisher (same contract functions). Normal phase: every station once per
``period_s``, spread evenly; storm phase: every station ``rounds`` times back
to back, as fast as the in-flight window allows.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt

from haixun.contract import format_ts, obs_topic
from haixun.settings import Settings
from haixun.simulators.mqtt import make_client

CONNECTIONS = 4
IN_FLIGHT = 1000


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    started_at: float   # wall clock
    ended_at: float
    published: int
    failed: int


def payload(seq: int, k: int) -> bytes:
    body = {"ts": format_ts(datetime.now(UTC)), "seq": seq,
            "obs": {"tide_level": round(2.0 + 0.001 * ((k + seq) % 1000), 3),
                    "wind_speed": round(5.0 + 0.01 * ((k * 7 + seq) % 500), 2)}}
    return json.dumps(body, separators=(",", ":")).encode()


class PacedPublisher:
    def __init__(self, settings: Settings, station_ids: list[str]) -> None:
        self.settings = settings
        self.ids = station_ids
        self.clients = [make_client(settings, f"{settings.topic_root}-pub-{n}", max_inflight=IN_FLIGHT // CONNECTIONS)
                        for n in range(CONNECTIONS)]
        self._sem = asyncio.Semaphore(IN_FLIGHT)
        self._tasks: set[asyncio.Task] = set()
        self._seq = 0
        self.published = self.failed = 0

    async def __aenter__(self) -> PacedPublisher:
        for c in self.clients:
            await c.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for c in self.clients:
            try:
                await c.__aexit__(None, None, None)
            except aiomqtt.MqttError:
                pass

    async def _one(self, k: int) -> None:
        try:
            self._seq += 1
            await self.clients[k % CONNECTIONS].publish(obs_topic(self.settings.topic_root, self.ids[k]),
                                                        payload(self._seq, k), qos=1)
            self.published += 1
        except aiomqtt.MqttError:
            self.failed += 1
        finally:
            self._sem.release()

    async def _spawn(self, k: int) -> None:
        await self._sem.acquire()
        t = asyncio.create_task(self._one(k))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def normal(self, seconds: float, period_s: float) -> Phase:
        p0, f0, start = self.published, self.failed, time.time()
        t0 = time.monotonic()
        n = len(self.ids)
        total = int(seconds / period_s * n)
        for j in range(total):
            due = t0 + j * period_s / n
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._spawn(j % n)
        await self._drain()
        return Phase("normal", start, time.time(), self.published - p0, self.failed - f0)

    async def storm(self, rounds: int) -> Phase:
        p0, f0, start = self.published, self.failed, time.time()
        for _ in range(rounds):
            for k in range(len(self.ids)):
                await self._spawn(k)
        await self._drain()
        return Phase("storm", start, time.time(), self.published - p0, self.failed - f0)

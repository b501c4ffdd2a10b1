"""Gateway simulator: stations publish observations per docs/contract.md.

One MQTT client per gateway (its own last will), reused in a reconnect loop.
Simulated time is a :class:`haixun.clock.Clock` (the replay clock shared by
every process of a replay, ``HAIXUN_CLOCK``); every ``period_s`` of simulated
time from the run's ``start`` each station publishes one observation (or, for
buffered gateways, an array of ``batch`` observations every ``batch`` periods).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiomqtt
import numpy as np

from haixun.clock import Clock
from haixun.contract import obs_payload, obs_topic, status_topic
from haixun.errors import HaixunError
from haixun.settings import Settings
from haixun.simulators.faults import FaultKind, FaultPlan, FaultSpec, MalformedKind, malformed_payload, skewed, spike
from haixun.simulators.geo import SimStation
from haixun.simulators.mqtt import drop_connection, make_client

log = logging.getLogger(__name__)


async def sleep_until(clock: Clock, sim_time: datetime) -> None:
    """Sleep until ``clock`` shows ``sim_time`` (at once when it already has)."""
    delay = clock.wall_delay_until(sim_time)
    if delay > 0:
        await asyncio.sleep(delay)


# Returns the observation values of a station at a simulated time.
ObserveFn = Callable[[SimStation, datetime], dict[str, float]]


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    period_s: float = 60.0
    batch: int = 1  # observations per message (buffered gateway) when > 1
    keepalive_s: int = 10
    max_in_flight: int = 200
    reconnect_delay_s: float = 2.0
    seed: int = 0
    # messages kept for resending while the link is down (a gateway's buffer); beyond: dropped
    buffer_max: int = 100_000


@dataclass(slots=True)
class GatewayStats:
    messages: int = 0
    readings: int = 0
    dropped: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    connects: int = 0
    abrupt_disconnects: int = 0
    resent: int = 0  # messages published again after a reconnect (their first publish failed)
    link_losses: int = 0

    def count_fault(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1


# Value faults first (a stuck sensor can still spike), then timing, then the message itself.
_FAULT_ORDER = (FaultKind.DROPOUT, FaultKind.STUCK, FaultKind.SPIKE, FaultKind.SKEW, FaultKind.DUPLICATE,
                FaultKind.MALFORMED, FaultKind.OFFLINE)


@dataclass(slots=True)
class _StationState:
    seq: int = 0
    stuck_values: dict[str, float] | None = None
    buffer: list[dict] = field(default_factory=list)
    malformed_cycle: int = 0


class Gateway:
    """One simulated field gateway and its stations."""

    def __init__(self, settings: Settings, gateway_id: str, stations: list[SimStation], observe: ObserveFn,
                 clock: Clock, options: GatewayOptions = GatewayOptions(), faults: FaultPlan | None = None, *,
                 start: datetime | None = None) -> None:
        """``start``: simulated time of the first tick (default: the clock's
        start for a replay clock, else the current minute)."""
        self.settings = settings
        self.gateway_id = gateway_id
        self.stations = stations
        self.observe = observe
        self.clock = clock
        self.start = start or clock.sim_start or clock.now().replace(second=0, microsecond=0)
        self.options = options
        self.faults = faults or FaultPlan()
        self.stats = GatewayStats()
        self._state = {s.id: _StationState() for s in stations}
        self._rng = np.random.default_rng([options.seed, zlib.crc32(gateway_id.encode())])
        self._offline_done = False
        self.will_topic = status_topic(settings.topic_root, gateway_id)
        # Publishes that failed (the broker went away): resent, in order, after the reconnect.
        self._unsent: list[tuple[str, bytes]] = []
        self._link_lost = asyncio.Event()

    # ---- pure-ish message building -------------------------------------------------
    def _active(self, spec: FaultSpec, sim_time: datetime) -> bool:
        return (sim_time - self.start).total_seconds() >= spec.after_s

    def build_messages(self, station: SimStation, sim_time: datetime) -> list[tuple[str, bytes]]:
        """The (topic, payload) pairs this station sends at ``sim_time`` (0, 1 or 2 with faults)."""
        st = self._state[station.id]
        topic = obs_topic(self.settings.topic_root, station.id)
        values = self.observe(station, sim_time)
        if not values:
            return []
        ts = sim_time
        specs = sorted((f for f in self.faults.for_station(station.id) if self._active(f, sim_time)),
                       key=lambda f: _FAULT_ORDER.index(f.kind))
        duplicate = False
        malformed: MalformedKind | None = None
        for spec in specs:
            hit = spec.probability >= 1.0 or self._rng.random() < spec.probability
            if not hit:
                continue
            if spec.kind is FaultKind.STUCK:
                if st.stuck_values is None:
                    st.stuck_values = dict(values)
                values = dict(st.stuck_values)
            elif spec.kind is FaultKind.SPIKE:
                values, _ = spike(values, self._rng)
            elif spec.kind is FaultKind.DROPOUT:
                self.stats.count_fault("dropout")
                st.seq += 1  # the gateway counted it; the message never left
                return []
            elif spec.kind is FaultKind.SKEW:
                ts = skewed(ts, spec.skew_s)
            elif spec.kind is FaultKind.DUPLICATE:
                duplicate = True
            elif spec.kind is FaultKind.MALFORMED:
                kinds = list(MalformedKind)
                malformed = kinds[st.malformed_cycle % len(kinds)]
                st.malformed_cycle += 1
            self.stats.count_fault(spec.kind.value)
        seq = st.seq
        st.seq += 1
        if malformed is not None:
            return [(topic, malformed_payload(malformed, ts, values, seq, self.settings.ingest_max_payload_bytes))]
        obj = obs_payload(ts, values, seq)
        if self.options.batch > 1:
            st.buffer.append(obj)
            if len(st.buffer) < self.options.batch:
                return []
            body, st.buffer = st.buffer, []
            payload = json.dumps(body, separators=(",", ":")).encode()
        else:
            payload = json.dumps(obj, separators=(",", ":")).encode()
        return [(topic, payload)] * (2 if duplicate else 1)

    # ---- I/O edge ---------------------------------------------------------------------
    async def _publish_tick(self, client: aiomqtt.Client, sim_time: datetime, sem: asyncio.Semaphore,
                            pending: set[asyncio.Task]) -> None:
        for station in self.stations:
            for topic, payload in self.build_messages(station, sim_time):
                await sem.acquire()
                task = asyncio.create_task(self._publish_one(client, topic, payload, sem))
                pending.add(task)
                task.add_done_callback(pending.discard)

    async def _publish_one(self, client: aiomqtt.Client, topic: str, payload: bytes, sem: asyncio.Semaphore) -> None:
        try:
            await client.publish(topic, payload, qos=1)
            self.stats.messages += 1
            self.stats.readings += _count_readings(payload)
        except aiomqtt.MqttError:
            # Not swallowed (issue 14 item 9): the link is down; keep the message and
            # make the run loop reconnect.
            self._keep_unsent(topic, payload)
            self._link_lost.set()
        finally:
            sem.release()

    def _keep_unsent(self, topic: str, payload: bytes) -> None:
        if len(self._unsent) < self.options.buffer_max:
            self._unsent.append((topic, payload))
        else:
            self.stats.dropped += 1

    async def _resend(self, client: aiomqtt.Client) -> None:
        """Publish what failed on the previous connection, oldest first; a failure here is a new link loss."""
        while self._unsent:
            topic, payload = self._unsent[0]
            await client.publish(topic, payload, qos=1)
            self._unsent.pop(0)
            self.stats.messages += 1
            self.stats.readings += _count_readings(payload)
            self.stats.resent += 1

    async def _watch_link(self, client: aiomqtt.Client) -> None:
        """Ends when the connection is lost (aiomqtt's message iterator raises), even while no publish is due."""
        try:
            async for _ in client.messages:
                pass
        except aiomqtt.MqttError:
            pass
        self._link_lost.set()

    async def _sleep_until_or_lost(self, sim_time: datetime) -> None:
        sleeper = asyncio.ensure_future(sleep_until(self.clock, sim_time))
        lost = asyncio.ensure_future(self._link_lost.wait())
        try:
            await asyncio.wait({sleeper, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, lost):
                t.cancel()
        self._raise_if_lost()

    def _raise_if_lost(self) -> None:
        if self._link_lost.is_set():
            raise aiomqtt.MqttError("connection to the broker lost")

    async def run(self, until: datetime | None = None, stop: asyncio.Event | None = None) -> GatewayStats:
        """Publish until simulated time ``until`` (inclusive) or ``stop`` is set."""
        stop = stop or asyncio.Event()
        tick = 0
        period = timedelta(seconds=self.options.period_s)
        will = aiomqtt.Will(self.will_topic, b"offline", qos=1, retain=True)
        offline_spec = self.faults.offline_gateways.get(self.gateway_id)
        while not stop.is_set():
            client = make_client(self.settings, f"sim-{self.settings.topic_root}-{self.gateway_id}", will=will,
                                 keepalive=self.options.keepalive_s, gateway_id=self.gateway_id)
            watcher: asyncio.Task[None] | None = None
            try:
                async with client:
                    self._link_lost.clear()
                    watcher = asyncio.create_task(self._watch_link(client))
                    self.stats.connects += 1
                    await client.publish(self.will_topic, b"online", qos=1, retain=True)
                    await self._resend(client)
                    sem = asyncio.Semaphore(self.options.max_in_flight)
                    pending: set[asyncio.Task] = set()
                    while not stop.is_set():
                        sim_time = self.start + tick * period
                        if until is not None and sim_time > until:
                            if pending:
                                await asyncio.gather(*pending, return_exceptions=True)
                            self._raise_if_lost()  # reconnect and resend what failed before saying goodbye
                            await self._resend(client)
                            await client.publish(self.will_topic, b"offline", qos=1, retain=True)
                            return self.stats
                        await self._sleep_until_or_lost(sim_time)
                        if (offline_spec is not None and not self._offline_done
                                and (sim_time - self.start).total_seconds() >= offline_spec.after_s):
                            self._offline_done = True
                            if pending:
                                await asyncio.gather(*pending, return_exceptions=True)
                            log.warning("gateway %s: dropping the link without DISCONNECT (fault offline)", self.gateway_id)
                            self.stats.abrupt_disconnects += 1
                            self.stats.count_fault("offline")
                            drop_connection(client)
                            raise _WentOffline(offline_spec.offline_for_s)
                        await self._publish_tick(client, sim_time, sem, pending)
                        tick += 1
                        self._raise_if_lost()
            except _WentOffline as off:
                await _sleep_or_stop(stop, off.seconds)
                # Simulated time went on while the gateway was away: skip the missed ticks.
                tick = max(tick, int((self.clock.now() - self.start) / period))
            except aiomqtt.MqttError as exc:
                self.stats.link_losses += 1
                log.warning("gateway %s: MQTT error %s; reconnecting in %.0f s (%d messages to resend)",
                            self.gateway_id, exc, self.options.reconnect_delay_s, len(self._unsent))
                await _sleep_or_stop(stop, self.options.reconnect_delay_s)
            finally:
                if watcher is not None:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
        return self.stats


class _WentOffline(HaixunError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"offline for {seconds} s")
        self.seconds = seconds


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def _count_readings(payload: bytes) -> int:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return 0
    items = data if isinstance(data, list) else [data]
    return sum(len(i.get("obs", {})) for i in items if isinstance(i, dict) and isinstance(i.get("obs"), dict))


async def run_gateways(gateways: list[Gateway], until: datetime | None, stop: asyncio.Event | None = None,
                       extra: list[Awaitable[object]] | None = None) -> list[GatewayStats]:
    stop = stop or asyncio.Event()
    results = await asyncio.gather(*(g.run(until, stop) for g in gateways), *(extra or []))
    return list(results[: len(gateways)])


def utc_now() -> datetime:
    return datetime.now(UTC)

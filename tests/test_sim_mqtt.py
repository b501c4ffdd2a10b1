"""Simulators through the real Mosquitto: contract, faults, last will, load."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from haixun.clock import Clock
from haixun.contract import ContractError, parse_obs, parse_status
from haixun.settings import Settings
from haixun.simulators.faults import MALFORMED_REASON, SPIKE_OFFSETS, FaultSpec, MalformedKind, resolve_faults
from haixun.simulators.gateway import Gateway, GatewayOptions
from haixun.simulators.geo import load_sim_geography
from haixun.simulators.load import LoadOptions, run_load
from haixun.simulators.mqtt import make_client
from haixun.simulators.source import ModelSource
from tests.support.mqtt import Collector

START = datetime(2024, 5, 10, 2, tzinfo=UTC)


def _gateway(settings: Settings, specs: list[str], ticks: int = 5, **opt) -> tuple[Gateway, datetime]:
    geo = load_sim_geography()
    gid = "gw-zhapu"  # ZP-T01 tide gauge + ZP-W01 weather station
    stations = [s for s in geo.stations if s.gateway_id == gid]
    plan = resolve_faults([FaultSpec.parse(s, offline_for_s=0.5) for s in specs],
                          {s.id: s.gateway_id for s in stations})
    clock = Clock.replay(START, 3600.0)  # 60 s period -> 1/60 s real
    source = ModelSource(geo, 0.0, None, 0)
    gw = Gateway(settings, gid, stations, source.observe, clock, GatewayOptions(**opt), plan)
    return gw, START + timedelta(seconds=60 * (ticks - 1))


async def _run(settings: Settings, specs: list[str], ticks: int = 5, **opt):
    gw, until = _gateway(settings, specs, ticks, **opt)
    async with Collector(settings) as col:
        stats = await asyncio.wait_for(gw.run(until), 30)
        await col.wait_for(lambda: len(col.status(gw.gateway_id)) >= 2 and sum(
            len(col.obs(s.id)) for s in gw.stations) >= stats.messages)
    return gw, stats, col


async def test_gateway_publishes_contract_observations_and_status(settings: Settings):
    gw, stats, col = await _run(settings, [], ticks=5)
    for s in gw.stations:
        msgs = [parse_obs(s.id, p)[0] for p in col.obs(s.id)]
        assert len(msgs) == 5
        assert set(msgs[0].values) == set(s.quantities)
        assert [m.seq for m in msgs] == list(range(5))
        assert [m.ts for m in msgs] == [START + timedelta(minutes=k) for k in range(5)]
    statuses = [parse_status(gw.gateway_id, p).online for p in col.status(gw.gateway_id)]
    assert statuses[0] is True and statuses[-1] is False  # online first, offline on clean stop
    assert stats.messages == 10


async def test_batch_gateway_sends_arrays(settings: Settings):
    gw, stats, col = await _run(settings, [], ticks=6, batch=3)
    for s in gw.stations:
        payloads = col.obs(s.id)
        assert len(payloads) == 2
        assert all(len(parse_obs(s.id, p)) == 3 for p in payloads)


async def test_fault_stuck_repeats_values(settings: Settings):
    gw, _, col = await _run(settings, ["stuck@ZP-T01"], ticks=5)
    stuck = [parse_obs("ZP-T01", p)[0].values for p in col.obs("ZP-T01")]
    live = [parse_obs("ZP-W01", p)[0].values for p in col.obs("ZP-W01")]
    assert len(stuck) == 5 and all(v == stuck[0] for v in stuck)
    assert len({json.dumps(v, sort_keys=True) for v in live}) > 1


async def test_fault_spike_offsets_a_value(settings: Settings):
    gw, _, col = await _run(settings, ["spike@ZP-T01", "stuck@ZP-T01"], ticks=4)
    # Stuck underneath makes the spike measurable: every message differs from the base in one quantity.
    values = [parse_obs("ZP-T01", p)[0].values for p in col.obs("ZP-T01")]
    assert len(values) == 4
    base = gw._state["ZP-T01"].stuck_values
    for v in values:
        diffs = {q: v[q] - base[q] for q in v if abs(v[q] - base[q]) > 1e-9}
        assert len(diffs) == 1
        (q, d), = diffs.items()
        assert abs(d) >= min(abs(SPIKE_OFFSETS[q]), 1.0) or q == "wind_dir"


async def test_fault_dropout_and_skew_and_duplicate(settings: Settings):
    gw, stats, col = await _run(settings, ["dropout@ZP-W01", "skew@ZP-T01", "duplicate@ZP-T01"], ticks=4)
    assert col.obs("ZP-W01") == []
    assert stats.faults["dropout"] == 4
    payloads = col.obs("ZP-T01")
    assert len(payloads) == 8  # every message twice
    assert all(payloads[2 * k] == payloads[2 * k + 1] for k in range(4))
    ts = [parse_obs("ZP-T01", p)[0].ts for p in payloads[::2]]
    assert ts == [START + timedelta(minutes=k, seconds=600) for k in range(4)]


async def test_fault_malformed_every_kind_is_rejected_with_its_reason(settings: Settings):
    n = len(MalformedKind)
    gw, _, col = await _run(settings, ["malformed@ZP-T01"], ticks=n)
    payloads = col.obs("ZP-T01")
    assert len(payloads) == n
    for kind, p in zip(MalformedKind, payloads, strict=False):
        with pytest.raises(ContractError) as err:
            parse_obs("ZP-T01", p, max_bytes=settings.ingest_max_payload_bytes)
        assert err.value.reason.value == MALFORMED_REASON[kind], kind


async def test_fault_offline_fires_the_last_will_then_returns(settings: Settings):
    gw, until = _gateway(settings, ["offline@gw-zhapu"], ticks=3000)
    gw.options = GatewayOptions(keepalive_s=5)
    async with Collector(settings) as col:
        stop = asyncio.Event()
        task = asyncio.create_task(gw.run(until, stop))
        # online -> offline (the will: no clean stop happened) -> online again after reconnecting
        await col.wait_for(lambda: [p for p in col.status(gw.gateway_id)][:3] == [b"online", b"offline", b"online"], 15)
        stop.set()
        await asyncio.wait_for(task, 10)
    assert gw.stats.abrupt_disconnects == 1 and gw.stats.connects == 2
    # The retained status is what a late subscriber sees.
    async with make_client(settings, f"late-{settings.topic_root}") as c:
        await c.subscribe(f"{settings.topic_root}/v1/status/{gw.gateway_id}", qos=1)
        m = await asyncio.wait_for(anext(aiter(c.messages)), 5)
        assert m.retain and bytes(m.payload) in (b"online", b"offline")


async def test_load_publishes_the_requested_count(settings: Settings):
    opts = LoadOptions(stations=500, rate_hz=2.0, duration_s=2.0, batch=2, connections=2, prefix="L")
    async with Collector(settings) as col:
        result = await asyncio.wait_for(run_load(settings, opts), 30)
        await col.wait_for(lambda: len(col.messages) >= result.requested_messages, 20)
    assert result.requested_messages == 500 * 2 == result.published_messages
    per_station = defaultdict(int)
    readings = 0
    for topic, payload, _ in col.messages:
        sid = topic.rsplit("/", 1)[1]
        obs = parse_obs(sid, payload)
        per_station[sid] += 1
        readings += sum(len(o.values) for o in obs)
    assert len(per_station) == 500 and set(per_station.values()) == {2}
    assert readings == result.readings == 500 * 2 * 2 * 2

"""Each simulator fault produces what docs/simulators.md claims, checked end to end:
simulator gateway (in-process, replay clock) -> real Mosquitto -> real
IngestService -> real PostgreSQL, asserting on readings, latest_readings,
dead_letters, gateway_status(_history) and the ingest metrics.

The simulated clock starts at 01:00 UTC yesterday and runs fast, so every
timestamp is in the past at receipt (ingest's QC judges against wall time)
unless a test skews it on purpose. What the gateway really built for every
tick is recorded by wrapping ``Gateway.build_messages`` (the wire itself is
the real broker), so each assertion compares the database with what went out.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from haixun.clock import Clock
from haixun.contract import status_topic
from haixun.data.geography import load_geography
from haixun.data.sync import sync_to_db
from haixun.ingest.qc import load_qc_config
from haixun.ingest.service import IngestService
from haixun.settings import Settings
from haixun.simulators.faults import MALFORMED_REASON, FaultSpec, MalformedKind, resolve_faults
from haixun.simulators.gateway import Gateway, GatewayOptions
from haixun.simulators.geo import SimStation, load_sim_geography
from haixun.simulators.mqtt import make_client
from haixun.simulators.source import ModelSource
from tests.support.db import wait_for_count
from tests.support.wait import eventually

pytestmark = pytest.mark.timeout(60)

GW = "gw-zhapu"  # ZP-T01 tide gauge (tide_level, water_temperature, air_pressure) + ZP-W01 weather station
TIDE, WEATHER = "ZP-T01", "ZP-W01"
PASS, SUSPECT, FAIL = 1, 3, 4


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _quiet_start() -> datetime:
    """01:00 UTC yesterday: runs of up to ~20 simulated hours stay inside one UTC day, in the past and
    well within the QC age limit. (The calm-weather model is built per UTC day with an independent
    seed, so pressure and waves jump at 00:00 UTC, which QC rightly flags; tests must not cross it.)"""
    return (datetime.now(UTC) - timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)


def _rows(settings: Settings, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _metric(text: str, name: str, labels: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == name + labels:
            total += float(value)
    return total


@dataclass
class Run:
    gateway: Gateway
    start: datetime
    period: timedelta
    # (station id, sim time, payloads actually built for that tick: [] = nothing sent)
    built: list[tuple[str, datetime, list[bytes]]] = field(default_factory=list)
    # (station id, sim time) -> the clean model values the gateway was given
    observed: dict[tuple[str, datetime], dict[str, float]] = field(default_factory=dict)

    def ticks(self, station_id: str, *, sent: bool | None = None) -> list[datetime]:
        return [t for s, t, p in self.built if s == station_id and (sent is None or bool(p) == sent)]

    def payloads(self, station_id: str) -> list[tuple[datetime, bytes]]:
        return [(t, p) for s, t, ps in self.built if s == station_id for p in ps]

    def distinct_readings(self) -> int:
        """Readings in the distinct well-formed payloads that went out."""
        n = 0
        for _, _, ps in self.built:
            for p in set(ps):
                try:
                    data = json.loads(p)
                except ValueError:
                    continue
                n += sum(len(o.get("obs", {})) for o in (data if isinstance(data, list) else [data]))
        return n


def _gateway(settings: Settings, faults: list[FaultSpec], *, start: datetime, speed: float, period_s: float = 60.0,
             gateway_id: str = GW, **options) -> Run:
    geo = load_sim_geography()
    stations = [s for s in geo.stations if s.gateway_id == gateway_id]
    plan = resolve_faults(faults, {s.id: s.gateway_id for s in geo.stations})
    source = ModelSource(geo, 0.0, None, 0)
    run = Run(gateway=None, start=start, period=timedelta(seconds=period_s))  # type: ignore[arg-type]

    def observe(station: SimStation, when: datetime) -> dict[str, float]:
        values = source.observe(station, when)
        run.observed[(station.id, when)] = dict(values)
        return values

    gw = Gateway(settings, gateway_id, stations, observe, Clock.replay(start, speed),
                 GatewayOptions(period_s=period_s, **options), plan, start=start)
    inner = gw.build_messages

    def build(station: SimStation, when: datetime) -> list[tuple[str, bytes]]:
        out = inner(station, when)
        run.built.append((station.id, when, [p for _, p in out]))
        return out

    gw.build_messages = build  # type: ignore[method-assign]
    run.gateway = gw
    return run


@pytest.fixture
def geo_settings(settings: Settings, mqtt_endpoint) -> Settings:
    """``settings`` with the project geography (stations ZP-T01/ZP-W01 etc.) in its database."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        sync_to_db(conn, load_geography())
    return settings


def _count(settings: Settings, query: str, params: tuple = ()) -> int:
    return int(_rows(settings, query, params)[0][0])


async def _run_ticks(settings: Settings, run: Run, ticks: int, *, expect_readings: int | None = None,
                     expect_dead: int = 0) -> str:
    """Run the gateway for ``ticks`` ticks through a live IngestService; wait until ingest stored it all.

    Returns the ingest metrics text at the end."""
    until = run.start + (ticks - 1) * run.period
    async with IngestService(settings) as svc:
        await asyncio.wait_for(run.gateway.run(until), 30)
        n = run.distinct_readings() if expect_readings is None else expect_readings
        url = settings.database_url
        await wait_for_count(url, "SELECT count(*) FROM readings", n)
        await wait_for_count(url, "SELECT count(*) FROM dead_letters", expect_dead)
        # the clean end's 'offline' is the last message: once it is stored, everything before it is
        assert await wait_for_count(url, "SELECT count(*) FROM gateway_status WHERE NOT online", 1) == 1
        return svc.metrics_text().decode()


def _flags(settings: Settings, station_id: str, quantity: str) -> list[tuple[datetime, float, int]]:
    return _rows(settings, "SELECT ts, value, qc FROM readings WHERE station_id = %s AND quantity = %s ORDER BY ts",
                 (station_id, quantity))


async def _clear_retained(settings: Settings, gateway_id: str = GW) -> None:
    # the gateway's retained status stays on the shared broker otherwise
    async with make_client(settings, f"cleanup-{settings.topic_root}") as c:
        await c.publish(status_topic(settings.topic_root, gateway_id), b"", qos=1, retain=True)


# ---------------------------------------------------------------------------------------------
async def test_stuck_sensor_is_flat_line_flagged_after_the_window(geo_settings: Settings):
    settings = geo_settings
    qc = load_qc_config()
    tide, pressure = qc.quantities["tide_level"], qc.quantities["air_pressure"]
    period = 600.0
    ticks = int(pressure.flat_suspect_s // period) + 7  # past the longest window checked here (6 h)
    start = _quiet_start()
    run = _gateway(settings, [FaultSpec.parse(f"stuck@{TIDE}")], start=start, speed=20000.0, period_s=period)
    await _run_ticks(settings, run, ticks)

    stuck = run.gateway._state[TIDE].stuck_values
    assert stuck is not None

    def expected(q) -> list[int]:
        out = []
        for k in range(ticks):
            age = k * period  # stuck from the first value on
            out.append(FAIL if age >= q.flat_fail_s else SUSPECT if age >= q.flat_suspect_s else PASS)
        return out

    for name, q in (("tide_level", tide), ("air_pressure", pressure)):
        rows = _flags(settings, TIDE, name)
        assert [r[0] for r in rows] == [start + k * run.period for k in range(ticks)]
        assert {r[1] for r in rows} == {stuck[name]}  # the same value every time
        assert [r[2] for r in rows] == expected(q), name
    assert FAIL in expected(tide) and SUSPECT in expected(pressure)  # the run did reach the windows

    # the live weather station on the same gateway is not flat-lined
    assert _count(settings, "SELECT count(*) FROM readings WHERE station_id = %s AND quantity = 'air_pressure' "
                            "AND qc >= 3", (WEATHER,)) == 0
    # failed values never reach latest_readings: the last stored tide is the last non-failed one
    last_ok = max(r[0] for r in _flags(settings, TIDE, "tide_level") if r[2] != FAIL)
    assert _rows(settings, "SELECT ts, qc FROM latest_readings WHERE station_id = %s AND quantity = 'tide_level'",
                 (TIDE,)) == [(last_ok, SUSPECT)]
    await _clear_retained(settings)


async def test_spike_is_flagged_neighbours_pass_latest_never_failed(geo_settings: Settings):
    # The Zhapu wave buoy (wave_height, wave_period, water_temperature): its clean 10-min series pass QC.
    # (Not the tide gauge: at 10 min its natural tide trips the spike test, at 1 min its air_pressure noise
    # trips the rate-of-change test, so "neighbours pass" could not be asserted for it.)
    settings = geo_settings
    gid, sid, quantities = "gw-buoy-zp", "ZP-B01", ("wave_height", "wave_period", "water_temperature")
    period = 600.0  # 10 min: at 1 min the simulated 3 % wave noise alone can trip the wave-height rate test
    ticks = 90
    start = _quiet_start()
    # clean first 2 h (the spike test needs history), then 1 message in 5 spiked
    spec = FaultSpec.parse(f"spike@{sid}", probability=0.2, after_s=7200.0)
    run = _gateway(settings, [spec], start=start, speed=36000.0, period_s=period, seed=3, gateway_id=gid)
    assert [s.id for s in run.gateway.stations] == [sid] and tuple(run.gateway.stations[0].quantities) == quantities

    snapshots: list[tuple[str, datetime, float, int]] = []
    stop = asyncio.Event()

    async def watch_latest() -> None:
        while not stop.is_set():
            rows = await asyncio.to_thread(_rows, settings, "SELECT quantity, ts, value, qc FROM latest_readings "
                                                            "WHERE station_id = %s", (sid,))
            snapshots.extend(rows)
            await asyncio.sleep(0.03)

    watcher = asyncio.create_task(watch_latest())
    try:
        await _run_ticks(settings, run, ticks)
    finally:
        stop.set()
        await watcher

    # which reading was spiked: the wire value differs from the model value the gateway was given
    spiked: set[tuple[str, datetime]] = set()
    for when, payload in run.payloads(sid):
        sent = json.loads(payload)["obs"]
        clean = run.observed[(sid, when)]
        diff = [q for q in sent if abs(sent[q] - clean[q]) > 1e-6]
        assert len(diff) <= 1 and (not diff or (when - start).total_seconds() >= spec.after_s), (when, diff)
        spiked.update((q, when) for q in diff)
    assert len(spiked) >= 5 and {q for q, _ in spiked} == set(quantities), spiked  # the run did spike (seeded)

    rows = {(q, ts): (v, f) for q, ts, v, f in
            _rows(settings, "SELECT quantity, ts, value, qc FROM readings WHERE station_id = %s", (sid,))}
    assert len(rows) == ticks * len(quantities)
    for key in spiked:
        assert rows[key][1] in (SUSPECT, FAIL), (key, rows[key])
    # every other reading passes, in particular the ones just before and after each spike
    clean_flags = {key: f for key, (_, f) in rows.items() if key not in spiked}
    assert set(clean_flags.values()) == {PASS}, {k: f for k, f in clean_flags.items() if f != PASS}
    neighbours = {(q, t + d) for q, t in spiked for d in (-run.period, run.period)} - spiked
    assert neighbours and all(clean_flags[n] == PASS for n in neighbours if n in clean_flags)

    # latest_readings, watched all along, never held a failed value
    failed = {key for key, (_, f) in rows.items() if f == FAIL}
    assert failed and snapshots
    assert all(f != FAIL for *_, f in snapshots)
    assert not {(q, ts) for q, ts, _, _ in snapshots} & failed
    for q in quantities:
        last_ok = max(ts for (qq, ts), (_, f) in rows.items() if qq == q and f != FAIL)
        assert _rows(settings, "SELECT ts FROM latest_readings WHERE station_id = %s AND quantity = %s",
                     (sid, q)) == [(last_ok,)]
    await _clear_retained(settings, gid)


async def test_dropout_leaves_exactly_the_gaps(geo_settings: Settings):
    settings = geo_settings
    ticks = 40
    start = _quiet_start()
    run = _gateway(settings, [FaultSpec.parse(f"dropout@{WEATHER}", probability=0.3)], start=start, speed=3600.0,
                   seed=1)
    text = await _run_ticks(settings, run, ticks)

    dropped = run.ticks(WEATHER, sent=False)
    sent = run.ticks(WEATHER, sent=True)
    assert 0 < len(dropped) < ticks and run.gateway.stats.faults["dropout"] == len(dropped)
    by_ts = dict(_rows(settings, "SELECT ts, count(*) FROM readings WHERE station_id = %s GROUP BY ts", (WEATHER,)))
    assert sorted(by_ts) == sent  # the gaps are exactly the dropped ticks ...
    assert not set(by_ts) & set(dropped)
    assert set(by_ts.values()) == {7}  # ... and every sent observation is complete
    tide = dict(_rows(settings, "SELECT ts, count(*) FROM readings WHERE station_id = %s GROUP BY ts", (TIDE,)))
    assert sorted(tide) == [start + k * run.period for k in range(ticks)] and set(tide.values()) == {3}
    assert _count(settings, "SELECT count(*) FROM readings") == run.gateway.stats.readings == (ticks + len(sent)) * 3 + \
        len(sent) * 4
    assert _count(settings, "SELECT count(*) FROM dead_letters") == 0
    assert _metric(text, "haixun_ingest_stored_readings_total") == run.gateway.stats.readings
    await _clear_retained(settings)


async def test_clock_skew_shifts_ts_and_a_future_skew_beyond_the_limit_fails(geo_settings: Settings):
    settings = geo_settings
    limit = load_qc_config().future_fail_s
    ticks = 4
    now = _now()
    start = _quiet_start()
    # ZP-T01: shifted so that its last tick is about 10 s ahead of the wall clock (< limit): stored as
    # is, passes. ZP-W01: one hour ahead (> limit): fail.
    near = (now - start).total_seconds() - (ticks - 1) * 60.0 + 10.0
    far = (now - start).total_seconds() + 3600.0
    assert 10 < limit < 3600
    run = _gateway(settings, [FaultSpec.parse(f"skew@{TIDE}", skew_s=near), FaultSpec.parse(f"skew@{WEATHER}", skew_s=far)],
                   start=start, speed=3600.0)
    await _run_ticks(settings, run, ticks)

    for sid, skew, n_q, flag in ((TIDE, near, 3, PASS), (WEATHER, far, 7, FAIL)):
        rows = _rows(settings, "SELECT ts, qc, received_at, quantity FROM readings WHERE station_id = %s ORDER BY ts",
                     (sid,))
        assert len(rows) == ticks * n_q
        assert sorted({r[0] for r in rows}) == [start + k * run.period + timedelta(seconds=skew) for k in range(ticks)]
        if flag == FAIL:
            assert {r[1] for r in rows} == {FAIL}
        else:
            # tide and water temperature pass; air_pressure is left out: at a 1-min period its simulated
            # noise (0.1 hPa) alone trips the rate-of-change test (6 hPa/h), whatever the timestamp
            assert {r[1] for r in rows if r[3] != "air_pressure"} == {PASS}
        leads = [(ts - rat).total_seconds() for ts, _, rat, _ in rows]
        if flag == FAIL:
            assert min(leads) > limit
        else:
            assert max(leads) <= limit and max(leads) > 0  # ahead of the wall clock, within the limit
    # the failed (future) readings never reach latest_readings
    assert _count(settings, "SELECT count(*) FROM latest_readings WHERE station_id = %s", (WEATHER,)) == 0
    assert _rows(settings, "SELECT DISTINCT ts FROM latest_readings WHERE station_id = %s", (TIDE,)) == \
        [(start + (ticks - 1) * run.period + timedelta(seconds=near),)]
    await _clear_retained(settings)


async def test_malformed_payloads_are_dead_lettered_with_their_reasons(geo_settings: Settings):
    settings = geo_settings
    kinds = list(MalformedKind)
    ticks = 2 * len(kinds)  # every kind twice
    start = _quiet_start()
    run = _gateway(settings, [FaultSpec.parse(f"malformed@{TIDE}")], start=start, speed=3600.0)
    text = await _run_ticks(settings, run, ticks, expect_readings=ticks * 7, expect_dead=ticks)

    sent = run.payloads(TIDE)
    assert len(sent) == ticks
    kind_of = {p[: 16 * 1024]: kinds[k % len(kinds)] for k, (_, p) in enumerate(sent)}
    assert len(kind_of) == ticks  # every payload distinct, so each dead letter maps to its message
    dead = _rows(settings, "SELECT topic, payload, reason FROM dead_letters ORDER BY id")
    assert len(dead) == ticks
    got = Counter()
    for topic, payload, reason in dead:
        assert topic == settings.topic("obs", TIDE)
        kind = kind_of[bytes(payload)]
        assert reason == MALFORMED_REASON[kind], (kind, reason)
        got[kind] += 1
    assert got == Counter({k: 2 for k in kinds})
    # nothing from the malformed station was stored; the healthy one on the same gateway is complete
    assert _count(settings, "SELECT count(*) FROM readings WHERE station_id = %s", (TIDE,)) == 0
    assert _count(settings, "SELECT count(*) FROM readings WHERE station_id = %s", (WEATHER,)) == ticks * 7
    for reason, n in Counter(MALFORMED_REASON[k] for k in kinds).items():
        assert _metric(text, "haixun_ingest_dead_letters_total", f'{{reason="{reason}"}}') == 2 * n, reason
    await _clear_retained(settings)


async def test_offline_gateway_will_then_online_again(geo_settings: Settings):
    settings = geo_settings
    period = 60.0
    speed = 600.0  # a tick every 0.1 s
    start = _quiet_start()
    ticks = 41
    spec = FaultSpec.parse(f"offline@{GW}", after_s=300.0, offline_for_s=1.5)
    run = _gateway(settings, [spec], start=start, speed=speed, period_s=period, keepalive_s=5)

    seen: list[bool] = []
    stop = asyncio.Event()

    async def watch_status() -> None:
        while not stop.is_set():
            rows = await asyncio.to_thread(_rows, settings, "SELECT online FROM gateway_status WHERE gateway_id = %s",
                                           (GW,))
            if rows and (not seen or seen[-1] != rows[0][0]):
                seen.append(rows[0][0])
            await asyncio.sleep(0.03)

    watcher = asyncio.create_task(watch_status())
    try:
        await _run_ticks(settings, run, ticks)
    finally:
        stop.set()
        await watcher

    st = run.gateway.stats
    assert st.abrupt_disconnects == 1 and st.connects == 2
    # the dashboard row went online -> offline (the broker's last will) -> online -> offline (clean end)
    assert seen == [True, False, True, False]
    history = _rows(settings, "SELECT online FROM gateway_status_history WHERE gateway_id = %s ORDER BY id", (GW,))
    assert [h[0] for h in history] == [True, False, True, False]
    # no readings while it was away: one contiguous gap from the fault on, then the ticks resume
    stored = sorted(r[0] for r in _rows(settings, "SELECT DISTINCT ts FROM readings WHERE station_id = %s", (TIDE,)))
    expected_ticks = [start + k * run.period for k in range(ticks)]
    missing = [t for t in expected_ticks if t not in stored]
    first_missing = start + timedelta(seconds=spec.after_s)
    assert missing and missing[0] == first_missing
    assert missing == [first_missing + k * run.period for k in range(len(missing))]
    assert stored[-1] == expected_ticks[-1]
    assert stored == run.ticks(TIDE, sent=True)
    await _clear_retained(settings)


async def test_duplicate_redelivery_is_stored_once_and_counted(geo_settings: Settings):
    settings = geo_settings
    ticks = 20
    start = _quiet_start()
    run = _gateway(settings, [FaultSpec.parse(f"duplicate@{TIDE}")], start=start, speed=3600.0)
    async with IngestService(settings) as svc:
        await asyncio.wait_for(run.gateway.run(start + (ticks - 1) * run.period), 30)

        def dup_counted() -> bool:
            return _metric(svc.metrics_text().decode(), "haixun_ingest_duplicate_readings_total") >= ticks * 3

        await eventually(dup_counted, what="duplicate counter")
        await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", ticks * 10)
        await asyncio.sleep(0.3)  # nothing further may arrive
        text = svc.metrics_text().decode()

    sent = run.payloads(TIDE)
    assert len(sent) == 2 * ticks and all(sent[2 * k] == sent[2 * k + 1] for k in range(ticks))
    total, distinct = _rows(settings, "SELECT count(*), count(DISTINCT (quantity, ts)) FROM readings "
                                      "WHERE station_id = %s", (TIDE,))[0]
    assert total == distinct == ticks * 3
    assert _count(settings, "SELECT count(*) FROM readings WHERE station_id = %s", (WEATHER,)) == ticks * 7
    assert _metric(text, "haixun_ingest_duplicate_readings_total") == ticks * 3
    assert _metric(text, "haixun_ingest_stored_readings_total") == ticks * 10
    assert _metric(text, "haixun_ingest_received_messages_total") >= 3 * ticks  # 2 x ZP-T01 + 1 x ZP-W01 per tick
    assert _count(settings, "SELECT count(*) FROM dead_letters") == 0
    await _clear_retained(settings)

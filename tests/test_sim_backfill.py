"""--backfill-days: history from the model before the live run; through Mosquitto,
ingest (QC of old timestamps) and PostgreSQL to an engine tide model."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from haixun.contract import parse_obs
from haixun.engine.service import EngineService
from haixun.ingest.service import IngestService
from haixun.settings import Settings
from haixun.simulators import tide as tide_mod
from haixun.simulators import typhoon as ty
from haixun.simulators.backfill import BackfillOptions, backfill_messages, backfill_times
from haixun.simulators.gateway import GatewayOptions
from haixun.simulators.geo import load_sim_geography
from haixun.simulators.runner import RunConfig, run_simulation
from haixun.simulators.source import ModelSource, replay_source
from tests.support.engine import FAST, insert_geography_stations
from tests.support.mqtt import Collector
from tests.support.wait import eventually


def test_backfill_times_end_before_start_hourly():
    end = datetime(2024, 5, 10, 2, 30, tzinfo=UTC)
    times = backfill_times(end, BackfillOptions(days=2))
    assert len(times) == 48
    assert times[-1] == end - timedelta(hours=1) and times[0] == end - timedelta(days=2)
    assert all(b - a == timedelta(hours=1) for a, b in zip(times, times[1:], strict=False))


def test_replay_history_is_calm_tide_then_joins_the_storm_run():
    geo = load_sim_geography()
    start = datetime(2024, 8, 1, 0, tzinfo=UTC)
    source = replay_source(geo, start, historical=False, peak_in=timedelta(hours=6))
    msgs = list(backfill_messages(source, list(geo.stations), start, BackfillOptions(days=30)))
    tide_ids = [s.id for s in geo.stations if "tide_level" in s.quantities]
    assert tide_ids and {sid for sid, _ in msgs} == {s.id for s in geo.stations}
    assert all(1 <= len(batch) <= 24 for _, batch in msgs)
    station = geo.station(tide_ids[0])
    obs = [o for sid, batch in msgs if sid == station.id for o in batch]
    assert len(obs) == 30 * 24
    ts = np.array([datetime.fromisoformat(o["ts"].replace("Z", "+00:00")).timestamp() for o in obs])
    level = np.array([o["obs"]["tide_level"] for o in obs])
    assert np.all(np.diff(ts) == 3600.0) and ts[-1] == start.timestamp() - 3600.0
    # before the storm track starts: the astronomical tide plus a small calm residual
    astro = tide_mod.tide_levels(ts - source.offset_s, tide_mod.site_along_coast(station.lon))
    calm = ts - source.offset_s < ty.track_span(source.track)[0]
    assert calm.sum() > 24 * 20
    resid = level[calm] - astro[calm]
    assert np.abs(resid).max() < 0.35 and level[calm].max() - level[calm].min() > 4.0
    # the last history value and the first live value are one hour of the same model apart
    live = source.observe(station, start)["tide_level"]
    assert abs(live - level[-1]) < 1.6


async def test_backfill_is_published_before_the_live_run(settings: Settings):
    geo = load_sim_geography()
    start = datetime(2024, 5, 10, 2, tzinfo=UTC)
    cfg = RunConfig(sim_start=start, until=start + timedelta(minutes=1), speed=3600.0,
                    gateway=GatewayOptions(period_s=60.0), backfill=BackfillOptions(days=1.5))
    async with Collector(settings) as col:
        stats = await asyncio.wait_for(run_simulation(settings, geo, ModelSource(geo, 0.0, None, 0), cfg), 60)
        assert stats.backfill is not None and stats.backfill.failed == 0
        expected = stats.backfill.messages + sum(g.messages for g in stats.gateways.values())
        await col.wait_for(lambda: sum(len(col.obs(s.id)) for s in geo.stations) >= expected)
    assert stats.backfill.observations == len(geo.stations) * 36
    for s in geo.stations:
        parsed = [parse_obs(s.id, p) for p in col.obs(s.id)]
        history, live = parsed[:2], parsed[2:]
        assert [len(m) for m in history] == [24, 12]  # arrays, a day per message
        assert all(m.ts < start and m.seq is None for batch in history for m in batch)
        assert [m[0].ts for m in live] == [start, start + timedelta(minutes=1)]


async def test_backfill_through_ingest_gives_the_engine_a_tide_model(settings: Settings):
    """History older than ingest's max_age_suspect_s (7 days) is stored as suspect (3);
    the engine still fits with it (suspect-by-age only) as soon as it sees 29 days."""
    geo = load_sim_geography()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
    gauges = [s for s in geo.stations if s.kind == "tide_gauge"][:1]
    start = datetime.now(UTC).replace(microsecond=0)
    async with IngestService(settings) as _ingest, EngineService(settings, options=dataclasses.replace(FAST, tide_check_every_s=0.5)) as engine:
        await asyncio.wait_for(engine.leading.wait(), 10)
        cfg = RunConfig(sim_start=start, until=start, speed=1.0, backfill=BackfillOptions(days=30))
        small = dataclasses.replace(geo, stations=tuple(gauges))
        await asyncio.wait_for(run_simulation(settings, small, ModelSource(geo, 0.0, None, 0), cfg), 60)
        # async polling: a blocking query here could wait on ingest's partition lock
        # while ingest, on this same event loop, waits for the loop
        async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
            sid = gauges[0].id
            async def complete() -> dict[int, int] | None:  # all 30 days stored, not just the first batches
                c = await _qc_counts(conn, sid, start)
                return c if c and sum(c.values()) >= 30 * 24 - 1 else None
            counts = await eventually(complete, timeout=60)
            assert counts[1] >= 6 * 24 and counts[3] >= 8 * 24 and counts.get(4, 0) == 0
            model = await eventually(lambda: _model(conn, sid), timeout=30)
            assert model[0] >= 30 * 24 - 1 and model[1] >= 29.0


async def _model(conn: psycopg.AsyncConnection, station: str) -> tuple | None:
    cur = await conn.execute("SELECT n_obs, span_days FROM tide_models WHERE station_id = %s", (station,))
    return await cur.fetchone()


async def _qc_counts(conn: psycopg.AsyncConnection, station: str, start: datetime) -> dict[int, int] | None:
    cur = await conn.execute("SELECT qc, count(*) FROM readings WHERE station_id = %s AND quantity = 'tide_level'"
                             " AND ts < %s GROUP BY qc", (station, start))
    rows = await cur.fetchall()
    counts = {int(q): int(n) for q, n in rows}
    return counts if sum(counts.values()) >= 16 * 24 else None

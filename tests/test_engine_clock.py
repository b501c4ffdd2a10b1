"""EngineService on a replay clock (HAIXUN_CLOCK): readings stamped in simulated
time are fresh, a downgrade waits dwell_s of *simulated* time, the state's
``at`` is clock time, latency marks stay on the wall clock."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import psycopg

from haixun.clock import Clock
from haixun.engine.service import EngineService
from tests.support.clock import utcnow
from tests.support.engine import FAST, calm, current_level, insert_geography_stations, write_readings
from tests.support.wait import eventually

SPEED = 120.0  # dwell_s 1800 (packaged riskcode.toml) = 15 wall seconds
SIM_START = datetime(2021, 7, 25, 12, 0, tzinfo=UTC)


async def _keep_fresh(conn: psycopg.Connection, clock: Clock, tide: list[float], stop: asyncio.Event) -> None:
    """Calm readings stamped on the replay clock every wall second (staleness is 600 sim-s = 5 wall-s)."""
    while not stop.is_set():
        await asyncio.to_thread(calm, conn, clock.now(), tide[0])
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


async def test_replay_clock_drives_staleness_dwell_and_state_time(settings):
    clock = Clock.replay(SIM_START, SPEED)
    replay = settings.model_copy(update={"clock_spec": clock.spec(), "engine_interval_s": 0.5})
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        tide = [2.2]
        stop = asyncio.Event()
        feeder_conn = psycopg.connect(settings.database_url, autocommit=True)
        feeder = asyncio.create_task(_keep_fresh(feeder_conn, replay.clock, tide, stop))
        try:
            async with EngineService(replay, options=FAST) as engine:
                await asyncio.wait_for(engine.leading.wait(), 5)
                # readings from 2021 (simulated) are fresh on the replay clock: "none", not "unknown"
                await eventually(lambda: (current_level(conn, "segment", "PH01") or ("",))[0] == "none")
                at, body = conn.execute("SELECT at, body FROM state_log ORDER BY seq DESC LIMIT 1").fetchone()
                assert abs((at - replay.clock.now()).total_seconds()) < 10 * SPEED
                assert at.year == 2021
                assert body["stations"]["XB-M01"]["age_s"] < 10 * SPEED
                assert datetime.fromisoformat(body["latency"]["decided_at"]).year == utcnow().year  # wall

                tide[0] = 4.45  # above PH01's orange warning tide level
                write_readings(conn, "XB-M01", replay.clock.now(), {"tide_level": 4.45})
                await eventually(lambda: (current_level(conn, "segment", "PH01") or ("",))[0] == "orange")
                tide[0] = 2.2
                dropped_sim = replay.clock.now()
                write_readings(conn, "XB-M01", dropped_sim, {"tide_level": 2.2})
                dropped = time.monotonic()
                await eventually(lambda: (current_level(conn, "segment", "PH01") or ("", ""))[1] == "none")
                # held for dwell_s of simulated time (1800 / SPEED wall seconds): still orange at 60 % of it
                # (a slow machine only holds it longer), then down, stamped >= dwell_s of simulated time later
                dwell_wall = 1800.0 / SPEED
                await asyncio.sleep(max(0.0, 0.6 * dwell_wall - (time.monotonic() - dropped)))
                assert current_level(conn, "segment", "PH01")[0] == "orange"
                await eventually(lambda: current_level(conn, "segment", "PH01")[0] == "none",
                                 timeout=4 * dwell_wall + 60, what="PH01 down after the dwell")
                level, raw, since, _ = current_level(conn, "segment", "PH01")
                assert since.year == 2021  # since is data time
                assert (since - dropped_sim).total_seconds() >= 1800  # the dwell, on the replay clock
                changes = conn.execute("SELECT to_level, at FROM level_changes WHERE subject_id = 'PH01'"
                                       " ORDER BY id").fetchall()
                assert [c[0] for c in changes][-2:] == ["orange", "none"]
                assert all(abs((c[1] - utcnow()).total_seconds()) < 120 for c in changes)  # wall marks
                leader = conn.execute("SELECT last_cycle_at FROM engine_leader").fetchone()[0]
                assert abs((leader - utcnow()).total_seconds()) < 30  # liveness is wall time
        finally:
            stop.set()
            await feeder
            feeder_conn.close()


async def test_system_clock_sees_simulated_readings_as_stale(settings):
    """The control: the same 2021 readings on the wall clock are stale (unknown)."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        calm(conn, SIM_START)
        async with EngineService(settings, options=FAST) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            await eventually(lambda: (current_level(conn, "segment", "PH01") or ("",))[0] == "unknown")
            at = conn.execute("SELECT at FROM state_log ORDER BY seq DESC LIMIT 1").fetchone()[0]
            assert abs((at - utcnow()).total_seconds()) < 30

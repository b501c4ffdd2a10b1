"""Leadership: one leader at a time, failover when the leader's session dies,
hysteresis state carried over to the new leader through current_levels."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import psycopg

from haixun.engine.service import EngineService
from haixun.riskcode.config import DEFAULT_CONFIG_PATH
from tests.support.clock import utcnow
from tests.support.engine import FAST, calm, current_level, insert_geography_stations, write_readings
from tests.support.wait import eventually


async def test_standby_takes_over_within_seconds_when_leader_session_dies(settings):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        calm(conn, utcnow())
        a = EngineService(settings, options=FAST)
        b = EngineService(settings, options=FAST)
        await a.start()
        try:
            await asyncio.wait_for(a.leading.wait(), 5)
            await b.start()
            await asyncio.sleep(1.0)  # several lock attempts by b
            assert a.is_leader and not b.is_leader
            leader = conn.execute("SELECT instance_id, pid, backend_pid FROM engine_leader").fetchone()
            assert leader[0] == a.instance.instance_id and leader[2] == a.lock_backend_pid
            seq_a = await eventually(lambda: a.last_seq)

            # the leader's lock session dies (crash, network cut): the standby takes over, the old
            # leader steps down (how fast is measured by the bench: docs/performance.md section 8, not asserted here)
            t0 = time.monotonic()
            conn.execute("SELECT pg_terminate_backend(%s)", (a.lock_backend_pid,))
            await asyncio.wait_for(b.leading.wait(), 60)
            print(f"failover: standby leading {time.monotonic() - t0:.2f} s after the leader's session was terminated")
            await eventually(lambda: not a.leading.is_set(), what="the old leader stepped down")
            assert conn.execute("SELECT instance_id FROM engine_leader").fetchone()[0] == b.instance.instance_id
            # the new leader starts with a snapshot, after the old leader's rows
            snap = await eventually(lambda: conn.execute(
                "SELECT seq FROM state_log WHERE kind = 'snapshot' AND seq > %s", (seq_a,)).fetchone())
            assert snap[0] > seq_a
            # the old leader no longer computes (it is a standby now: b holds the lock)
            # (b deciding on the new reading shows the notification went out; a, told too, did nothing)
            cycles_a, cycles_b = a.cycles_done, b.cycles_done
            write_readings(conn, "XB-M01", utcnow(), {"tide_level": 2.3})
            await eventually(lambda: b.cycles_done > cycles_b, what="the new leader deciding on the new reading")
            assert a.cycles_done == cycles_a and not a.is_leader
        finally:
            await b.stop()
            await a.stop()


def _config_with_dwell(dwell_s: float) -> str:
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    assert "dwell_s = 1800" in text
    return text.replace("dwell_s = 1800", f"dwell_s = {dwell_s}")


async def test_hysteresis_survives_leader_change(settings):
    dwell = 4.0
    settings = settings.model_copy(update={"engine_interval_s": 0.5})
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        conn.execute("INSERT INTO threshold_versions (version, format, body, sha256, active, created_by)"
                     " VALUES ('test-dwell', 'toml', %s, 'x', true, 'test')", (_config_with_dwell(dwell),))
        calm(conn, utcnow(), tide=4.45)  # orange at PH01
        a = EngineService(settings, options=FAST)
        await a.start()
        await asyncio.wait_for(a.leading.wait(), 5)
        await eventually(lambda: (current_level(conn, "segment", "PH01") or ("",))[0] == "orange")
        orange_since = current_level(conn, "segment", "PH01")[2]

        # the water falls: raw none, the shown level is held for the dwell time
        calm(conn, utcnow(), tide=2.2)
        await eventually(lambda: (current_level(conn, "segment", "PH01") or ("", ""))[1] == "none")
        level, _, since, decision = current_level(conn, "segment", "PH01")
        below_since = decision["state"]["held"]["below_since"]
        assert level == "orange" and since == orange_since and below_since is not None

        # leader change in the middle of the dwell
        await a.stop()
        b = EngineService(settings, options=FAST)
        await b.start()
        try:
            await asyncio.wait_for(b.leading.wait(), 5)
            first_b = await eventually(lambda: conn.execute(
                "SELECT seq FROM state_log WHERE kind = 'snapshot' ORDER BY seq DESC LIMIT 1"
                " OFFSET 0").fetchone() if b.last_seq else None)
            level, _, since, decision = current_level(conn, "segment", "PH01")
            # not reset: still orange, same since, same downgrade timer
            assert level == "orange" and since == orange_since, (level, since, first_b)
            assert decision["state"]["held"]["below_since"] == below_since
            # and the downgrade happens when the ORIGINAL dwell ends
            await eventually(lambda: current_level(conn, "segment", "PH01")[0] == "none", timeout=dwell + 5)
            down_at = current_level(conn, "segment", "PH01")[2]
            assert (down_at - datetime.fromisoformat(below_since)).total_seconds() < dwell + 2.0
            changes = conn.execute("SELECT from_level, to_level FROM level_changes WHERE subject_id = 'PH01'"
                                   " ORDER BY id").fetchall()
            assert changes == [("unknown", "orange"), ("orange", "none")]
        finally:
            await b.stop()

"""Tide refit: >= 29 days of hourly history -> tide_models row -> predictions
feed surge / next high water; less history -> no model, forecast unknown."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from haixun.data.geography import load_geography
from haixun.engine.service import EngineService
from tests.support.engine import FAST, current_level, insert_geography_stations, write_readings
from tests.support.wait import eventually

M2_H = 12.4206012
S2_H = 12.0
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def astro(t: datetime) -> float:
    h = (t - EPOCH).total_seconds() / 3600.0
    return 1.2 + 2.0 * math.cos(2 * math.pi * h / M2_H - 0.7) + 0.5 * math.cos(2 * math.pi * h / S2_H - 1.9)


def insert_history(conn: psycopg.Connection, station: str, start: datetime, end: datetime) -> int:
    rng = np.random.default_rng(6)
    rows = []
    t = start
    while t <= end:
        rows.append((station, "tide_level", t, astro(t) + float(rng.normal(0, 0.03)), 1, t))
        t += timedelta(hours=1)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO readings (station_id, quantity, ts, value, qc, received_at)"
                        " VALUES (%s, %s, %s, %s, %s, %s)", rows)
    return len(rows)


async def test_refit_stores_model_and_predictions_are_used(settings):
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        n = insert_history(conn, "XB-M01", now - timedelta(days=29.5), now - timedelta(hours=1))
        surge = 0.45
        write_readings(conn, "XB-M01", now, {"tide_level": astro(now) + surge, "wind_speed": 3.0, "wind_gust": 5.0})
        write_readings(conn, "ZP-B01", now, {"wave_height": 0.4, "wave_period": 4.0})
        async with EngineService(settings, options=FAST) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            model = await eventually(lambda: conn.execute(
                "SELECT n_obs, span_days, rms_residual_m, method, model FROM tide_models"
                " WHERE station_id = 'XB-M01'").fetchone(), timeout=60)
            n_obs, span, rms, method, doc = model
            assert method == "utide" and n_obs == n + 1 and span >= 29.0 and rms < 0.1
            names = list(doc["coef"]["name"]["__ndarray__"])
            amps = dict(zip(names, doc["coef"]["A"]["__ndarray__"], strict=False))
            # utide divides by the nodal factor f (M2: ~0.96-1.04) that the synthetic series lacks
            assert abs(amps["M2"] - 2.0) < 0.1 and abs(amps["S2"] - 0.5) < 0.05
            # ZP-T01 has no history: no model
            assert conn.execute("SELECT count(*) FROM tide_models").fetchone()[0] == 1

            # after the refit the engine recomputes with the prediction
            def forecast():
                row = current_level(conn, "segment", "PH01")
                return row and row[3].get("next_high_water") and row[3]
            decision = await eventually(forecast, timeout=60)  # a bound on a hang (a loaded machine took > 10 s)
            hw = decision["next_high_water"]
            hw_at = datetime.fromisoformat(hw["at"])
            assert now <= hw_at <= now + timedelta(hours=12.5)
            assert abs(hw["predicted_m"] - astro(hw_at)) < 0.1
            assert 0 < hw["surge_m"] <= surge + 0.1
            fc = [h for h in decision["hazards"] if h["hazard"] == "storm_tide_forecast"][0]
            assert fc["level"] != "unknown"
            # a segment on a tide station without a model says so
            other = current_level(conn, "segment", "PH27")[3]
            fc27 = [h for h in other["hazards"] if h["hazard"] == "storm_tide_forecast"][0]
            assert fc27["level"] == "unknown" and other["next_high_water"] is None


async def test_station_without_model_is_fitted_as_soon_as_history_arrives(settings):
    """The engine starts on an empty history; 30 days arrive later (a backfill: older than
    7 days at receipt = suspect, as ingest flags them). The frequent check fits within
    seconds, not at the 6-hourly refit, and the next state carries surge, next high
    water and time to threshold for the station's segments."""
    now = datetime.now(UTC).replace(microsecond=0)
    options = replace(FAST, tide_check_every_s=0.5)
    spring_hw = now + timedelta(hours=3)  # M2 and S2 in phase 3 h from now: 3.7 m astronomical (CN1985)

    def astro(t: datetime) -> float:
        h = (t - spring_hw).total_seconds() / 3600.0
        return 1.2 + 2.0 * math.cos(2 * math.pi * h / M2_H) + 0.5 * math.cos(2 * math.pi * h / S2_H)

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        segments = sorted(seg.id for seg in load_geography().segments if seg.tide_station == "XB-M01")
        assert "PH01" in segments
        async with EngineService(settings, options=options) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            await eventually(lambda: engine.metrics_text().find(b'haixun_engine_tide_refits_total{outcome="skipped"}') >= 0,
                           timeout=60)
            assert conn.execute("SELECT count(*) FROM tide_models").fetchone()[0] == 0
            received = datetime.now(UTC)
            rows, t = [], now - timedelta(days=30)
            rng = np.random.default_rng(3)
            while t < now:
                late = (received - t).total_seconds() > 7 * 86400
                rows.append(("XB-M01", "tide_level", t, astro(t) + float(rng.normal(0, 0.03)), 3 if late else 1,
                             received))
                t += timedelta(hours=1)
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO readings (station_id, quantity, ts, value, qc, received_at)"
                                " VALUES (%s, %s, %s, %s, %s, %s)", rows)
            surge = 0.8
            write_readings(conn, "XB-M01", now, {"tide_level": astro(now) + surge, "wind_speed": 3.0,
                                                 "wind_gust": 5.0})
            n_obs = await eventually(lambda: conn.execute(
                "SELECT n_obs FROM tide_models WHERE station_id = 'XB-M01'").fetchone(), what="a tide model")
            assert n_obs[0] >= 30 * 24 - 1  # the suspect-by-age part was used

            def state_with_forecast():
                row = conn.execute("SELECT body FROM state_log ORDER BY seq DESC LIMIT 1").fetchone()
                seg = (row[0].get("segments") or {}).get("PH01") if row else None
                return seg if seg and seg.get("next_high_water") else None
            seg = await eventually(state_with_forecast, timeout=60)
            hw = seg["next_high_water"]
            assert surge * math.exp(-1) - 0.1 < hw["surge_m"] <= surge + 0.1  # decays, e-folding 12 h
            tide_h = {h["hazard"]: h for h in seg["hazards"]}
            assert tide_h["storm_tide_forecast"]["level"] != "unknown"
            assert "surge unknown" not in tide_h["storm_tide"]["detail"]
            # now 2.1 m (below blue 3.3 m CN1985), the flood towards the 3.7 m + surge high water crosses blue
            ttt = seg["time_to_threshold"]
            assert ttt is not None and ttt["level"] == "blue"
            assert now < datetime.fromisoformat(ttt["at"]) < spring_hw
            for sid in segments:
                d = current_level(conn, "segment", sid)[3]
                assert d["next_high_water"] is not None, sid

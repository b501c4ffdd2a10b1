"""Tide builders: a stored tide model on a two-constituent tide (the API tests), the
simulated Zhapu tide sampled hourly and an "official" constants table for it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from haixun.riskcode.tides import fit_tide
from haixun.simulators import tide as sim

M2_H, S2_H = 12.4206012, 12.0
MODEL_T0 = datetime(2024, 7, 1, tzinfo=UTC)


def astro(t: datetime) -> float:
    h = (t - MODEL_T0).total_seconds() / 3600.0
    return 2.0 + 1.8 * math.cos(2 * math.pi * h / M2_H - 0.6) + 0.6 * math.cos(2 * math.pi * h / S2_H - 1.3)


def store_model(conn: psycopg.Connection, station: str) -> None:
    times = [MODEL_T0 + timedelta(hours=k) for k in range(30 * 24)]
    rng = np.random.default_rng(1)
    model = fit_tide(times, [astro(t) + float(rng.normal(0, 0.02)) for t in times], lat=30.6)
    conn.execute(
        "INSERT INTO tide_models (station_id, fitted_at, data_start, data_end, n_obs, span_days, rms_residual_m,"
        " method, model) VALUES (%s, now(), %s, %s, %s, 30, %s, 'utide', %s)",
        (station, model.fitted_from, model.fitted_to, model.n_obs, model.rms_residual_m,
         Jsonb(json.loads(model.to_json()))))


def add_station(conn: psycopg.Connection, sid: str) -> None:
    conn.execute("INSERT INTO stations (id, kind, name, lat, lon, quantities) VALUES (%s, 'tide_gauge', %s, 30.6,"
                 " 121.05, ARRAY['tide_level'])", (sid, sid))


FIT_T0 = datetime(2021, 6, 1, tzinfo=UTC)
SITE = sim.site_along_coast(121.09)


def sim_levels(times: list[datetime]) -> np.ndarray:
    return sim.tide_levels(np.array([t.timestamp() for t in times]), SITE)


def hourly(days: float, start: datetime = FIT_T0) -> list[datetime]:
    return [start + timedelta(hours=k) for k in range(int(days * 24) + 1)]


def official_table(z0_offset_m: float, around: datetime) -> str:
    """An "official" constants table for the simulated Zhapu tide: Greenwich phases as an
    official table gives them (from a 60-day fit; the simulator's own phases are not
    Greenwich phases), Z0 shifted onto the station's datum by ``z0_offset_m``."""
    times = hourly(60, around - timedelta(days=30))
    fitted = fit_tide(times, sim_levels(times), 30.6)
    lines = [f"{n},{a:.4f},{g:.2f}" for n, a, g in zip(fitted.coef["name"], fitted.coef["A"], fitted.coef["g"], strict=False)]
    return "constituent,amplitude_m,phase_deg\n" + f"Z0,{float(fitted.coef['mean']) + z0_offset_m:.4f}\n" + "\n".join(lines)

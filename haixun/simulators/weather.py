"""Calm-weather background: diurnal sea/land breeze, slow synoptic swings,
occasional gusts, and sensor noise. Pure functions of time and a seeded
``numpy.random.Generator`` (reproducible)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CST_OFFSET_S = 8 * 3600.0


@dataclass(frozen=True, slots=True)
class CalmParams:
    mean_wind_ms: float = 4.5
    diurnal_wind_ms: float = 1.8  # afternoon sea breeze stronger
    gust_factor: float = 1.4
    gust_event_rate_per_h: float = 0.3
    pressure_hpa: float = 1010.0
    air_temp_c: float = 29.0  # July, ASSUMPTION
    air_temp_diurnal_c: float = 3.5
    water_temp_c: float = 28.0
    visibility_m: float = 15000.0


@dataclass(frozen=True, slots=True)
class CalmFields:
    wind_speed: np.ndarray
    wind_gust: np.ndarray
    wind_dir: np.ndarray
    pressure: np.ndarray
    air_temp: np.ndarray
    water_temp: np.ndarray
    visibility: np.ndarray


def _local_hours(epoch_s: np.ndarray) -> np.ndarray:
    return np.mod((epoch_s + CST_OFFSET_S) / 3600.0, 24.0)


def calm_fields(epoch_s: np.ndarray, rng: np.random.Generator, params: CalmParams = CalmParams()) -> CalmFields:
    """Background weather on a regular time grid (any spacing)."""
    e = np.asarray(epoch_s, dtype=float)
    hours = _local_hours(e)
    days = e / 86400.0
    phase = rng.uniform(0, 2 * np.pi, size=3)
    diurnal = np.sin(2 * np.pi * (hours - 9.0) / 24.0)  # maximum at 15:00 local
    synoptic = 0.8 * np.sin(2 * np.pi * days / 4.3 + phase[0]) + 0.5 * np.sin(2 * np.pi * days / 2.1 + phase[1])
    # Smooth red noise for turbulence.
    white = rng.normal(0.0, 1.0, size=e.size)
    red = np.empty_like(white)
    acc = 0.0
    for i, w in enumerate(white):
        acc = 0.9 * acc + 0.44 * w
        red[i] = acc
    speed = np.clip(params.mean_wind_ms + params.diurnal_wind_ms * diurnal + 1.2 * synoptic + 0.6 * red, 0.2, None)
    events = rng.random(e.size) < params.gust_event_rate_per_h * (np.gradient(e) / 3600.0 if e.size > 1 else 0.0)
    gust = speed * (params.gust_factor + 0.08 * rng.normal(size=e.size)) + events * rng.uniform(3.0, 6.0, size=e.size)
    gust = np.maximum(gust, speed)
    # Sea breeze from SE in the afternoon turning to a land breeze from NW at night, with synoptic turning.
    wdir = np.mod(225.0 - 90.0 * diurnal + 40.0 * synoptic + 8.0 * red, 360.0)
    pressure = params.pressure_hpa + 1.0 * np.cos(2 * np.pi * (hours - 10.0) / 12.0) + 3.0 * np.sin(2 * np.pi * days / 5.0 + phase[2])
    air = params.air_temp_c + params.air_temp_diurnal_c * np.sin(2 * np.pi * (hours - 8.0) / 24.0) + 0.2 * red
    water = params.water_temp_c + 0.4 * np.sin(2 * np.pi * (hours - 10.0) / 24.0)
    vis = params.visibility_m * (1.0 + 0.2 * np.sin(2 * np.pi * days / 3.0 + phase[0]))
    return CalmFields(speed, gust, wdir, pressure, air, water, vis)


@dataclass(frozen=True, slots=True)
class SensorNoise:
    """1-sigma noise of the instruments (ASSUMPTION, typical specs)."""

    tide_level: float = 0.01
    wind_speed: float = 0.3
    wind_dir: float = 4.0
    # digital barometer: 0.01 hPa resolution, ~0.02 hPa short-term noise; 0.1 hPa
    # white noise would make minute-to-minute steps look like a 6-12 hPa/h fall
    air_pressure: float = 0.02
    wave_height: float = 0.03  # relative
    wave_period: float = 0.03  # relative
    temperature: float = 0.1
    rainfall: float = 0.1  # relative

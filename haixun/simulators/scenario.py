"""Model state over a time window: tide + surge + wind + waves at every point.

``build_scenario`` evaluates the pure physics on a regular grid of model
time (default 5 min) for every station and seawall segment; ``Scenario.state``
interpolates, ``observe`` turns a state into a contract observation with
sensor noise. Model time is storm time: for the In-fa replay it is the 2021
clock, which the gateways shift onto the simulated clock they publish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from haixun.data.datum import from_warning_datum
from haixun.simulators import surge as surge_mod
from haixun.simulators import tide as tide_mod
from haixun.simulators import typhoon as ty
from haixun.simulators import waves as wv
from haixun.simulators import weather as wx
from haixun.simulators.geo import SimGeography, SimSegment, SimStation

DEFAULT_TOE_LEVEL_M = -1.8  # CN1985 (re-based with the geography 1.3.0)
BUOY_BED_LEVEL_M = -9.8  # ASSUMPTION: bed level at the wave buoys, CN1985 (re-based: was -8.0 on the old +2 m tide)
DEFAULT_SHORE_FACES_DEG = 165.0
CALM_SWELL_M = 0.25


@dataclass(frozen=True, slots=True)
class PointSeries:
    epoch_s: np.ndarray
    tide_astro: np.ndarray
    surge: np.ndarray
    level: np.ndarray
    wind_speed: np.ndarray
    wind_gust: np.ndarray
    wind_dir: np.ndarray
    pressure: np.ndarray
    rain: np.ndarray
    hs: np.ndarray  # at this point: offshore for buoys, depth-limited toe value for the coast
    tp: np.ndarray
    air_temp: np.ndarray
    water_temp: np.ndarray
    visibility: np.ndarray


@dataclass(frozen=True, slots=True)
class PointState:
    epoch_s: float
    tide_astro: float
    surge: float
    level: float
    wind_speed: float
    wind_gust: float
    wind_dir: float
    pressure: float
    rain: float
    hs: float
    tp: float
    air_temp: float
    water_temp: float
    visibility: float

    @property
    def tm10(self) -> float:
        return self.tp / 1.1


@dataclass(frozen=True, slots=True)
class BayForcing:
    """Quantities shared by the whole coast: bay-axis wind stress and the bay sea state."""

    stress: np.ndarray
    hs_bay: np.ndarray
    tp_bay: np.ndarray


def _storm_samples(epochs: np.ndarray, lat: float, lon: float, track: tuple[ty.TrackPoint, ...] | None,
                   params: ty.HollandParams) -> tuple[np.ndarray, ...]:
    n = epochs.size
    u = np.zeros(n)
    v = np.zeros(n)
    p = np.full(n, params.ambient_hpa)
    rain = np.zeros(n)
    if track is None:
        return u, v, p, rain
    for i, t in enumerate(epochs):
        st = ty.storm_state(float(t), track)
        if st is None:
            continue
        w = ty.storm_wind(st, lat, lon, params)
        toward = math.radians(w.dir_from_deg + 180.0)
        u[i] = w.speed_ms * math.sin(toward)
        v[i] = w.speed_ms * math.cos(toward)
        p[i] = w.pressure_hpa
        rain[i] = w.rain_mmh
    return u, v, p, rain


def _combine(calm: wx.CalmFields, su: np.ndarray, sv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Storm wind plus the calm background, which the storm circulation replaces as it grows."""
    toward = np.radians(calm.wind_dir + 180.0)
    weight = np.clip(1.0 - np.hypot(su, sv) / 15.0, 0.15, 1.0)
    u = weight * calm.wind_speed * np.sin(toward) + su
    v = weight * calm.wind_speed * np.cos(toward) + sv
    speed = np.hypot(u, v)
    dir_from = np.mod(np.degrees(np.arctan2(u, v)) + 180.0, 360.0)
    return speed, dir_from


def bay_forcing(epochs: np.ndarray, track: tuple[ty.TrackPoint, ...] | None, rng: np.random.Generator,
                holland: ty.HollandParams, surge_p: surge_mod.SurgeParams, wave_p: wv.WaveParams) -> BayForcing:
    calm = wx.calm_fields(epochs, rng)
    stress = np.zeros(epochs.size)
    hs = np.zeros(epochs.size)
    tp = np.zeros(epochs.size)
    for lat, lon in surge_mod.BAY_POINTS:
        su, sv, _, _ = _storm_samples(epochs, lat, lon, track, holland)
        speed, dir_from = _combine(calm, su, sv)
        stress += surge_mod.directional_stress(speed, dir_from, surge_p.bay_axis_from_deg)
        h, t = wv.fetch_limited(speed, wv.fetch_km(dir_from) * 1000.0, wave_p.duration_s)
        hs += h
        tp += t
    n = len(surge_mod.BAY_POINTS)
    return BayForcing(stress / n, np.hypot(hs / n, CALM_SWELL_M), np.maximum(tp / n, 3.0))


def build_point_series(
    lat: float, lon: float, epochs: np.ndarray, forcing: BayForcing, track: tuple[ty.TrackPoint, ...] | None,
    rng: np.random.Generator, *, offshore: bool, toe_level_m: float = DEFAULT_TOE_LEVEL_M,
    shore_faces_deg: float = DEFAULT_SHORE_FACES_DEG,
    holland: ty.HollandParams = ty.HollandParams(), surge_p: surge_mod.SurgeParams = surge_mod.SurgeParams(),
    wave_p: wv.WaveParams = wv.WaveParams(),
) -> PointSeries:
    calm = wx.calm_fields(epochs, rng)
    su, sv, p_storm, rain = _storm_samples(epochs, lat, lon, track, holland)
    speed, dir_from = _combine(calm, su, sv)
    gust_factor = np.where(np.hypot(su, sv) > calm.wind_speed, holland.gust_factor, calm.wind_gust / np.maximum(calm.wind_speed, 0.1))
    gust = np.maximum(speed * gust_factor, speed)
    pressure = p_storm + (calm.pressure - holland.ambient_hpa)
    astro = tide_mod.tide_levels(epochs, tide_mod.site_along_coast(lon))
    eq = surge_mod.equilibrium_surge_m(pressure, forcing.stress, speed, dir_from, shore_faces_deg, surge_p)
    # Calm residual (seiches, river discharge): small red noise around the equilibrium.
    resid = np.cumsum(rng.normal(0.0, 0.004, size=epochs.size))
    resid -= np.linspace(0.0, resid[-1], epochs.size)
    surge = surge_mod.relax(epochs, eq, surge_p.relaxation_s, initial=float(eq[0])) + resid
    level = astro + surge
    if offshore:
        depth = level - BUOY_BED_LEVEL_M
        hs = wv.depth_limited(forcing.hs_bay, depth, 0.6)
    else:
        local_hs, _ = wv.fetch_limited(speed, wv.fetch_km(dir_from) * 1000.0, wave_p.duration_s)
        incident = np.hypot(wave_p.nearshore_transmission * forcing.hs_bay, local_hs)
        hs = wv.depth_limited(incident, level - toe_level_m, wave_p.breaker_ratio)
    storm_rain = rain * (1.0 + 0.25 * rng.normal(size=epochs.size))
    rain = np.clip(storm_rain, 0.0, None)
    visibility = calm.visibility / (1.0 + rain / 2.0)
    return PointSeries(epochs, astro, surge, level, speed, gust, dir_from, pressure, rain, hs, forcing.tp_bay,
                       calm.air_temp - 0.1 * rain, calm.water_temp, visibility)


def _interp_state(s: PointSeries, t: float) -> PointState:
    e = s.epoch_s
    def at(a: np.ndarray) -> float:
        return float(np.interp(t, e, a))
    rad = np.radians(s.wind_dir)
    d = math.degrees(math.atan2(at(np.sin(rad)), at(np.cos(rad)))) % 360.0
    return PointState(t, at(s.tide_astro), at(s.surge), at(s.level), at(s.wind_speed), at(s.wind_gust), d,
                      at(s.pressure), at(s.rain), at(s.hs), at(s.tp), at(s.air_temp), at(s.water_temp), at(s.visibility))


@dataclass(slots=True)
class Scenario:
    start_s: float
    end_s: float
    stations: dict[str, PointSeries]
    segments: dict[str, PointSeries]
    segment_info: dict[str, SimSegment] = field(default_factory=dict)
    storm: bool = False

    def covers(self, t: float) -> bool:
        return self.start_s <= t <= self.end_s

    def station_state(self, station_id: str, t: float) -> PointState:
        return _interp_state(self.stations[station_id], t)

    def segment_state(self, segment_id: str, t: float) -> PointState:
        return _interp_state(self.segments[segment_id], t)


def _shore_faces(geo: SimGeography, segment_id: str | None) -> tuple[float, float]:
    if segment_id is not None:
        for seg in geo.segments:
            if seg.id == segment_id:
                return seg.orientation_deg, seg.toe_level_m
    return DEFAULT_SHORE_FACES_DEG, DEFAULT_TOE_LEVEL_M


def build_scenario(geo: SimGeography, start_s: float, end_s: float, *, track: tuple[ty.TrackPoint, ...] | None,
                   step_s: float = 300.0, seed: int = 0) -> Scenario:
    """Evaluate the model on [start_s, end_s] (UTC epoch seconds of model time)."""
    epochs = np.arange(start_s, end_s + step_s, step_s, dtype=float)
    root = np.random.default_rng(seed)
    holland, surge_p, wave_p = ty.HollandParams(), surge_mod.SurgeParams(), wv.WaveParams()
    forcing = bay_forcing(epochs, track, np.random.default_rng(root.integers(1 << 31)), holland, surge_p, wave_p)
    stations: dict[str, PointSeries] = {}
    for st in geo.stations:
        faces, toe = _shore_faces(geo, st.segment_id)
        stations[st.id] = build_point_series(
            st.lat, st.lon, epochs, forcing, track, np.random.default_rng(root.integers(1 << 31)),
            offshore=st.kind == "wave_buoy", toe_level_m=toe, shore_faces_deg=faces,
            holland=holland, surge_p=surge_p, wave_p=wave_p)
    segments: dict[str, PointSeries] = {}
    for seg in geo.segments:
        segments[seg.id] = build_point_series(
            seg.lat, seg.lon, epochs, forcing, track, np.random.default_rng(root.integers(1 << 31)),
            offshore=False, toe_level_m=seg.toe_level_m, shore_faces_deg=seg.orientation_deg,
            holland=holland, surge_p=surge_p, wave_p=wave_p)
    return Scenario(float(epochs[0]), float(epochs[-1]), stations, segments, {s.id: s for s in geo.segments},
                    storm=track is not None)


def observe(station: SimStation, state: PointState, rng: np.random.Generator,
            noise: wx.SensorNoise = wx.SensorNoise()) -> dict[str, float]:
    """The contract observation a station's sensors would report for this state.

    Levels are on the station's own datum (``station.datum_offset_m``, haixun/data/datum.py):
    the model is on CN1985, a gauge on the Wusong datum reports 1.717 m more.
    """
    n = rng.normal
    candidates: dict[str, float] = {
        "tide_level": round(from_warning_datum("tide_level", state.level + n(0, noise.tide_level),
                                               station.datum_offset_m), 3),
        "wind_speed": round(max(0.0, state.wind_speed + n(0, noise.wind_speed)), 1),
        "wind_gust": round(max(0.0, state.wind_gust + n(0, noise.wind_speed)), 1),
        "wind_dir": round((state.wind_dir + n(0, noise.wind_dir)) % 360.0, 0),
        "air_pressure": round(state.pressure + n(0, noise.air_pressure), 2),
        "rainfall": round(max(0.0, state.rain * (1 + n(0, noise.rainfall))), 1),
        "wave_height": round(max(0.0, state.hs * (1 + n(0, noise.wave_height))), 2),
        "wave_period": round(max(0.5, state.tm10 * (1 + n(0, noise.wave_period))), 1),
        "air_temperature": round(state.air_temp + n(0, noise.temperature), 1),
        "water_temperature": round(state.water_temp + n(0, noise.temperature), 1),
        "visibility": round(max(0.0, state.visibility), 0),
    }
    if candidates["wind_gust"] < candidates["wind_speed"]:
        candidates["wind_gust"] = candidates["wind_speed"]
    return {q: candidates[q] for q in station.quantities if q in candidates}

"""Typhoon In-fa (No. 6, 2021): track, Holland (1980) wind and pressure fields.

Pure functions. Times are UTC epoch seconds (float) or aware datetimes.
Only the three anchor points marked SOURCE come from the domain brief
(CMA bulletins as reported); the others are approximate positions along the
reported slow NW track and are an ASSUMPTION (see docs/simulators.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

CST = timezone(timedelta(hours=8))
RHO_AIR = 1.15  # kg/m3
OMEGA = 7.292e-5  # 1/s
KM_PER_DEG_LAT = 111.2


@dataclass(frozen=True, slots=True)
class TrackPoint:
    time: datetime
    lat: float
    lon: float
    pressure_hpa: float
    vmax_ms: float  # 10-min mean surface wind, 10 m
    rmax_km: float


def _cst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2021, 7, day, hour, minute, tzinfo=CST)


INFA_LANDFALL_PINGHU = _cst(26, 9, 50)  # SOURCE: 01:50 UTC 26 July 2021
INFA_LANDFALL_ZHOUSHAN = _cst(25, 12, 30)

INFA_2021: tuple[TrackPoint, ...] = (
    TrackPoint(_cst(23, 8), 26.3, 125.9, 950.0, 42.0, 50.0),
    TrackPoint(_cst(23, 20), 27.0, 125.0, 950.0, 42.0, 50.0),
    TrackPoint(_cst(24, 8), 28.0, 124.0, 952.0, 42.0, 50.0),
    TrackPoint(_cst(24, 20), 29.0, 123.2, 955.0, 40.0, 50.0),
    TrackPoint(_cst(25, 8), 29.7, 122.6, 960.0, 38.0, 45.0),
    TrackPoint(INFA_LANDFALL_ZHOUSHAN, 29.95, 122.25, 965.0, 38.0, 40.0),  # Putuo landfall, approximate
    TrackPoint(_cst(25, 20), 30.12, 122.02, 968.0, 36.0, 32.0),
    TrackPoint(_cst(26, 2), 30.28, 121.78, 972.0, 34.0, 24.0),
    TrackPoint(_cst(26, 5), 30.38, 121.63, 975.0, 33.0, 18.0),  # p, V: SOURCE (domain brief); position: see below
    # SOURCE (issue 13, the record): at 08:00 the centre was ~25 km from the Pinghu-Jinshan border
    # (30.67 N 121.26 E): 25 km back along the 135 deg approach. The brief's "05:00 near 30.5 N 121.4 E"
    # is this position; the old track reached it 3 h early.
    TrackPoint(_cst(26, 8), 30.511, 121.445, 976.5, 30.5, 14.0),
    TrackPoint(INFA_LANDFALL_PINGHU, 30.68, 121.25, 978.0, 28.0, 17.0),  # SOURCE (time, p, V); position ASSUMPTION
    # Over land the storm fills and the winds decay (ASSUMPTION, inland decay of a slow storm): the
    # Pinghu coast is calm (below Beaufort 6) again by the morning of 27 July.
    TrackPoint(_cst(26, 14), 30.85, 120.95, 983.0, 21.0, 30.0),
    TrackPoint(_cst(26, 20), 31.1, 120.6, 988.0, 16.0, 40.0),
    TrackPoint(_cst(27, 8), 31.6, 119.9, 994.0, 11.0, 50.0),
    TrackPoint(_cst(27, 20), 32.2, 119.0, 998.0, 9.0, 60.0),
    TrackPoint(_cst(28, 8), 32.8, 118.2, 1000.0, 8.0, 70.0),
)


@dataclass(frozen=True, slots=True)
class StormState:
    epoch_s: float
    lat: float
    lon: float
    pressure_hpa: float
    vmax_ms: float
    rmax_km: float
    translation_ms: float
    heading_deg: float  # direction of motion, degrees from north


@dataclass(frozen=True, slots=True)
class HollandParams:
    ambient_hpa: float = 1010.0
    surface_factor: float = 0.80  # gradient -> 10 m wind over water (ASSUMPTION, usual 0.7-0.85)
    gust_factor: float = 1.4  # 3-s gust / 10-min mean near the coast (WMO offshore-to-coast 1.3-1.5)
    inflow_inner_deg: float = 10.0
    inflow_outer_deg: float = 25.0
    asymmetry: float = 0.5  # fraction of translation speed added in the direction of motion
    rain_peak_mmh: float = 30.0  # ASSUMPTION
    rain_scale_km: float = 120.0


@dataclass(frozen=True, slots=True)
class WindSample:
    speed_ms: float
    gust_ms: float
    dir_from_deg: float
    pressure_hpa: float
    rain_mmh: float
    distance_km: float


def track_span(track: tuple[TrackPoint, ...] = INFA_2021) -> tuple[float, float]:
    return track[0].time.timestamp(), track[-1].time.timestamp()


def _bearing_distance(lat0: float, lon0: float, lat1: float, lon1: float) -> tuple[float, float]:
    """(bearing deg from north, distance km) from point 0 to point 1 (local flat earth, fine < 500 km)."""
    dy = (lat1 - lat0) * KM_PER_DEG_LAT
    dx = (lon1 - lon0) * KM_PER_DEG_LAT * math.cos(math.radians(0.5 * (lat0 + lat1)))
    return math.degrees(math.atan2(dx, dy)) % 360.0, math.hypot(dx, dy)


def storm_state(epoch_s: float, track: tuple[TrackPoint, ...] = INFA_2021) -> StormState | None:
    """Linear interpolation of the track; None outside it."""
    times = [p.time.timestamp() for p in track]
    if epoch_s < times[0] or epoch_s > times[-1]:
        return None
    i = max(0, min(len(track) - 2, int(np.searchsorted(times, epoch_s, side="right")) - 1))
    a, b = track[i], track[i + 1]
    w = (epoch_s - times[i]) / (times[i + 1] - times[i])
    heading, dist_km = _bearing_distance(a.lat, a.lon, b.lat, b.lon)
    return StormState(
        epoch_s=epoch_s,
        lat=a.lat + w * (b.lat - a.lat),
        lon=a.lon + w * (b.lon - a.lon),
        pressure_hpa=a.pressure_hpa + w * (b.pressure_hpa - a.pressure_hpa),
        vmax_ms=a.vmax_ms + w * (b.vmax_ms - a.vmax_ms),
        rmax_km=a.rmax_km + w * (b.rmax_km - a.rmax_km),
        translation_ms=dist_km * 1000.0 / (times[i + 1] - times[i]),
        heading_deg=heading,
    )


def holland_b(vmax_gradient_ms: float, deficit_hpa: float) -> float:
    """Holland (1980) B from the gradient-level maximum wind, clipped to 1.0-2.5."""
    b = RHO_AIR * math.e * vmax_gradient_ms**2 / max(deficit_hpa * 100.0, 1.0)
    return min(2.5, max(1.0, b))


def holland_gradient_wind(r_km: float, rmax_km: float, b: float, deficit_hpa: float, lat: float) -> float:
    """Gradient wind speed (m/s) at radius r with Coriolis."""
    r = max(r_km, 0.05) * 1000.0
    f = 2.0 * OMEGA * math.sin(math.radians(lat))
    x = (rmax_km * 1000.0 / r) ** b
    return math.sqrt(b / RHO_AIR * x * deficit_hpa * 100.0 * math.exp(-x) + (r * f / 2.0) ** 2) - r * f / 2.0


def holland_pressure(r_km: float, rmax_km: float, b: float, central_hpa: float, ambient_hpa: float) -> float:
    r = max(r_km, 0.05)
    return central_hpa + (ambient_hpa - central_hpa) * math.exp(-((rmax_km / r) ** b))


def storm_wind(state: StormState, lat: float, lon: float, params: HollandParams = HollandParams()) -> WindSample:
    """10-min mean wind, gust, direction, pressure and rain at a point."""
    deficit = max(params.ambient_hpa - state.pressure_hpa, 0.1)
    bearing, r_km = _bearing_distance(state.lat, state.lon, lat, lon)
    vt = state.translation_ms
    # The symmetric part carries Vmax - asymmetry*Vt so that the right-front maximum equals Vmax.
    v_sym_max_surface = max(state.vmax_ms - params.asymmetry * vt, 1.0)
    vg_max = v_sym_max_surface / params.surface_factor
    b = holland_b(vg_max, deficit)
    vg = holland_gradient_wind(r_km, state.rmax_km, b, deficit, state.lat)
    # Normalise so the peak of the Coriolis-including profile is exactly vg_max.
    vg_peak = holland_gradient_wind(state.rmax_km, state.rmax_km, b, deficit, state.lat)
    v_sym = params.surface_factor * vg * (vg_max / vg_peak if vg_peak > 0 else 1.0)
    ratio = r_km / state.rmax_km
    inflow = params.inflow_inner_deg + (params.inflow_outer_deg - params.inflow_inner_deg) * min(1.0, max(0.0, (ratio - 1.0) / 0.2))
    # Northern hemisphere: counter-clockwise, turned towards the centre by the inflow angle.
    toward = (bearing - 90.0 - inflow) % 360.0
    u = v_sym * math.sin(math.radians(toward))
    v = v_sym * math.cos(math.radians(toward))
    # Translation asymmetry, fading away from the core.
    fade = min(1.0, ratio) if ratio < 1.0 else math.exp(-(ratio - 1.0) / 3.0)
    u += params.asymmetry * vt * fade * math.sin(math.radians(state.heading_deg))
    v += params.asymmetry * vt * fade * math.cos(math.radians(state.heading_deg))
    speed = math.hypot(u, v)
    dir_from = (math.degrees(math.atan2(u, v)) + 180.0) % 360.0
    rain = params.rain_peak_mmh * math.exp(-r_km / params.rain_scale_km) if r_km < 600.0 else 0.0
    return WindSample(
        speed_ms=speed,
        gust_ms=speed * params.gust_factor,
        dir_from_deg=dir_from,
        pressure_hpa=holland_pressure(r_km, state.rmax_km, b, state.pressure_hpa, params.ambient_hpa),
        rain_mmh=rain,
        distance_km=r_km,
    )

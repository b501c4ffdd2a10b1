"""Builders for the riskcode tests: the packaged config, a segment, observations, an M2 tide."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from haixun.riskcode import AreaIndex, AreaSpec, SeawallIndex, load_config
from haixun.riskcode.config import RiskConfig
from haixun.riskcode.model import Observation, SegmentSpec
from haixun.riskcode.tides import TidePrediction

NOW = datetime(2021, 7, 26, 1, 0, tzinfo=UTC)
CONFIG: RiskConfig = load_config()


def segment(
    i: int = 1,
    *,
    lon0: float = 121.03,
    length_deg: float = 0.008,
    lat: float = 30.6,
    structure: str = "sloped_dike",
    crest: float = 8.0,
    toe: float = 2.0,
    warning: dict[str, float] | None = None,
    orientation: float = 180.0,
) -> SegmentSpec:
    """A straight east-west segment facing south (sea to the south)."""
    a = lon0 + (i - 1) * length_deg
    return SegmentSpec(
        id=f"PH{i:02d}", name=f"段{i}", name_en=f"Segment {i}", town_id="T01", structure=structure,  # type: ignore[arg-type]
        crest_level_m=crest, slope_tan=1 / 3, toe_level_m=toe, foreshore_slope=0.01, roughness_gamma_f=1.0,
        warning_levels_m=warning,  # type: ignore[arg-type]
        tide_station=f"T{i:02d}", wind_station=f"W{i:02d}", wave_station=f"B{i:02d}", orientation_deg=orientation,
        coords=((a, lat), (a + length_deg, lat)),
    )


def obs_for(i: int, *, tide: float | None = 2.2, hs: float | None = 0.5, tp: float | None = 5.0,
            wind: float | None = 5.0, gust: float | None = 7.0, ts: datetime = NOW, qc: int = 1
            ) -> dict[str, dict[str, Observation]]:
    out: dict[str, dict[str, Observation]] = {f"T{i:02d}": {}, f"B{i:02d}": {}, f"W{i:02d}": {}}
    if tide is not None:
        out[f"T{i:02d}"]["tide_level"] = Observation(tide, ts, qc)
    if hs is not None:
        out[f"B{i:02d}"]["wave_height"] = Observation(hs, ts, qc)
    if tp is not None:
        out[f"B{i:02d}"]["wave_period"] = Observation(tp, ts, qc)
    if wind is not None:
        out[f"W{i:02d}"]["wind_speed"] = Observation(wind, ts, qc)
    if gust is not None:
        out[f"W{i:02d}"]["wind_gust"] = Observation(gust, ts, qc)
    return out


def semidiurnal_prediction(mean: float = 3.0, amp: float = 2.0, start: datetime = NOW - timedelta(hours=2),
                           hours: float = 30.0, phase_h: float = 0.0) -> TidePrediction:
    """M2-only astronomical tide, 10-min samples: mean + amp*cos(2 pi (t - phase)/12.42 h)."""
    n = int(hours * 6) + 1
    times = [start + timedelta(minutes=10 * k) for k in range(n)]
    th = np.array([(t - start).total_seconds() / 3600.0 for t in times])
    return TidePrediction.from_series(times, mean + amp * np.cos(2 * math.pi * (th - phase_h) / 12.4206))


# Three segments PH01-PH03 in a row, with villages and towns behind them (the shoreline roll-up tests)
SEGS = [segment(i) for i in range(1, 4)]
INDEX = SeawallIndex(CONFIG, SEGS)


def ring(lon0: float, lat0: float, lon1: float, lat1: float) -> tuple[tuple[float, float], ...]:
    """A closed rectangle (lon, lat) ring."""
    return ((lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1), (lon0, lat0))


VILLAGES = [
    AreaSpec("V1", "village", ring(121.031, 30.6005, 121.037, 30.604), "T1", 1200),  # right behind PH01 (zone B)
    AreaSpec("V2", "village", ring(121.049, 30.611, 121.053, 30.615), "T1", 800),  # behind PH03, 1.2-1.7 km (zone D)
    AreaSpec("V3", "village", ring(121.040, 30.63, 121.045, 30.64), "T2", None),  # > 3 km (zone E)
]
TOWNS = [AreaSpec("T1", "town", ring(121.03, 30.6, 121.054, 30.62)), AreaSpec("T2", "town", ring(121.03, 30.62, 121.054, 30.65))]
AREAS = AreaIndex.build(CONFIG, INDEX, VILLAGES, TOWNS)

"""Geography as the simulators need it: stations, cameras, seawall segments.

Reads ``haixun/data/pinghu.geojson`` (schema in docs/data-model.md) when it is
present; otherwise falls back to a small built-in fixture along the Pinghu
coast so the simulators still run (``fixture_geography``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

GEOJSON_PATH = Path(__file__).resolve().parent.parent / "data" / "pinghu.geojson"


@dataclass(frozen=True, slots=True)
class SimStation:
    id: str
    kind: str  # tide_gauge | weather | wave_buoy | multi
    lat: float
    lon: float
    quantities: tuple[str, ...]
    gateway_id: str
    segment_id: str | None = None


@dataclass(frozen=True, slots=True)
class SimSegment:
    id: str
    lat: float  # crest line midpoint
    lon: float
    crest_level_m: float
    toe_level_m: float
    structure: str = "sloped_dike"
    slope_tan: float = 0.333
    roughness_gamma_f: float = 1.0
    orientation_deg: float = 160.0
    warning_levels_m: dict[str, float] = field(default_factory=dict)
    tide_station: str | None = None
    wave_station: str | None = None


@dataclass(frozen=True, slots=True)
class SimCamera:
    id: str
    kind: str
    lat: float
    lon: float
    segment_ids: tuple[str, ...]
    gateway_id: str


@dataclass(frozen=True, slots=True)
class SimLowPoint:
    road_id: str
    lat: float
    lon: float
    ground_level_m: float


@dataclass(frozen=True, slots=True)
class SimGeography:
    stations: tuple[SimStation, ...]
    segments: tuple[SimSegment, ...]
    cameras: tuple[SimCamera, ...]
    low_points: tuple[SimLowPoint, ...]
    source: str

    def station(self, station_id: str) -> SimStation:
        for s in self.stations:
            if s.id == station_id:
                return s
        raise KeyError(station_id)

    def segment(self, segment_id: str) -> SimSegment:
        for s in self.segments:
            if s.id == segment_id:
                return s
        raise KeyError(segment_id)

    def gateways(self) -> dict[str, list[SimStation]]:
        out: dict[str, list[SimStation]] = {}
        for s in self.stations:
            out.setdefault(s.gateway_id, []).append(s)
        return out


TIDE_Q = ("tide_level", "water_temperature")
WEATHER_Q = ("wind_speed", "wind_gust", "wind_dir", "air_pressure", "rainfall", "air_temperature", "visibility")
WAVE_Q = ("wave_height", "wave_period", "water_temperature")
MULTI_Q = ("tide_level", "wind_speed", "wind_gust", "wind_dir", "air_pressure", "wave_height", "wave_period")

# West (Haiyan border) and east (Jinshan border) ends of the Pinghu seawall.
WEST_END = (30.57, 121.03)
EAST_END = (30.67, 121.26)


def fixture_geography() -> SimGeography:
    """A small stand-in for pinghu.geojson (positions approximate, see domain brief)."""
    stations = (
        SimStation("HY-M01", "multi", 30.574, 121.045, MULTI_Q, "GW-W", "PH02"),
        SimStation("ZP-T01", "tide_gauge", 30.6058, 121.0911, TIDE_Q, "GW-ZP", "PH07"),
        SimStation("ZP-W01", "weather", 30.607, 121.093, WEATHER_Q, "GW-ZP", "PH07"),
        SimStation("JLS-M01", "multi", 30.595, 121.14, MULTI_Q, "GW-JLS", "PH12"),
        SimStation("DSG-T01", "tide_gauge", 30.630, 121.200, TIDE_Q, "GW-DSG", "PH20"),
        SimStation("DSG-W01", "weather", 30.632, 121.202, WEATHER_Q, "GW-DSG", "PH20"),
        SimStation("HZB-B01", "wave_buoy", 30.540, 121.150, WAVE_Q, "GW-BUOY", None),
        SimStation("JS-M01", "multi", 30.668, 121.255, MULTI_Q, "GW-E", "PH27"),
    )
    segments = []
    n = 27
    for i in range(n):
        f = (i + 0.5) / n
        lat = WEST_END[0] + f * (EAST_END[0] - WEST_END[0])
        lon = WEST_END[1] + f * (EAST_END[1] - WEST_END[1])
        sid = f"PH{i + 1:02d}"
        tide = "ZP-T01" if i < 10 else ("JLS-M01" if i < 15 else "DSG-T01")
        segments.append(
            SimSegment(
                id=sid, lat=lat, lon=lon,
                crest_level_m=8.6 + 0.4 * ((i * 7) % 5) / 4,  # 8.6..9.0 m, ASSUMPTION
                toe_level_m=0.5, slope_tan=0.333, roughness_gamma_f=0.6 if i % 3 else 1.0,
                orientation_deg=160.0,
                warning_levels_m={"blue": 5.0, "yellow": 5.5, "orange": 6.0, "red": 6.5},
                tide_station=tide, wave_station="HZB-B01",
            )
        )
    cameras = (
        SimCamera("CAM-ZP01", "thermal_ptz", 30.606, 121.092, ("PH06", "PH07", "PH08"), "GW-ZP"),
        SimCamera("CAM-JLS01", "starlight_dome", 30.596, 121.141, ("PH12", "PH13"), "GW-JLS"),
        SimCamera("CAM-DSG01", "thermal_ptz", 30.631, 121.201, ("PH19", "PH20", "PH21"), "GW-DSG"),
    )
    low_points = (
        SimLowPoint("R-ZP-COAST", 30.609, 121.095, 5.6),
        SimLowPoint("R-DSG-PORT", 30.634, 121.205, 5.9),
    )
    return SimGeography(stations, tuple(segments), cameras, low_points, source="fixture")


def _mid(coords: list[list[float]]) -> tuple[float, float]:
    lon, lat = coords[len(coords) // 2][:2]
    return float(lat), float(lon)


def geography_from_geojson(doc: dict[str, Any]) -> SimGeography:
    """Convert the FeatureCollection of docs/data-model.md into simulator records."""
    stations: list[SimStation] = []
    segments: list[SimSegment] = []
    cameras: list[SimCamera] = []
    low_points: list[SimLowPoint] = []
    for feat in doc.get("features", []):
        p = feat.get("properties", {})
        g = feat.get("geometry") or {}
        layer = p.get("layer")
        if layer == "station":
            lon, lat = g["coordinates"][:2]
            stations.append(SimStation(p["id"], p["kind"], float(lat), float(lon), tuple(p.get("quantities", ())),
                                       p.get("gateway_id") or f"GW-{p['id']}", p.get("segment_id")))
        elif layer == "seawall_segment":
            lat, lon = _mid(g["coordinates"])
            segments.append(SimSegment(
                id=p["id"], lat=lat, lon=lon, crest_level_m=float(p["crest_level_m"]),
                toe_level_m=float(p.get("toe_level_m", 0.0)), structure=p.get("structure", "sloped_dike"),
                slope_tan=float(p.get("slope_tan") or 0.333), roughness_gamma_f=float(p.get("roughness_gamma_f", 1.0)),
                orientation_deg=float(p.get("orientation_deg", 160.0)),
                warning_levels_m={k: float(v) for k, v in (p.get("warning_levels_m") or {}).items()},
                tide_station=p.get("tide_station"), wave_station=p.get("wave_station"),
            ))
        elif layer == "camera":
            lon, lat = g["coordinates"][:2]
            cameras.append(SimCamera(p["id"], p.get("kind", "thermal_ptz"), float(lat), float(lon),
                                     tuple(p.get("segment_ids", ())), p.get("gateway_id") or f"GW-{p['id']}"))
        elif layer == "road":
            for lp in p.get("low_points") or []:
                low_points.append(SimLowPoint(p["id"], float(lp["lat"]), float(lp["lon"]), float(lp["ground_level_m"])))
    if not stations:
        raise ValueError("geography has no station features")
    return SimGeography(tuple(stations), tuple(segments), tuple(cameras), tuple(low_points), source="geojson")


def load_sim_geography(path: Path | None = None) -> SimGeography:
    """The project geography if present (and valid), else the built-in fixture."""
    target = path or GEOJSON_PATH
    if target.exists():
        try:
            return geography_from_geojson(json.loads(target.read_text(encoding="utf-8")))
        except (KeyError, ValueError, TypeError) as exc:
            if path is not None:
                raise
            log.warning("cannot use %s (%s); using the built-in fixture geography", target, exc)
    elif path is not None:
        raise FileNotFoundError(target)
    return fixture_geography()

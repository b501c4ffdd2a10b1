"""Geography as the simulators need it: stations, cameras, seawall segments.

A small adapter over ``haixun.data.load_geography()`` (the one parser and
validator of the geography file, schema in docs/data-model.md): the
simulators keep their flat records, nothing here reads the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from haixun.data.geography import Geography, load_geography


@dataclass(frozen=True, slots=True)
class SimStation:
    id: str
    kind: str  # tide_gauge | weather | wave_buoy | multi
    lat: float
    lon: float
    quantities: tuple[str, ...]
    gateway_id: str
    segment_id: str | None = None
    datum_offset_m: float = 0.0  # metres to add to this station's levels to get CN1985


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
    berm_width_m: float = 0.0            # EurOtop section geometry (geography 1.2.0)
    berm_level_m: float | None = None
    wave_wall_height_m: float = 0.0
    wave_wall_angle_deg: float | None = None


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


def sim_geography(geo: Geography) -> SimGeography:
    """The simulator's view of a validated geography: station/camera points, segment midpoints, low points."""
    stations = tuple(SimStation(s.id, s.kind, s.lat, s.lon, s.quantities, s.gateway_id, s.segment_id,
                                s.datum_offset_m) for s in geo.stations)
    segments = []
    for seg in geo.segments:
        lon, lat = seg.geometry.coords[len(seg.geometry.coords) // 2][:2]
        segments.append(SimSegment(
            id=seg.id, lat=float(lat), lon=float(lon), crest_level_m=seg.crest_level_m, toe_level_m=seg.toe_level_m,
            structure=seg.structure, slope_tan=seg.slope_tan, roughness_gamma_f=seg.roughness_gamma_f,
            orientation_deg=seg.orientation_deg, warning_levels_m=seg.warning_levels.as_dict(),
            tide_station=seg.tide_station, wave_station=seg.wave_station, berm_width_m=seg.berm_width_m,
            berm_level_m=seg.berm_level_m, wave_wall_height_m=seg.wave_wall_height_m,
            wave_wall_angle_deg=seg.wave_wall_angle_deg))
    cameras = tuple(SimCamera(c.id, c.kind, c.lat, c.lon, c.segment_ids, c.gateway_id) for c in geo.cameras)
    low_points = tuple(SimLowPoint(r.id, lp.lat, lp.lon, lp.ground_level_m) for r in geo.roads for lp in r.low_points)
    return SimGeography(stations, tuple(segments), cameras, low_points, source=f"{geo.source} {geo.version}")


def load_sim_geography(path: Path | None = None) -> SimGeography:
    """The project geography (``haixun.data.load_geography``: the packaged file, or ``path``), validated."""
    return sim_geography(load_geography(path))

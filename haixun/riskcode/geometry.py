"""Exposure zones and location codes: pure geometry with shapely.

Coordinates are WGS84 lon/lat in, metres inside: an equirectangular
projection about ``zones.projection_lat_deg`` (30.6 N). Over the ~30 km study
area its scale error is far below the zone widths (< 0.1 %), so no pyproj.

Signed distance to the seawall: distance to the nearest segment's crest line,
negative on the sea side. The sea side of each segment comes from its
``orientation_deg`` (the direction the wall faces); the side of a point is
taken from the local tangent at its nearest point on the line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from haixun.riskcode.config import RiskConfig, ZonesConfig
from haixun.riskcode.levels import Level, worst
from haixun.riskcode.model import SegmentSpec

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class LocalProjection:
    lat0_deg: float
    lon0_deg: float

    def xy(self, lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        k = math.radians(1.0) * EARTH_RADIUS_M
        x = (np.asarray(lon, dtype=float) - self.lon0_deg) * k * math.cos(math.radians(self.lat0_deg))
        y = (np.asarray(lat, dtype=float) - self.lat0_deg) * k
        return x, y

    def line(self, coords: Sequence[tuple[float, float]]) -> LineString:
        a = np.asarray(coords, dtype=float)
        x, y = self.xy(a[:, 0], a[:, 1])
        return LineString(np.column_stack([x, y]))

    def polygon(self, ring: Sequence[tuple[float, float]]) -> Polygon:
        a = np.asarray(ring, dtype=float)
        x, y = self.xy(a[:, 0], a[:, 1])
        return Polygon(np.column_stack([x, y]))


def exposure_zone(distance_m: float, zones: ZonesConfig) -> str:
    """A: d < 0 (seaward); B: 0 <= d < b_max; C: b_max <= d < c_max; D: c_max <= d < d_max; E: d >= d_max."""
    if distance_m < 0:
        return "A"
    if distance_m < zones.b_max_m:
        return "B"
    if distance_m < zones.c_max_m:
        return "C"
    if distance_m < zones.d_max_m:
        return "D"
    return "E"


class SeawallIndex:
    """Projected crest lines of all segments, for signed distances."""

    def __init__(self, config: RiskConfig, segments: Sequence[SegmentSpec]) -> None:
        if not segments:
            raise ValueError("no seawall segments")
        self.zones = config.zones
        all_lon = [c[0] for s in segments for c in s.coords]
        self.proj = LocalProjection(config.zones.projection_lat_deg, float(np.mean(all_lon)))
        self.segment_ids: tuple[str, ...] = tuple(s.id for s in segments)
        self.lines: tuple[LineString, ...] = tuple(self.proj.line(s.coords) for s in segments)
        sea_left = []
        for s, line in zip(segments, self.lines):
            (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
            tx, ty = x1 - x0, y1 - y0
            th = math.radians(s.orientation_deg)
            # left normal of the chord (-ty, tx) vs the facing direction (east = sin, north = cos)
            sea_left.append((-ty) * math.sin(th) + tx * math.cos(th) > 0)
        self.sea_left = np.array(sea_left, dtype=bool)

    def signed_distances_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(n_points, n_segments) signed distances in metres, seaward negative."""
        pts = shapely.points(np.column_stack([np.atleast_1d(x), np.atleast_1d(y)]))
        out = np.empty((len(pts), len(self.lines)))
        px, py = shapely.get_x(pts), shapely.get_y(pts)
        for j, line in enumerate(self.lines):
            d = shapely.distance(pts, line)
            s = shapely.line_locate_point(line, pts)
            a = shapely.line_interpolate_point(line, np.maximum(s - 1.0, 0.0))
            b = shapely.line_interpolate_point(line, np.minimum(s + 1.0, line.length))
            q = shapely.line_interpolate_point(line, s)
            tx, ty = shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a)
            vx, vy = px - shapely.get_x(q), py - shapely.get_y(q)
            left = tx * vy - ty * vx > 0
            seaward = left == self.sea_left[j]
            out[:, j] = np.where(seaward & (d > 0), -d, d)
        return out

    def signed_distances(self, lon: np.ndarray | float, lat: np.ndarray | float) -> np.ndarray:
        x, y = self.proj.xy(lon, lat)
        return self.signed_distances_xy(np.atleast_1d(x), np.atleast_1d(y))


@dataclass(frozen=True, slots=True)
class Exposure:
    """Where a point is relative to the seawall: zone, signed distance, the segments that count."""

    zone: str
    distance_m: float
    nearest_segment_id: str
    segment_ids: tuple[str, ...]


def exposure_from_row(index: SeawallIndex, row: np.ndarray) -> Exposure:
    absd = np.abs(row)
    j = int(np.argmin(absd))
    near = tuple(index.segment_ids[k] for k in np.nonzero(absd <= absd[j] + index.zones.neighbour_margin_m)[0])
    d = float(row[j])
    return Exposure(exposure_zone(d, index.zones), d, index.segment_ids[j], near)


def locate(index: SeawallIndex, lon: float, lat: float) -> Exposure:
    return exposure_from_row(index, index.signed_distances(lon, lat)[0])


@dataclass(frozen=True, slots=True)
class LocationCode:
    code: Level
    zone: str
    distance_m: float
    segment_level: Level
    segment_ids: tuple[str, ...]
    advice_zh: str
    advice_en: str

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code.value, "zone": self.zone, "distance_m": round(self.distance_m, 1),
                "segment_level": self.segment_level.value, "segment_ids": list(self.segment_ids),
                "advice": {"zh": self.advice_zh, "en": self.advice_en}}


def segment_level_for(exposure: Exposure, segment_levels: Mapping[str, Level]) -> Level:
    """Worst shown level of the segments that count; a segment with no level is unknown."""
    return worst(segment_levels.get(s, Level.UNKNOWN) for s in exposure.segment_ids)


def code_for(config: RiskConfig, exposure: Exposure, segment_levels: Mapping[str, Level]) -> LocationCode:
    seg_level = segment_level_for(exposure, segment_levels)
    code = config.code(seg_level, exposure.zone)
    a_code, a_zone = config.advice.code[code], config.advice.zone[exposure.zone]  # type: ignore[index]
    return LocationCode(code, exposure.zone, exposure.distance_m, seg_level, exposure.segment_ids,
                        f"{a_code.zh}{a_zone.zh}", f"{a_code.en} {a_zone.en}")


def location_code(config: RiskConfig, index: SeawallIndex, lon: float, lat: float,
                  segment_levels: Mapping[str, Level]) -> LocationCode:
    """The risk code of a point (resident's phone) given the segments' shown levels."""
    return code_for(config, locate(index, lon, lat), segment_levels)

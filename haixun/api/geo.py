"""The served geography (read-only), loaded from the geography GeoJSON
(docs/data-model.md) into metric shapes for distance and containment queries.

Coordinates are projected to a local equirectangular plane in metres around
the centre of the file's extent: over 30 km the error is well below 0.1 %.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
import numpy as np
import shapely

EARTH_M_PER_DEG_LAT = 110_574.0
EARTH_M_PER_DEG_LON_EQ = 111_320.0


def default_geo_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "pinghu.geojson"


@dataclass(frozen=True, slots=True)
class Projection:
    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return EARTH_M_PER_DEG_LON_EQ * math.cos(math.radians(self.lat0))

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.lon0) * self.kx, (lat - self.lat0) * EARTH_M_PER_DEG_LAT)

    def to_metric(self, geom: BaseGeometry) -> BaseGeometry:
        origin = np.array([self.lon0, self.lat0])
        scale = np.array([self.kx, EARTH_M_PER_DEG_LAT])
        return shapely.transform(geom, lambda c: (c - origin) * scale)


@dataclass(slots=True)
class GeoFeature:
    id: str
    layer: str
    props: dict[str, Any]
    geometry: dict[str, Any]           # GeoJSON geometry (lon/lat)
    metric: BaseGeometry               # projected, metres

    @property
    def name(self) -> str:
        return str(self.props.get("name", self.id))

    @property
    def name_en(self) -> str:
        return str(self.props.get("name_en") or self.props.get("name") or self.id)


@dataclass(slots=True)
class Geography:
    projection: Projection
    segments: dict[str, GeoFeature] = field(default_factory=dict)
    towns: dict[str, GeoFeature] = field(default_factory=dict)
    villages: dict[str, GeoFeature] = field(default_factory=dict)
    shelters: dict[str, GeoFeature] = field(default_factory=dict)
    roads: dict[str, GeoFeature] = field(default_factory=dict)
    land: BaseGeometry | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    _segment_ids: list[str] = field(default_factory=list)
    _segment_tree: STRtree | None = None

    @classmethod
    def from_geojson(cls, data: dict[str, Any]) -> "Geography":
        feats = data.get("features") or []
        lons: list[float] = []
        lats: list[float] = []
        for f in feats:
            _collect(f["geometry"]["coordinates"], lons, lats)
        if not lons:
            raise ValueError("geography has no features")
        proj = Projection(lon0=(min(lons) + max(lons)) / 2, lat0=(min(lats) + max(lats)) / 2)
        geo = cls(projection=proj, meta=dict(data.get("meta") or {}))
        layers = {"seawall_segment": geo.segments, "town": geo.towns, "village": geo.villages,
                  "shelter": geo.shelters, "road": geo.roads}
        land_parts: list[BaseGeometry] = []
        for f in feats:
            props = dict(f.get("properties") or {})
            layer = props.get("layer")
            metric = proj.to_metric(shape(f["geometry"]))
            if layer == "land_boundary":
                land_parts.append(metric)
                continue
            target = layers.get(str(layer))
            if target is None:
                continue
            fid = str(props["id"])
            target[fid] = GeoFeature(id=fid, layer=str(layer), props=props, geometry=f["geometry"], metric=metric)
        if land_parts:
            land = land_parts[0]
            for p in land_parts[1:]:
                land = land.union(p)
            geo.land = land
        geo._segment_ids = sorted(geo.segments)
        geo._segment_tree = STRtree([geo.segments[i].metric for i in geo._segment_ids]) if geo.segments else None
        return geo

    @classmethod
    def load(cls, path: Path) -> "Geography":
        return cls.from_geojson(json.loads(path.read_text(encoding="utf-8")))

    def point(self, lon: float, lat: float) -> Point:
        return Point(self.projection.xy(lon, lat))

    def in_served_area(self, p: Point) -> bool:
        return self.land is not None and self.land.covers(p)

    def nearest_segments(self, p: Point, within_m: float) -> list[tuple[GeoFeature, float]]:
        """The nearest segment and every other segment within ``within_m`` of the point, nearest first."""
        if self._segment_tree is None:
            return []
        nearest_idx = int(self._segment_tree.nearest(p))
        nearest = self.segments[self._segment_ids[nearest_idx]]
        d0 = nearest.metric.distance(p)
        found = {nearest.id: d0}
        for idx in self._segment_tree.query(p.buffer(d0 + within_m)):
            seg = self.segments[self._segment_ids[int(idx)]]
            d = seg.metric.distance(p)
            if d <= d0 + within_m:
                found[seg.id] = d
        return sorted(((self.segments[i], d) for i, d in found.items()), key=lambda t: t[1])

    def signed_distance_to_wall(self, seg: GeoFeature, p: Point) -> float:
        """Distance from the segment's crest line, negative on the seaward side."""
        line = seg.metric
        assert isinstance(line, LineString)
        d = line.distance(p)
        on_line = line.interpolate(line.project(p))
        facing = math.radians(float(seg.props.get("orientation_deg", 180.0)))
        fx, fy = math.sin(facing), math.cos(facing)
        dot = (p.x - on_line.x) * fx + (p.y - on_line.y) * fy
        return -d if dot > 0 else d

    def village_at(self, p: Point) -> GeoFeature | None:
        for v in self.villages.values():
            if v.metric.covers(p):
                return v
        return None

    def distance_m(self, feature: GeoFeature, p: Point) -> float:
        return float(feature.metric.distance(p))

    def lonlat_to_metric(self, lon: float, lat: float) -> Point:
        return self.point(lon, lat)


def _collect(coords: Any, lons: list[float], lats: list[float]) -> None:
    if coords and isinstance(coords[0], (int, float)):
        lons.append(float(coords[0]))
        lats.append(float(coords[1]))
        return
    for c in coords:
        _collect(c, lons, lats)


def polygon_rings_latlon(geometry: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Outer rings of a (Multi)Polygon as closed (lat, lon) lists, for CAP."""
    g = shape(geometry)
    polys = [g] if isinstance(g, Polygon) else list(getattr(g, "geoms", []))
    rings = []
    for poly in polys:
        pts = [(float(y), float(x)) for x, y in poly.exterior.coords]
        if pts[0] != pts[-1]:
            pts.append(pts[0])
        rings.append(pts)
    return rings

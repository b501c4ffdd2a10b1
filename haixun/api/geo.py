"""The served geography as the API looks it up.

One :class:`haixun.data.geography.Geography` (``load_geography()``, loaded and
validated once at startup) indexed by id, plus the metric shapes the
shelter/road distance lookups need (``haixun.data.projection.PINGHU``). The
seawall rules (exposure zone, segments that count, code) are riskcode's
``SeawallIndex`` built from :func:`haixun.data.riskspecs.segment_specs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from haixun.data.geography import Geography, Road, Segment, Shelter, Town, Village
from haixun.data.projection import PINGHU, LocalProjection
from haixun.data.riskspecs import segment_specs
from haixun.riskcode import RiskConfig, SeawallIndex, SegmentSpec


@dataclass(frozen=True)
class ServedGeography:
    geo: Geography
    specs: tuple[SegmentSpec, ...]
    segments: dict[str, Segment]          # file order: west -> east
    towns: dict[str, Town]
    villages: dict[str, Village]
    shelters: dict[str, Shelter]
    roads: dict[str, Road]
    shelter_xy: dict[str, Point]          # metres (projection)
    road_xy: dict[str, LineString]
    projection: LocalProjection
    # The same shapes as arrays (file order), so that one lookup is a few vectorised GEOS calls rather than one
    # call per shelter, road, low point and village (each the same GEOS operation as the scalar call it replaces).
    shelter_array: np.ndarray             # metric Points, order of ``shelters``
    road_array: np.ndarray                # metric LineStrings, order of ``roads``
    low_point_array: np.ndarray           # metric Points of every road's low points (roads, then their order)
    low_point_of: tuple[tuple[str, float], ...]  # (road id, ground level m) of each entry of low_point_array
    village_array: np.ndarray             # lon/lat Polygons (prepared), order of ``geo.villages``

    @classmethod
    def build(cls, geo: Geography, projection: LocalProjection = PINGHU) -> ServedGeography:
        shelter_xy = {s.id: projection.forward(s.geometry) for s in geo.shelters}
        road_xy = {r.id: projection.forward(r.geometry) for r in geo.roads}
        low = [(r.id, lp) for r in geo.roads for lp in r.low_points]
        villages = np.array([v.geometry for v in geo.villages], dtype=object)
        # prepared once: point-in-polygon tests then use GEOS's indexed locator (the geometries are immutable)
        shapely.prepare(villages)
        shapely.prepare(geo.land_boundary.geometry)
        return cls(geo=geo, specs=segment_specs(geo), segments={s.id: s for s in geo.segments},
                   towns={t.id: t for t in geo.towns}, villages={v.id: v for v in geo.villages},
                   shelters={s.id: s for s in geo.shelters}, roads={r.id: r for r in geo.roads},
                   shelter_xy=shelter_xy, road_xy=road_xy, projection=projection,
                   shelter_array=np.array(list(shelter_xy.values()), dtype=object),
                   road_array=np.array(list(road_xy.values()), dtype=object),
                   low_point_array=np.array([Point(projection.to_xy(lp.lon, lp.lat)) for _, lp in low], dtype=object),
                   low_point_of=tuple((rid, lp.ground_level_m) for rid, lp in low),
                   village_array=villages)

    def seawall(self, config: RiskConfig) -> SeawallIndex:
        """riskcode's index of the crest lines (rebuilt when the configuration changes)."""
        return SeawallIndex(config, self.specs)

    def in_served_area(self, lon: float, lat: float) -> bool:
        # Containment is the same in lon/lat as in the (affine) local projection. A polygon covers a point
        # exactly when the point intersects it (interior or boundary): the prepared test, no Point object.
        return bool(shapely.intersects_xy(self.geo.land_boundary.geometry, lon, lat))

    def metric(self, lon: float, lat: float) -> Point:
        return Point(self.projection.to_xy(lon, lat))

    def village_at(self, lon: float, lat: float) -> Village | None:
        """The first village (file order) whose polygon covers the point (boundary included)."""
        hits = np.flatnonzero(shapely.intersects_xy(self.village_array, lon, lat))
        return self.geo.villages[int(hits[0])] if len(hits) else None

    def shelter_distances(self, here: Point) -> np.ndarray:
        """Metres from ``here`` (metric) to every shelter, in ``shelters`` order."""
        return np.asarray(shapely.distance(self.shelter_array, here), dtype=float)

    def road_distances(self, here: Point) -> np.ndarray:
        """Metres from ``here`` (metric) to every road line, in ``roads`` order."""
        return np.asarray(shapely.distance(self.road_array, here), dtype=float)

    def low_point_distances(self, here: Point) -> np.ndarray:
        """Metres from ``here`` (metric) to every road low point, in ``low_point_of`` order."""
        return np.asarray(shapely.distance(self.low_point_array, here), dtype=float)


def polygon_rings_latlon(polygon: Polygon) -> list[list[tuple[float, float]]]:
    """The outer ring of a polygon as a closed (lat, lon) list, for CAP."""
    pts = [(float(y), float(x)) for x, y in polygon.exterior.coords]
    if pts[0] != pts[-1]:
        pts.append(pts[0])
    return [pts]

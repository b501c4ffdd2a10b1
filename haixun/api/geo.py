"""The served geography as the API looks it up.

One :class:`haixun.data.geography.Geography` (``load_geography()``, loaded and
validated once at startup) indexed by id, plus the metric shapes the
shelter/road distance lookups need (``haixun.data.projection.PINGHU``). The
seawall rules (exposure zone, segments that count, code) are riskcode's
``SeawallIndex`` built from :func:`haixun.data.riskspecs.segment_specs`.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    @classmethod
    def build(cls, geo: Geography, projection: LocalProjection = PINGHU) -> ServedGeography:
        return cls(geo=geo, specs=segment_specs(geo), segments={s.id: s for s in geo.segments},
                   towns={t.id: t for t in geo.towns}, villages={v.id: v for v in geo.villages},
                   shelters={s.id: s for s in geo.shelters}, roads={r.id: r for r in geo.roads},
                   shelter_xy={s.id: projection.forward(s.geometry) for s in geo.shelters},
                   road_xy={r.id: projection.forward(r.geometry) for r in geo.roads}, projection=projection)

    def seawall(self, config: RiskConfig) -> SeawallIndex:
        """riskcode's index of the crest lines (rebuilt when the configuration changes)."""
        return SeawallIndex(config, self.specs)

    def in_served_area(self, lon: float, lat: float) -> bool:
        # Containment is the same in lon/lat as in the (affine) local projection.
        return bool(self.geo.land_boundary.geometry.covers(Point(lon, lat)))

    def metric(self, lon: float, lat: float) -> Point:
        return Point(self.projection.to_xy(lon, lat))

    def village_at(self, lon: float, lat: float) -> Village | None:
        p = Point(lon, lat)
        return next((v for v in self.geo.villages if v.geometry.covers(p)), None)


def polygon_rings_latlon(polygon: Polygon) -> list[list[tuple[float, float]]]:
    """The outer ring of a polygon as a closed (lat, lon) list, for CAP."""
    pts = [(float(y), float(x)) for x, y in polygon.exterior.coords]
    if pts[0] != pts[-1]:
        pts.append(pts[0])
    return [pts]

"""The geography as riskcode's input records (one adapter for the engine and the API).

riskcode is pure and knows nothing of the geography file; these functions turn
a validated :class:`~haixun.data.geography.Geography` into its
``SegmentSpec`` (crest lines with the wall's properties) and ``AreaSpec``
(village and town polygons) records.
"""

from __future__ import annotations

from shapely.geometry import mapping

from haixun.data.geography import Geography
from haixun.riskcode import AreaSpec, SegmentSpec
from haixun.riskcode.rollup import lowest_ground


def segment_specs(geo: Geography) -> tuple[SegmentSpec, ...]:
    """Every seawall segment, west -> east, with exactly the documented properties."""
    return tuple(SegmentSpec.from_feature({"properties": dict(s.properties), "geometry": mapping(s.geometry)})
                 for s in geo.segments)


def area_specs(geo: Geography) -> tuple[tuple[AreaSpec, ...], tuple[AreaSpec, ...]]:
    """(villages, towns) as outer rings with population; a village's parent is its town; a village's
    ground is the lowest of its typical ground level and the road low points inside it."""
    lows = [(lp.lon, lp.lat, lp.ground_level_m, f"road {r.id} low point") for r in geo.roads for lp in r.low_points]
    villages = tuple(AreaSpec(v.id, "village", ring := tuple(v.geometry.exterior.coords), v.town_id, v.population,
                              lowest_ground(v.id, ring, v.ground_level_m, lows))
                     for v in geo.villages)
    towns = tuple(AreaSpec(t.id, "town", tuple(t.geometry.exterior.coords), None, t.population) for t in geo.towns)
    return villages, towns

"""ServedGeography's array lookups (one GEOS call over every shelter, road, low point and village) against the
scalar shapely calls they replace: the same answers, point by point, on the boundaries and vertices too."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Point

from haixun.api.geo import ServedGeography
from haixun.data.geography import load_geography


@pytest.fixture(scope="module")
def served() -> ServedGeography:
    return ServedGeography.build(load_geography())


def _points(served: ServedGeography, n: int) -> list[tuple[float, float]]:
    """(lon, lat): random over the area and beyond, every boundary and village vertex, edge midpoints."""
    rng = np.random.default_rng(20261201)
    x0, y0, x1, y1 = served.geo.land_boundary.geometry.bounds
    out = list(zip(rng.uniform(x0 - 0.02, x1 + 0.02, n).tolist(), rng.uniform(y0 - 0.02, y1 + 0.02, n).tolist(),
                   strict=True))
    for poly in [served.geo.land_boundary.geometry, *(v.geometry for v in served.geo.villages)]:
        ring = list(poly.exterior.coords)
        out += ring
        out += [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in zip(ring, ring[1:], strict=False)]
    for r in served.geo.roads:
        out += [(lp.lon, lp.lat) for lp in r.low_points]
    return out


def test_served_area_and_village_as_the_covers_loop(served: ServedGeography) -> None:
    inside = on_village = 0
    for lon, lat in _points(served, 3000):
        p = Point(lon, lat)
        want = bool(served.geo.land_boundary.geometry.covers(p))
        assert served.in_served_area(lon, lat) is want, (lon, lat)
        village = next((v for v in served.geo.villages if v.geometry.covers(p)), None)
        assert served.village_at(lon, lat) is village, (lon, lat)
        inside += want
        on_village += village is not None
    assert inside > 500 and on_village > 500  # both answers were exercised


def test_distances_as_the_scalar_calls(served: ServedGeography) -> None:
    for lon, lat in _points(served, 500):
        here = served.metric(lon, lat)
        assert served.shelter_distances(here).tolist() == [served.shelter_xy[s].distance(here) for s in served.shelters]
        assert served.road_distances(here).tolist() == [served.road_xy[r].distance(here) for r in served.roads]
        want = [served.metric(lp.lon, lp.lat).distance(here) for r in served.roads.values() for lp in r.low_points]
        assert served.low_point_distances(here).tolist() == want
    assert [rid for rid, _ in served.low_point_of] == [r.id for r in served.roads.values() for _ in r.low_points]
    assert [lv for _, lv in served.low_point_of] == [lp.ground_level_m for r in served.roads.values()
                                                     for lp in r.low_points]

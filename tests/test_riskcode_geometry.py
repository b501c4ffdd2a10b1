"""SeawallIndex's vectorised signed distances against the per-segment shapely formula they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from haixun.data.geography import load_geography
from haixun.data.riskspecs import segment_specs
from haixun.riskcode import SeawallIndex
from haixun.riskcode.geometry import exposure_from_distances, exposure_from_row, locate
from haixun.riskcode.model import SegmentSpec
from tests.support.riskcode import CONFIG, segment

TOLERANCE_M = 1e-6


def _reference(index: SeawallIndex, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The original implementation: per segment, shapely distance, locate, tangent over +-1 m, side."""
    pts = shapely.points(np.column_stack([np.atleast_1d(x), np.atleast_1d(y)]))
    out = np.empty((len(pts), len(index.lines)))
    px, py = shapely.get_x(pts), shapely.get_y(pts)
    for j, line in enumerate(index.lines):
        d = shapely.distance(pts, line)
        s = shapely.line_locate_point(line, pts)
        a = shapely.line_interpolate_point(line, np.maximum(s - 1.0, 0.0))
        b = shapely.line_interpolate_point(line, np.minimum(s + 1.0, line.length))
        q = shapely.line_interpolate_point(line, s)
        tx, ty = shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a)
        vx, vy = px - shapely.get_x(q), py - shapely.get_y(q)
        left = tx * vy - ty * vx > 0
        seaward = left == index.sea_left[j]
        out[:, j] = np.where(seaward & (d > 0), -d, d)
    return out


@pytest.fixture(scope="module")
def pinghu() -> SeawallIndex:
    return SeawallIndex(CONFIG, segment_specs(load_geography()))


def _points_near_lines(index: SeawallIndex, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points: over the whole area, close to the crest lines, on and around their vertices."""
    xs, ys = [], []
    minx, miny, maxx, maxy = shapely.total_bounds(np.array(index.lines, dtype=object))
    xs.append(rng.uniform(minx - 8000, maxx + 8000, n))
    ys.append(rng.uniform(miny - 8000, maxy + 8000, n))
    verts = np.vstack([np.asarray(line.coords) for line in index.lines])
    pick = verts[rng.integers(0, len(verts), n)]
    for scale in (0.0, 0.5, 3.0, 60.0, 700.0):
        xs.append(pick[:, 0] + rng.normal(0, scale, n))
        ys.append(pick[:, 1] + rng.normal(0, scale, n))
    along = [line.interpolate(f, normalized=True) for line, f in
             zip(rng.choice(np.array(index.lines, dtype=object), n), rng.uniform(0, 1, n), strict=False)]
    ax, ay = shapely.get_x(along), shapely.get_y(along)
    for scale in (0.0, 0.2, 5.0, 300.0):
        xs.append(ax + rng.normal(0, scale, n))
        ys.append(ay + rng.normal(0, scale, n))
    return np.concatenate(xs), np.concatenate(ys)


def test_matches_reference_on_the_pinghu_seawall(pinghu: SeawallIndex) -> None:
    x, y = _points_near_lines(pinghu, np.random.default_rng(20261125), 2000)
    got, want = pinghu.signed_distances_xy(x, y), _reference(pinghu, x, y)
    assert got.shape == want.shape == (len(x), len(pinghu.lines))
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE_M)
    # the decisions built on the rows are the same as well
    for g, w in zip(got[::7], want[::7], strict=False):
        assert exposure_from_row(pinghu, g) == exposure_from_row(pinghu, w)


def test_lon_lat_entry_and_one_point(pinghu: SeawallIndex) -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        lon, lat = float(rng.uniform(120.95, 121.25)), float(rng.uniform(30.55, 30.75))
        row = pinghu.signed_distances(lon, lat)
        x, y = pinghu.proj.xy(lon, lat)
        np.testing.assert_allclose(row, _reference(pinghu, np.atleast_1d(x), np.atleast_1d(y)), rtol=0,
                                   atol=TOLERANCE_M)


def test_blocks_of_many_points_match(pinghu: SeawallIndex) -> None:
    n = SeawallIndex.BLOCK_POINTS * 2 + 17
    rng = np.random.default_rng(3)
    x, y = _points_near_lines(pinghu, rng, n // 10)
    x, y = x[:n], y[:n]
    whole = pinghu.signed_distances_xy(x, y)
    assert whole.shape == (len(x), len(pinghu.lines))
    np.testing.assert_allclose(whole, _reference(pinghu, x, y), rtol=0, atol=TOLERANCE_M)


def _zigzag(i: int, lon0: float, pts: list[tuple[float, float]], orientation: float) -> SegmentSpec:
    base = segment(i, lon0=lon0, orientation=orientation)
    return base.model_copy(update={"coords": pts})


def test_matches_reference_on_awkward_lines() -> None:
    """Sharp bends, a repeated vertex (zero-length edge), a line doubling back, a two-vertex line."""
    specs = [
        _zigzag(1, 121.0, [(121.00, 30.60), (121.01, 30.60), (121.01, 30.60), (121.005, 30.605), (121.02, 30.601)],
                180.0),
        _zigzag(2, 121.03, [(121.03, 30.60), (121.04, 30.61), (121.031, 30.6001), (121.05, 30.60)], 135.0),
        _zigzag(3, 121.06, [(121.06, 30.59), (121.0600001, 30.62)], 90.0),
        _zigzag(4, 121.07, [(121.07, 30.60), (121.08, 30.60), (121.08, 30.61), (121.07, 30.61), (121.07, 30.6002)],
                0.0),
    ]
    index = SeawallIndex(CONFIG, specs)
    x, y = _points_near_lines(index, np.random.default_rng(11), 1500)
    np.testing.assert_allclose(index.signed_distances_xy(x, y), _reference(index, x, y), rtol=0, atol=TOLERANCE_M)


def test_sign_follows_the_facing_side() -> None:
    """A south-facing straight wall: points south are seaward (negative), north landward, on it zero."""
    index = SeawallIndex(CONFIG, [segment(1)])
    x0, y0 = np.asarray(index.lines[0].coords)[0]
    x1, _ = np.asarray(index.lines[0].coords)[-1]
    mid = (x0 + x1) / 2
    row = index.signed_distances_xy(np.array([mid, mid, mid]), np.array([y0 - 25.0, y0 + 40.0, y0]))[:, 0]
    assert row[0] == pytest.approx(-25.0, abs=1e-6)
    assert row[1] == pytest.approx(40.0, abs=1e-6)
    assert row[2] == 0.0
    assert not math.isnan(float(row.sum()))


def test_one_point_distances_match_the_rows(pinghu: SeawallIndex) -> None:
    """``distances_one`` (a resident's lookup) gives the row's unsigned distances and the nearest segment's
    signed distance, so the same Exposure, on random points, points on and near the lines and vertices."""
    x, y = _points_near_lines(pinghu, np.random.default_rng(20261201), 600)
    lon = pinghu.proj.lon0_deg + x / (math.radians(1.0) * 6_371_008.8 * math.cos(math.radians(pinghu.proj.lat0_deg)))
    lat = pinghu.proj.lat0_deg + y / (math.radians(1.0) * 6_371_008.8)
    seaward = landward = 0
    for lo, la in zip(lon, lat, strict=True):
        row = pinghu.signed_distances(float(lo), float(la))[0]
        absd, j, signed = pinghu.distances_one(float(lo), float(la))
        np.testing.assert_allclose(absd, np.abs(row), rtol=0, atol=TOLERANCE_M)
        assert j == int(np.argmin(np.abs(row)))
        assert math.isclose(signed, float(row[j]), rel_tol=0, abs_tol=TOLERANCE_M)
        assert exposure_from_distances(pinghu, absd, j, signed) == exposure_from_row(pinghu, row)
        assert locate(pinghu, float(lo), float(la)) == exposure_from_row(pinghu, row)
        seaward += signed < 0
        landward += signed > 0
    assert seaward > 50 and landward > 50  # both sides were exercised

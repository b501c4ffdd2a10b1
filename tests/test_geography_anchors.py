"""The geography where the points are (issue 13): every anchor of the domain brief lies on the seawall
within the error the data README states, and points behind the wall resolve to the zone they are in."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from haixun.data.geography import load_geography
from haixun.data.riskspecs import segment_specs
from haixun.riskcode import SeawallIndex, locate
from tests.support.riskcode import CONFIG
from tools import build_geojson

# The domain brief's "Geography" anchors (/work/shared/domain/README.md), copied here so that the
# test does not depend on a file outside the repository: (lon, lat), all on the shoreline.
BRIEF = {
    "Zhapu port / Zhapu town centre": (121.0911, 30.6058),
    "Jiulongshan (scenic headland)": (121.14, 30.595),
    "Dushangang (industrial port)": (121.20, 30.63),
    "Border with Jinshan district (east end)": (121.26, 30.67),
    "Border with Haiyan county (west end)": (121.03, 30.57),
}
README = Path(__file__).resolve().parents[1] / "haixun" / "data" / "README.md"


@pytest.fixture(scope="module")
def index() -> SeawallIndex:
    return SeawallIndex(CONFIG, segment_specs(load_geography()))


def _stated_error_m() -> float:
    """The position error the data README states for the brief's anchors ("within N m")."""
    m = re.search(r"passes within (\d+) m of every anchor", README.read_text(encoding="utf-8"))
    assert m, "haixun/data/README.md must state the anchors' position error"
    return float(m.group(1))


def test_readme_states_the_generator_tolerance() -> None:
    assert _stated_error_m() == build_geojson.ANCHOR_TOLERANCE_M
    assert {build_geojson.ANCHORS[k] for k in build_geojson.BRIEF_ANCHORS} == set(BRIEF.values())


@pytest.mark.parametrize("name", sorted(BRIEF))
def test_every_brief_anchor_lies_on_the_wall(index: SeawallIndex, name: str) -> None:
    lon, lat = BRIEF[name]
    exp = locate(index, lon, lat)
    assert abs(exp.distance_m) <= _stated_error_m(), f"{name}: {exp.distance_m:.0f} m from the crest line"


def _behind(index: SeawallIndex, lon: float, lat: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` landward of the anchor (lon, lat) itself, along the nearest segment's normal
    (``orientation_deg`` is the direction the wall faces, to sea)."""
    seg = next(s for s in segment_specs(load_geography()) if s.id == locate(index, lon, lat).nearest_segment_id)
    back = math.radians((seg.orientation_deg + 180.0) % 360.0)
    k = 6_371_008.8 * math.pi / 180.0
    return (lon + metres * math.sin(back) / (k * math.cos(math.radians(lat))), lat + metres * math.cos(back) / k)


def test_headland_anchor_is_on_the_wall_not_zone_d(index: SeawallIndex) -> None:
    """Issue 13: (30.595 N, 121.14 E) resolved to zone D at 1,320 m: it is the headland's crest."""
    exp = locate(index, 121.14, 30.595)
    assert exp.zone in ("A", "B") and abs(exp.distance_m) < 150


@pytest.mark.parametrize("name", ["Zhapu port / Zhapu town centre", "Jiulongshan (scenic headland)",
                                  "Dushangang (industrial port)"])
def test_a_point_100_m_behind_the_wall_is_zone_b(index: SeawallIndex, name: str) -> None:
    """Issue 13: a point 100 m behind the Zhapu wall resolved to zone C at 770 m."""
    lon, lat = _behind(index, *BRIEF[name], 100.0)
    exp = locate(index, lon, lat)
    tol = _stated_error_m()
    assert exp.zone == "B" and 100 - tol <= exp.distance_m <= 100 + tol, (exp.zone, exp.distance_m)

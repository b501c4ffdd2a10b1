"""The packaged Pinghu geography and its validator (no database)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point

from haixun.data.geography import (
    LEVEL_NAMES,
    GeographyError,
    load_geography,
    parse_geography,
    read_document,
    validate,
)
from haixun.data.projection import PINGHU
from tools import build_geojson


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return read_document()[0]


def _features(doc: dict[str, Any], layer: str) -> list[dict[str, Any]]:
    return [f for f in doc["features"] if f["properties"]["layer"] == layer]


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _refusal(tmp_path: Path, doc: dict[str, Any]) -> str:
    with pytest.raises(GeographyError) as info:
        load_geography(_write(tmp_path, doc))
    return str(info.value)


def test_packaged_file_validates() -> None:
    geo = load_geography()
    assert validate(geo) == []
    assert geo.version
    assert [s.id for s in geo.segments] == [f"PH{i:02d}" for i in range(1, len(geo.segments) + 1)]


def test_seawall_length_and_shape() -> None:
    geo = load_geography()
    total = geo.seawall_length_m()
    assert 25_000 <= total <= 29_000
    assert 25 <= len(geo.segments) <= 29
    wall = geo.seawall()
    assert wall.is_simple
    # several vertices per km, and clearly not a straight line between the borders
    assert len(wall.coords) / (total / 1000) >= 4
    start, end = PINGHU.forward(Point(wall.coords[0])), PINGHU.forward(Point(wall.coords[-1]))
    assert total > 1.05 * start.distance(end)
    # ends near the published borders (Haiyan ~121.03E 30.57N, Jinshan ~121.26E 30.67N)
    assert PINGHU.forward(Point(121.03, 30.57)).distance(start) < 1_000
    assert PINGHU.forward(Point(121.26, 30.67)).distance(end) < 1_500


def test_every_segment_has_stations_and_increasing_thresholds() -> None:
    geo = load_geography()
    stations = {s.id: s for s in geo.stations}
    for seg in geo.segments:
        assert "tide_level" in stations[seg.tide_station].quantities, seg.id
        assert "wind_speed" in stations[seg.wind_station].quantities, seg.id
        assert "wave_height" in stations[seg.wave_station].quantities, seg.id
        levels = [getattr(seg.warning_levels, n) for n in LEVEL_NAMES]
        assert levels == sorted(set(levels)), seg.id
        assert 2.5 <= levels[0] and levels[-1] <= 5.5, seg.id  # CN1985, tide around 0 (1.3.0 re-base)
        assert seg.crest_level_m > levels[-1], seg.id
        assert "warning_levels_m" in seg.assumed


def test_layers_are_complete(doc: dict[str, Any]) -> None:
    geo = load_geography()
    kinds = {s.kind for s in geo.stations}
    assert {"tide_gauge", "weather", "wave_buoy"} <= kinds
    assert sum("tide_level" in s.quantities for s in geo.stations) >= 5
    assert 15 <= len(geo.cameras) <= 25 and {c.kind for c in geo.cameras} == {"thermal_ptz", "starlight_dome"}
    assert 15 <= len(geo.shelters) <= 25 and any(not s.open for s in geo.shelters)
    assert 8 <= len(geo.roads) <= 12 and all(r.low_points for r in geo.roads)
    assert all(v.contact is not None and v.contact.sample for v in geo.villages)
    structures = {s.structure for s in geo.segments}
    assert structures == {"sloped_dike", "vertical_wall"}
    for town in geo.towns:
        assert 3 <= sum(v.town_id == town.id for v in geo.villages) <= 6
    # the served area holds Zhapu's town centre and the beach just seaward of the wall, not the open bay
    served = geo.land_boundary.geometry
    assert served.contains(Point(121.0911, 30.6058))
    assert not served.contains(Point(121.14, 30.50))
    # an inland point (Pinghu city centre) resolves to a village of the inland town
    inland = [v for v in geo.villages if v.geometry.contains(Point(121.02, 30.70))]
    assert len(inland) == 1 and inland[0].town_id not in {s.town_id for s in geo.segments}
    # every property of the data model is present on every feature
    required = {"seawall_segment": ["name", "name_en", "town_id", "structure", "crest_level_m", "slope_tan",
                                    "toe_level_m", "foreshore_slope", "roughness_gamma_f", "warning_levels_m",
                                    "tide_station", "wind_station", "wave_station", "orientation_deg"],
                "station": ["kind", "name", "name_en", "quantities", "segment_id", "gateway_id", "elevation_m"],
                "camera": ["kind", "name", "segment_ids", "gateway_id"],
                "town": ["name", "name_en", "population", "population_source"],
                "village": ["town_id", "name", "name_en", "population", "contact"],
                "shelter": ["village_id", "name", "name_en", "capacity", "open", "address"],
                "road": ["name", "name_en", "low_points", "closed"]}
    for layer, keys in required.items():
        for f in _features(doc, layer):
            missing = [k for k in keys + ["id", "assumed"] if k not in f["properties"]]
            assert not missing, (f["properties"]["id"], missing)


def test_villages_tile_their_town() -> None:
    geo = load_geography()
    for town in geo.towns:
        town_m = PINGHU.forward(town.geometry)
        parts = [PINGHU.forward(v.geometry) for v in geo.villages if v.town_id == town.id]
        covered = sum(p.area for p in parts)
        assert covered == pytest.approx(town_m.area, rel=1e-3), town.id


def test_generator_reproduces_packaged_file(doc: dict[str, Any]) -> None:
    assert json.loads(build_geojson.dumps(build_geojson.build_document())) == doc


def test_gap_is_refused(tmp_path: Path, doc: dict[str, Any]) -> None:
    broken = copy.deepcopy(doc)
    seg = _features(broken, "seawall_segment")[5]
    seg["geometry"]["coordinates"] = seg["geometry"]["coordinates"][1:]  # first vertex gone: ~100 m gap
    message = _refusal(tmp_path, broken)
    assert "seawall_segment PH06: starts" in message and "gap" in message


def test_overlap_is_refused(tmp_path: Path, doc: dict[str, Any]) -> None:
    broken = copy.deepcopy(doc)
    segs = _features(broken, "seawall_segment")
    segs[3]["geometry"]["coordinates"] = segs[3]["geometry"]["coordinates"] + segs[4]["geometry"]["coordinates"][1:3]
    assert "PH04 and PH05 overlap" in _refusal(tmp_path, broken)


def test_bad_thresholds_are_refused(tmp_path: Path, doc: dict[str, Any]) -> None:
    broken = copy.deepcopy(doc)
    _features(broken, "seawall_segment")[9]["properties"]["warning_levels_m"] = {
        "blue": 5.5, "yellow": 5.0, "orange": 6.0, "red": 6.5}
    message = _refusal(tmp_path, broken)
    assert "seawall_segment PH10: warning levels must increase blue < yellow < orange < red" in message
    assert "blue=5.5, yellow=5.0" in message


def test_missing_threshold_is_refused(tmp_path: Path, doc: dict[str, Any]) -> None:
    broken = copy.deepcopy(doc)
    _features(broken, "seawall_segment")[10]["properties"]["warning_levels_m"].pop("red")
    message = _refusal(tmp_path, broken)
    assert "seawall_segment PH11: warning_levels_m.red must be a finite number, got None" in message


def test_unknown_station_is_refused(tmp_path: Path, doc: dict[str, Any]) -> None:
    broken = copy.deepcopy(doc)
    segs = _features(broken, "seawall_segment")
    segs[0]["properties"]["tide_station"] = "NOPE-T99"
    segs[1]["properties"]["wave_station"] = segs[1]["properties"]["tide_station"]  # a tide gauge has no waves
    message = _refusal(tmp_path, broken)
    assert "seawall_segment PH01: tide_station 'NOPE-T99' is not a station in the file" in message
    assert "seawall_segment PH02: wave_station" in message and "does not measure wave_height" in message


def test_other_problems_are_listed(tmp_path: Path, doc: dict[str, Any]) -> None:
    broken = copy.deepcopy(doc)
    villages = _features(broken, "village")
    villages[0]["properties"]["town_id"] = "T02"          # lies in T01
    villages[1]["properties"].pop("contact")
    stations = _features(broken, "station")
    stations[1]["properties"]["id"] = stations[0]["properties"]["id"]
    stations[2]["geometry"]["coordinates"] = [122.5, 30.0]  # far out at sea
    message = _refusal(tmp_path, broken)
    assert f"village {villages[0]['properties']['id']}: not inside its town T02" in message
    assert f"village {villages[1]['properties']['id']}: no community contact" in message
    assert f"station: id {stations[0]['properties']['id']!r} is used more than once" in message
    assert "km from the served area" in message


def test_structurally_broken_file_is_refused(tmp_path: Path, doc: dict[str, Any]) -> None:
    broken = copy.deepcopy(doc)
    seg = _features(broken, "seawall_segment")[0]
    seg["properties"].pop("crest_level_m")
    seg["geometry"] = {"type": "Point", "coordinates": [121.0, 30.5]}
    broken["features"].append({"type": "Feature", "geometry": None, "properties": {"layer": "lighthouse", "id": "X"}})
    with pytest.raises(GeographyError) as info:
        parse_geography(broken, "test")
    assert "seawall_segment PH01: missing property 'crest_level_m'" in info.value.problems
    assert "seawall_segment PH01: geometry must be a LineString, got 'Point'" in info.value.problems
    assert any("unknown layer 'lighthouse'" in p for p in info.value.problems)
    path = tmp_path / "not.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(GeographyError, match="not valid JSON"):
        load_geography(path)


def test_served_area_includes_beach_strip() -> None:
    geo = load_geography()
    served = PINGHU.forward(geo.land_boundary.geometry)
    for seg in geo.segments:
        wall = PINGHU.forward(seg.geometry)
        mid = wall.interpolate(0.5, normalized=True)
        a = math.radians(seg.orientation_deg)
        seaward_200 = Point(mid.x + 200 * math.sin(a), mid.y + 200 * math.cos(a))
        seaward_600 = Point(mid.x + 600 * math.sin(a), mid.y + 600 * math.cos(a))
        landward_500 = Point(mid.x - 500 * math.sin(a), mid.y - 500 * math.cos(a))
        assert served.contains(seaward_200), seg.id
        assert not served.contains(seaward_600), seg.id
        assert served.contains(landward_500), seg.id

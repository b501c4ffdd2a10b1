"""Codes per hazard (issue 13): flood and wind have their own location rules and advice; flood exposure
from the ground's elevation vs the expected water; the resident API returns them."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.api.geo import ServedGeography
from haixun.api.risk import OpsStatus, assess_location
from haixun.data.geography import load_geography
from haixun.riskcode import Level, ShorelineInputs, evaluate_shoreline
from haixun.riskcode.geometry import Exposure, Ground, hazard_codes
from haixun.riskcode.levels import Status
from haixun.riskcode.model import Observation
from haixun.riskcode.segment import evaluate_segment
from tests.support.riskcode import CONFIG, NOW, obs_for, segment

COLOURS = [Level.NONE, Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED]


def _codes(zone: str, flood: Level, wind: Level, ground: Ground | None = None, water: float | None = None):
    e = Exposure(zone, {"A": -50.0, "B": 100.0, "C": 500.0, "D": 2000.0, "E": 3500.0}[zone], "PH01", ("PH01",))
    return hazard_codes(CONFIG, e, {"flood": {"PH01": Status(flood)}, "wind": {"PH01": Status(wind)},
                                    "red_tide": {"PH01": Status(Level.NONE)}}, ground, water)


def test_wind_red_tells_people_to_stay_sheltered_not_to_evacuate() -> None:
    for zone in ("B", "C"):
        hc = _codes(zone, Level.NONE, Level.RED)
        assert hc.combined == Status(Level.RED) and hc.by_hazard["flood"].code == Status(Level.NONE)
        text = " ".join(hc.advice_en)
        assert "stay sheltered" in text and "away from windows" in text and "evacuate now" not in text
    # inland too: the signal covers the area (the single matrix gave red x E = yellow)
    assert _codes("E", Level.NONE, Level.RED).by_hazard["wind"].code == Status(Level.RED)


def test_flood_red_in_low_ground_far_inland_is_red_with_move_before_the_water() -> None:
    low = _codes("E", Level.RED, Level.NONE, Ground(2.6, "road R07 low point"), 4.8)
    f = low.by_hazard["flood"]
    assert f.code == Status(Level.RED) and f.zone == "B" and f.low_ground is True
    assert "before the water arrives" in " ".join(low.advice_en)
    # the same place without elevation data: distance alone (red x E = yellow); high ground: yellow
    assert _codes("E", Level.RED, Level.NONE).by_hazard["flood"].code == Status(Level.YELLOW)
    high = _codes("E", Level.RED, Level.NONE, Ground(6.0, "village"), 4.8).by_hazard["flood"]
    assert high.code == Status(Level.YELLOW) and high.low_ground is False
    # below red the distance matrix applies (flood_exposure.min_level = red)
    assert _codes("E", Level.ORANGE, Level.NONE, Ground(2.6, "x"), 4.3).by_hazard["flood"].code == Status(Level.BLUE)


def test_both_severe_gives_both_pieces_of_advice_and_how_to_choose() -> None:
    hc = _codes("B", Level.RED, Level.ORANGE, Ground(2.0, "x"), 4.8)
    text = " ".join(hc.advice_en)
    assert hc.combined == Status(Level.RED)
    assert "before the water arrives" in text and "Wind orange" in text and "only while it is still safe outside" in text


def test_unknown_flood_never_shows_a_safe_colour() -> None:
    e = Exposure("E", 3500.0, "PH01", ("PH01",))
    hc = hazard_codes(CONFIG, e, {"flood": {"PH01": Status(Level.UNKNOWN, Level.ORANGE)},
                                  "wind": {"PH01": Status(Level.NONE)}}, None, None)
    assert hc.by_hazard["flood"].code.is_unknown and hc.combined.is_unknown
    # a segment missing from the group is unknown
    assert hazard_codes(CONFIG, e, {"wind": {"PH01": Status(Level.NONE)}}).by_hazard["flood"].code.is_unknown


@settings(max_examples=400, deadline=None)
@given(zone=st.sampled_from(["A", "B", "C", "D", "E"]), l1=st.sampled_from(COLOURS), l2=st.sampled_from(COLOURS),
       w1=st.floats(-1.0, 8.0), dw=st.floats(0.0, 4.0), ground=st.one_of(st.none(), st.floats(-1.0, 8.0)),
       known_water=st.booleans())
def test_more_water_never_lowers_the_flood_code(zone: str, l1: Level, l2: Level, w1: float, dw: float,
                                                ground: float | None, known_water: bool) -> None:
    lo, hi = sorted([l1, l2], key=lambda lv: lv.rank)
    g = None if ground is None else Ground(ground, "t")
    a = _codes(zone, lo, Level.NONE, g, w1 if known_water else None).by_hazard["flood"].code
    b = _codes(zone, hi, Level.NONE, g, w1 + dw if known_water else None).by_hazard["flood"].code
    assert b.severity >= a.severity


def test_segment_keeps_flood_and_wind_apart() -> None:
    seg = segment(1, crest=20.0)
    o = obs_for(1, tide=0.5, hs=0.3, wind=33.0, gust=40.0)  # force 12 mean: wind red, calm sea
    d = evaluate_segment(CONFIG, seg, o, None, [], [], NOW)
    assert d.hazard_status["wind"] == Status(Level.RED) and d.hazard_status["flood"] == Status(Level.NONE)
    dead = evaluate_segment(CONFIG, seg, obs_for(1, tide=None, hs=0.3, wind=33.0, gust=40.0), None, [], [], NOW)
    assert dead.hazard_status["flood"].is_unknown and dead.hazard_status["wind"] == Status(Level.RED)


def test_each_hazard_has_its_own_hysteresis_in_the_state() -> None:
    seg = segment(1, crest=20.0)
    r1 = evaluate_shoreline(CONFIG, [seg], ShorelineInputs(obs_for(1, tide=0.5, hs=0.3, wind=33.0, gust=40.0)),
                            None, NOW)
    later = NOW + timedelta(minutes=10)
    calm = obs_for(1, tide=0.5, hs=0.3, wind=3.0, gust=4.0, ts=later)
    r2 = evaluate_shoreline(CONFIG, [seg], ShorelineInputs(calm), r1.state, later)
    levels = r2.segments["PH01"].to_dict()["hazard_levels"]
    assert levels["wind"]["level"] == "red" and levels["wind"]["raw_level"] == "none"   # held for the dwell
    assert levels["flood"]["level"] == "none"
    again = type(r2.state).from_dict(r2.state.to_dict())
    assert again.segments["PH01"].groups["wind"].level is Level.RED


def _state(entries: dict) -> dict:
    return {"segments": entries, "seq": 1, "at": NOW.isoformat()}


def _entry(flood: str, wind: str, *, freeboard: float | None = None, crest: float = 8.0,
           forecast: float | None = None, water: float | None = None, water_level: str | None = None) -> dict:
    """A state entry as the engine writes it; ``water``: the storm tide reason (observed still water,
    level ``water_level``, default the flood level)."""
    combined = max([flood, wind], key=lambda x: Level(x).rank)
    hazards = []
    if water is not None:
        hazards.append({"hazard": "storm_tide", "level": water_level or flood, "value": water, "unit": "m"})
    if forecast is not None:
        hazards.append({"hazard": "storm_tide_forecast", "level": flood, "value": forecast, "unit": "m"})
    return {"level": combined, "raw_level": combined, "since": NOW.isoformat(), "decided_at": NOW.isoformat(),
            "hazards": hazards, "freeboard_m": freeboard,
            "hazard_levels": {"flood": {"level": flood, "floor": flood}, "wind": {"level": wind, "floor": wind},
                              "red_tide": {"level": "none", "floor": "none"}}}


def test_resident_api_returns_codes_per_hazard_with_safe_advice() -> None:
    geo = load_geography()
    served = ServedGeography.build(geo)
    seawall = served.seawall(CONFIG)
    ops = OpsStatus({}, {})
    # the road R07 low point 3.1 km behind the Dushangang wall (zone E), ground 2.6 m
    lp = next(lp for r in geo.roads if r.id == "R07" for lp in r.low_points if lp.ground_level_m == 2.6)
    crest = {s.id: s.crest_level_m for s in geo.segments}
    near = ("PH19", "PH20", "PH21", "PH22")
    red_flood = _state({sid: _entry("red", "none", freeboard=crest[sid] - 4.8, water=4.8) for sid in near})
    body = assess_location(served, seawall, CONFIG, red_flood, ops, lp.lat, lp.lon, "en", NOW)
    assert body["zone"]["id"] == "E"
    assert body["code"] == "red" and body["hazard_codes"]["flood"]["code"] == "red"
    assert body["hazard_codes"]["flood"]["low_ground"] is True
    assert body["hazard_codes"]["flood"]["ground_level_m"] == 2.6
    assert body["hazard_codes"]["flood"]["water_level_m"] == 4.8
    assert "before the water arrives" in body["advice"]["text"]
    # a flood red from waves over the quay walls while the water is orange (4.42 m, the replay's night of
    # 25 July): the sea is not above the land behind; the distance rule applies (red x E), not zone B
    quay_red = _state({sid: _entry("red", "none", freeboard=crest[sid] - 4.42, water=4.42, water_level="orange")
                       for sid in near})
    body = assess_location(served, seawall, CONFIG, quay_red, ops, lp.lat, lp.lon, "en", NOW)
    assert body["hazard_codes"]["flood"]["low_ground"] is None
    assert body["hazard_codes"]["flood"]["code"] == CONFIG.code(Level.RED, "E").value
    assert "before the water arrives" not in body["advice"]["text"]
    # wind red, calm sea, 100 m behind the wall at Zhapu: stay sheltered, never "evacuate now"
    zp = {s.id: _entry("none", "red", freeboard=crest[s.id] - 1.0) for s in geo.segments}
    body = assess_location(served, seawall, CONFIG, _state(zp), ops, 30.6067, 121.0911, "en", NOW)
    assert body["code"] == "red" and body["hazard_codes"]["wind"]["code"] == "red"
    assert body["hazard_codes"]["flood"]["code"] == "none"
    assert "stay sheltered" in body["advice"]["text"] and "evacuate now" not in body["advice"]["text"]
    zh = assess_location(served, seawall, CONFIG, _state(zp), ops, 30.6067, 121.0911, "zh", NOW)
    assert "远离门窗" in zh["advice"]["text"]


def _geo_segments():
    from haixun.data.riskspecs import segment_specs
    return segment_specs(load_geography())


GEO_SEGMENTS = _geo_segments()


@settings(max_examples=400, deadline=None)
@given(k=st.integers(0, len(GEO_SEGMENTS) - 1), tide=st.floats(-3.0, 9.0), dt=st.floats(0.0, 3.0),
       hs=st.floats(0.0, 5.0), dh=st.floats(0.0, 2.0), tp=st.floats(2.0, 12.0))
def test_more_water_never_lowers_a_segments_flood_status(k: int, tide: float, dt: float, hs: float, dh: float,
                                                         tp: float) -> None:
    """Higher still water and higher waves at a real section (berm, wave wall, impulsive quay walls)
    never lower the segment's flood status."""
    seg = GEO_SEGMENTS[k]

    def flood(t: float, h: float) -> Status:
        o: dict[str, dict[str, Observation]] = {}
        o.setdefault(seg.tide_station, {})["tide_level"] = Observation(t, NOW)
        o.setdefault(seg.wave_station, {}).update(wave_height=Observation(h, NOW), wave_period=Observation(tp, NOW))
        o.setdefault(seg.wind_station, {}).update(wind_speed=Observation(3.0, NOW), wind_gust=Observation(4.0, NOW))
        return evaluate_segment(CONFIG, seg, o, None, [], [], NOW, {seg.wave_station: "Tm-1,0"}).hazard_status["flood"]

    assert flood(tide + dt, hs + dh).severity >= flood(tide, hs).severity


def test_a_wind_red_is_red_in_every_village_as_for_the_people_in_it() -> None:
    """Issue 13 (codes per hazard) at the village tier: the roll-up used the single-colour matrix, so a
    wind red at PH03 gave the village 1.2-1.7 km behind it (zone D) orange, while every resident in it
    gets red ("stay sheltered"). Village code = worst location code of its points: red. A flood red
    alone keeps the distance rule (red x D = orange)."""
    from tests.support.riskcode import AREAS, SEGS

    def village_levels(tide: float, wind: float, gust: float) -> dict[str, Level]:
        obs = {}
        for i in (1, 2, 3):
            obs.update(obs_for(i, tide=tide, hs=0.3, wind=wind, gust=gust))
        r = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(obs), None, NOW, AREAS)
        assert r.rollup is not None
        return {k: v.level for k, v in r.rollup.villages.items()}

    wind_red = village_levels(0.5, 33.0, 40.0)  # force 12 mean: wind red, calm sea
    assert wind_red == {"V1": Level.RED, "V2": Level.RED, "V3": Level.RED}
    flood_red = village_levels(4.8, 3.0, 4.0)    # 4.8 m >= red 4.7, calm wind
    assert flood_red["V1"] is Level.RED and flood_red["V2"] is CONFIG.code(Level.RED, "D") is Level.ORANGE
    assert flood_red["V3"] is CONFIG.code(Level.RED, "E")


def test_a_village_on_low_ground_behind_a_flood_red_rolls_up_red_as_its_residents_get_it() -> None:
    """Issue 13 (exposure from ground elevation, not distance alone) at the village tier: a resident on
    ground below the expected water gets the flood red wherever the point is (zone B), yet the roll-up
    went by distance alone, so village V3 (> 3 km, zone E) on 2.6 m ground behind a 4.8 m red stayed
    yellow. Now its code is red with the lowest ground the geography knows in it; the same village on
    high ground keeps the distance rule (red x E = yellow), and below red nothing changes."""
    from dataclasses import replace

    from haixun.riskcode import AreaIndex
    from tests.support.riskcode import INDEX, SEGS, TOWNS, VILLAGES

    def v3(ground: float | None, tide: float, hs: float = 0.3) -> Level:
        villages = [replace(v, ground=None if ground is None else Ground(ground, "village V3")) if v.id == "V3"
                    else v for v in VILLAGES]
        areas = AreaIndex.build(CONFIG, INDEX, villages, TOWNS)
        obs = {}
        for i in (1, 2, 3):
            obs.update(obs_for(i, tide=tide, hs=hs, wind=3.0, gust=4.0))
        r = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(obs), None, NOW, areas)
        assert r.rollup is not None
        return r.rollup.villages["V3"].level

    assert v3(2.6, 4.8) is Level.RED                                  # 2.6 < 4.8 + 0.5: low ground
    assert v3(None, 4.8) is v3(9.0, 4.8) is CONFIG.code(Level.RED, "E")  # distance alone / high ground
    assert v3(2.6, 4.45) is CONFIG.code(Level.ORANGE, "E")            # orange: the distance matrix applies
    # a flood red from 6 m waves while the water is orange (4.45 m): the sea is not above the village,
    # the distance rule applies (before the water-level condition, every low village 3-10 km inland went red)
    assert v3(2.6, 4.45, hs=6.0) is CONFIG.code(Level.RED, "E")


@settings(max_examples=40, deadline=None)
@given(ground=st.floats(-1.0, 8.0), tide=st.floats(0.0, 6.0), dt=st.floats(0.0, 1.5))
def test_more_water_or_lower_ground_never_lowers_a_village_code(ground: float, tide: float, dt: float) -> None:
    from dataclasses import replace

    from haixun.riskcode import AreaIndex
    from tests.support.riskcode import INDEX, SEGS, TOWNS, VILLAGES

    def level(g: float, t: float) -> int:
        villages = [replace(v, ground=Ground(g, "village")) for v in VILLAGES]
        areas = AreaIndex.build(CONFIG, INDEX, villages, TOWNS)
        obs = {}
        for i in (1, 2, 3):
            obs.update(obs_for(i, tide=t, hs=0.3, wind=3.0, gust=4.0))
        r = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(obs), None, NOW, areas)
        assert r.rollup is not None
        return max(v.status.severity for v in r.rollup.villages.values())

    assert level(ground, tide + dt) >= level(ground, tide)
    assert level(ground - dt, tide) >= level(ground, tide)

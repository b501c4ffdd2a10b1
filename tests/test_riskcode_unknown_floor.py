"""Issue 12: an unknown key hazard is never hidden by a lower known colour.

A status is a level with its floor ("unknown, at least blue"); the dwell never
steps down to a colour while the raw level is unknown; roll-ups and location
codes treat unknown-with-floor as at least its floor (docs/riskcode.md
"Unknown and its floor")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.riskcode import AreaIndex, AreaSpec, FeedItem, SeawallIndex, ShorelineInputs, evaluate_shoreline, step
from haixun.riskcode.config import ZONES
from haixun.riskcode.geometry import location_code
from haixun.riskcode.levels import WARNING_LEVELS, Level, Status, combine
from haixun.riskcode.model import Observation
from haixun.riskcode.rollup import roll_up
from haixun.riskcode.segment import evaluate_segment
from tests.support.riskcode import CONFIG, NOW, obs_for, segment

DWELL = CONFIG.hysteresis.dwell_s
SEG = segment(1, crest=20.0)
COLOURS = [Level.NONE, *WARNING_LEVELS]
statuses = st.one_of(st.sampled_from([Status(c) for c in COLOURS]),
                     st.sampled_from([Status(Level.UNKNOWN, c) for c in COLOURS]))


def _stale(o: dict, station: str, quantity: str) -> None:
    v = o[station][quantity]
    o[station][quantity] = Observation(v.value, NOW - timedelta(hours=2), v.qc)


def _feed(level: Level, fid: str = "F1") -> FeedItem:
    return FeedItem(fid, "Zhejiang Marine Forecast Station", "surge_forecast", level,
                    NOW - timedelta(hours=1), NOW + timedelta(hours=6), "")


def test_unknown_storm_tide_with_blue_wind_is_unknown_at_least_blue() -> None:
    """The Zhapu case of issue 12: storm tide stale, gale-blue wind -> never plain blue."""
    o = obs_for(1, tide=4.0, hs=0.5, wind=11.0, gust=12.0)  # force 6 mean: gale blue
    _stale(o, "T01", "tide_level")
    d = evaluate_segment(CONFIG, SEG, o, None, [], [], NOW)
    assert next(r for r in d.hazards if r.hazard == "wind").level is Level.BLUE
    assert d.raw == Status(Level.UNKNOWN, Level.BLUE)
    assert d.raw.label == "unknown, at least blue"
    assert d.unknown_hazards == ("storm_tide",)
    assert not d.sensors_offline and d.sensors_offline_since is None


def test_red_bulletin_with_all_sensors_offline_is_red_official_only() -> None:
    o = obs_for(1, tide=4.0, hs=0.5, ts=NOW - timedelta(hours=2))
    d = evaluate_segment(CONFIG, SEG, o, None, [], [_feed(Level.RED)], NOW)
    assert d.raw == Status(Level.RED)  # nothing is worse than red: unknown over red is red
    assert set(d.unknown_hazards) == {"storm_tide", "wave", "wind"}
    assert d.sensors_offline and d.official_only and d.sensors_offline_since == NOW - timedelta(hours=2)
    # an orange bulletin with offline sensors: unknown, at least orange (and still official only)
    d = evaluate_segment(CONFIG, SEG, o, None, [], [_feed(Level.ORANGE)], NOW)
    assert d.raw == Status(Level.UNKNOWN, Level.ORANGE) and d.official_only


@settings(max_examples=150, deadline=None)
@given(tide=st.one_of(st.none(), st.floats(0.0, 8.0)), hs=st.one_of(st.none(), st.floats(0.0, 6.0)),
       wind=st.one_of(st.none(), st.floats(0.0, 45.0)), official=st.sampled_from(COLOURS))
def test_unknown_key_hazard_never_yields_a_plain_colour_below_the_floor(tide, hs, wind, official) -> None:
    o = obs_for(1, tide=tide, hs=hs, wind=wind, gust=None if wind is None else wind * 1.3)
    d = evaluate_segment(CONFIG, SEG, o, None, [], [_feed(official)] if official is not Level.NONE else [], NOW)
    known = [r.level for r in d.hazards if r.level is not Level.UNKNOWN]
    floor = combine(known).floor
    assert d.raw.floor is floor  # the floor is the worst known level, official included
    if d.unknown_hazards:
        # unknown with its floor; a plain colour only when it is red (nothing can be worse)
        assert d.raw.is_unknown or d.raw.level is Level.RED
    else:
        assert d.raw == Status(floor)


def test_dwell_never_steps_down_to_a_colour_while_raw_is_unknown() -> None:
    """Issue 12's PH05: red held, a blue glimpse, then every input stale -> today it stepped to blue."""
    s, _ = step(None, Level.RED, NOW, DWELL)
    s, _ = step(s, Level.BLUE, NOW + timedelta(minutes=1), DWELL)
    assert s.status == Status(Level.RED)
    shown = []
    for m in range(2, 100, 2):
        s, _ = step(s, Level.UNKNOWN, NOW + timedelta(minutes=m), DWELL)
        shown.append(s.status)
    assert all(x.is_unknown or x.level is Level.RED for x in shown), [x.label for x in shown]
    assert Status(Level.BLUE) not in shown
    assert shown[-1] == Status(Level.UNKNOWN)  # the floor decays after the dwell, the unknown stays


def test_data_lost_is_shown_at_once_with_the_held_floor() -> None:
    s, _ = step(None, Level.ORANGE, NOW, DWELL)
    s, ch = step(s, Status(Level.UNKNOWN, Level.BLUE), NOW + timedelta(minutes=1), DWELL)
    assert ch and s.status == Status(Level.UNKNOWN, Level.ORANGE)
    s, ch = step(s, Status(Level.UNKNOWN, Level.BLUE), NOW + timedelta(minutes=32), DWELL)
    assert ch and s.status == Status(Level.UNKNOWN, Level.BLUE)
    s, ch = step(s, Level.BLUE, NOW + timedelta(minutes=33), DWELL)  # data back at the same floor: at once
    assert ch and s.status == Status(Level.BLUE)


@settings(max_examples=150, deadline=None)
@given(seq=st.lists(st.tuples(statuses, st.integers(1, 900)), min_size=1, max_size=40))
def test_dwell_properties_with_floors(seq) -> None:
    t, state = NOW, None
    for raw, dt in seq:
        t = t + timedelta(seconds=dt)
        state, _ = step(state, raw, t, DWELL)
        assert state.status.severity >= Status(raw.floor).severity  # never below the raw floor
        if raw.is_unknown:
            assert state.status.is_unknown or state.level is Level.RED  # never a colour while raw is unknown


def test_status_order_and_combine() -> None:
    order = [Status(Level.NONE), Status(Level.UNKNOWN), Status(Level.BLUE), Status(Level.UNKNOWN, Level.BLUE),
             Status(Level.YELLOW), Status(Level.UNKNOWN, Level.YELLOW), Status(Level.ORANGE),
             Status(Level.UNKNOWN, Level.ORANGE), Status(Level.RED)]
    assert [s.severity for s in order] == sorted(s.severity for s in order)
    assert Status(Level.UNKNOWN, Level.RED) == Status(Level.RED)
    assert combine([Level.BLUE, Status(Level.UNKNOWN)]) == Status(Level.UNKNOWN, Level.BLUE)
    assert combine([Level.ORANGE, Status(Level.UNKNOWN, Level.BLUE)]) == Status(Level.UNKNOWN, Level.ORANGE)
    assert combine([Level.RED, Status(Level.UNKNOWN)]) == Status(Level.RED)
    assert combine([]) == Status(Level.NONE)
    with pytest.raises(ValueError):
        Status(Level.BLUE, Level.RED)


SEGS = [segment(i) for i in range(1, 4)]
INDEX = SeawallIndex(CONFIG, SEGS)


@settings(max_examples=80, deadline=None)
@given(floor=st.sampled_from(COLOURS), dlat=st.floats(-0.004, 0.05), lon=st.floats(121.031, 121.053))
def test_location_code_of_an_unknown_segment_is_at_least_the_floor_code(floor, dlat, lon) -> None:
    levels = {s.id: Status(Level.UNKNOWN, floor) for s in SEGS}
    lc = location_code(CONFIG, INDEX, lon, 30.6 + dlat, levels)
    assert lc.status.severity >= CONFIG.code_status(Status(floor), lc.zone).severity
    assert lc.status.floor.rank >= CONFIG.code(floor, lc.zone).rank
    if lc.code is not Level.UNKNOWN:  # a colour only for a red segment (or where the unknown row is a colour)
        assert lc.code is Level.RED or floor is Level.RED or CONFIG.code(Level.UNKNOWN, lc.zone) is not Level.UNKNOWN


def test_resident_behind_unknown_segment_is_never_plain_blue() -> None:
    lc = location_code(CONFIG, INDEX, 121.035, 30.6015, {"PH01": Status(Level.UNKNOWN, Level.BLUE),
                                                        "PH02": Level.BLUE, "PH03": Level.BLUE})
    assert lc.zone == "B" and lc.code is Level.UNKNOWN and lc.floor.is_warning
    assert lc.to_dict()["label"].startswith("unknown, at least")


def _ring(lon0: float, lat0: float, lon1: float, lat1: float):
    return ((lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1), (lon0, lat0))


def test_rollup_counts_unknown_with_floor_at_least_its_floor() -> None:
    villages = [AreaSpec("V1", "village", _ring(121.031, 30.6005, 121.037, 30.604), "T1", 1200),
                AreaSpec("V2", "village", _ring(121.049, 30.6005, 121.053, 30.604), "T1", 800)]
    towns = [AreaSpec("T1", "town", _ring(121.03, 30.6, 121.054, 30.62))]
    areas = AreaIndex.build(CONFIG, INDEX, villages, towns)
    ru = roll_up(CONFIG, areas, {"PH01": Status(Level.UNKNOWN, Level.ORANGE), "PH02": Level.BLUE,
                                 "PH03": Level.BLUE})
    v1 = ru.villages["V1"]
    assert v1.level is Level.UNKNOWN and v1.floor.rank >= Level.ORANGE.rank
    assert ru.towns["T1"].status.is_unknown and ru.towns["T1"].floor.rank >= Level.ORANGE.rank
    assert ru.city.status.is_unknown and ru.city.floor.rank >= Level.ORANGE.rank  # never a plain blue city
    assert ru.city.floor_counts[v1.floor.value] >= 1 and ru.city.counts["unknown"] >= 1
    # a red segment makes the city red, unknown or not
    ru = roll_up(CONFIG, areas, {"PH01": Status(Level.UNKNOWN), "PH02": Level.BLUE, "PH03": Level.RED})
    assert ru.city.status == Status(Level.RED)


def test_shoreline_red_bulletin_offline_sensors_stays_red_everywhere() -> None:
    """No missed red: sensors stale + red bulletin -> red segments, red roll-up, red code, flags set."""
    villages = [AreaSpec("V1", "village", _ring(121.031, 30.6005, 121.037, 30.604), "T1", 1200)]
    towns = [AreaSpec("T1", "town", _ring(121.03, 30.6, 121.054, 30.62))]
    areas = AreaIndex.build(CONFIG, INDEX, villages, towns)
    obs: dict = {}
    for i in range(1, 4):
        obs.update(obs_for(i, ts=NOW - timedelta(hours=1)))
    r = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(obs, feeds=[_feed(Level.RED)]), None, NOW, areas)
    for sid, seg in r.segments.items():
        d = seg.to_dict()
        assert d["level"] == "red" and d["official_only"] and d["sensors_offline"], sid
        assert d["sensors_offline_since"] == (NOW - timedelta(hours=1)).isoformat()
        assert set(d["unknown_hazards"]) == {"storm_tide", "wave", "wind"}
    assert r.rollup is not None and r.rollup.city.status == Status(Level.RED)
    for zone in ZONES:
        assert CONFIG.code_status(r.segments["PH01"].status, zone).level is CONFIG.code(Level.RED, zone)


@settings(max_examples=30, deadline=None)
@given(seq=st.lists(st.tuples(st.one_of(st.none(), st.floats(0.0, 8.0)), st.sampled_from(COLOURS),
                              st.integers(60, 1200)), min_size=1, max_size=15))
def test_shoreline_never_shows_a_plain_colour_while_storm_tide_unknown_and_never_below_official(seq) -> None:
    """Through evaluate_shoreline (dwell, official on top): tide None = the gauge is silent."""
    seg = [segment(1, crest=20.0)]
    t, state, last_tide = NOW, None, 4.0
    for tide, official, dt in seq:
        t = t + timedelta(seconds=dt)
        o = obs_for(1, tide=last_tide if tide is None else tide, hs=0.3, ts=t)
        if tide is None:
            o["T01"]["tide_level"] = Observation(last_tide, t - timedelta(hours=1))
        else:
            last_tide = tide
        feeds = [] if official is Level.NONE else [FeedItem("F", "x", "surge_forecast", official,
                                                            t - timedelta(minutes=1), t + timedelta(hours=1))]
        r = evaluate_shoreline(CONFIG, seg, ShorelineInputs(o, feeds=feeds), state, t)
        state = r.state
        shown = r.segments["PH01"].status
        assert shown.floor.rank >= official.rank  # an official level is never lost
        if tide is None:
            assert shown.is_unknown or shown.level is Level.RED, (shown.label, official)

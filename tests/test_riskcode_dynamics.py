"""Hysteresis sequences, overrides, zones/matrix properties, shoreline roll-up."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.riskcode import (
    Override,
    ShorelineInputs,
    evaluate_shoreline,
    locate,
    location_code,
    step,
)
from haixun.riskcode.config import ZONES
from haixun.riskcode.geometry import exposure_zone
from haixun.riskcode.levels import Level, Status, worst
from tests.support.riskcode import AREAS, CONFIG, INDEX, NOW, SEGS, obs_for, segment

DWELL = 1800.0
levels = st.sampled_from(list(Level))


def test_upgrade_immediate_downgrade_after_dwell() -> None:
    s, ch = step(None, Level.YELLOW, NOW, DWELL)
    assert ch and s.level is Level.YELLOW
    s, ch = step(s, Level.RED, NOW + timedelta(minutes=1), DWELL)
    assert ch and s.level is Level.RED
    s, ch = step(s, Level.BLUE, NOW + timedelta(minutes=2), DWELL)
    assert not ch and s.level is Level.RED and s.below_since == NOW + timedelta(minutes=2)
    s, ch = step(s, Level.ORANGE, NOW + timedelta(minutes=20), DWELL)
    assert not ch and s.level is Level.RED
    s, ch = step(s, Level.BLUE, NOW + timedelta(minutes=32), DWELL)
    # dwell elapsed: goes to the highest raw seen while waiting (orange), a new wait starts for blue
    assert ch and s.level is Level.ORANGE and s.below_since == NOW + timedelta(minutes=32)
    s, ch = step(s, Level.BLUE, NOW + timedelta(minutes=62), DWELL)
    assert ch and s.level is Level.BLUE


def test_raw_back_up_resets_wait() -> None:
    s, _ = step(None, Level.ORANGE, NOW, DWELL)
    s, _ = step(s, Level.YELLOW, NOW + timedelta(minutes=1), DWELL)
    s, _ = step(s, Level.ORANGE, NOW + timedelta(minutes=20), DWELL)
    s, ch = step(s, Level.YELLOW, NOW + timedelta(minutes=40), DWELL)
    assert not ch and s.level is Level.ORANGE  # wait restarted at minute 40


def test_unknown_transitions() -> None:
    s, _ = step(None, Level.NONE, NOW, DWELL)
    s, ch = step(s, Level.UNKNOWN, NOW + timedelta(minutes=1), DWELL)
    assert ch and s.level is Level.UNKNOWN  # data lost: never shown as the safe colour
    s, ch = step(s, Level.NONE, NOW + timedelta(minutes=2), DWELL)
    assert ch and s.level is Level.NONE  # data back: immediately known
    s, _ = step(s, Level.ORANGE, NOW + timedelta(minutes=3), DWELL)
    s, ch = step(s, Level.UNKNOWN, NOW + timedelta(minutes=4), DWELL)
    # issue 12: data lost is shown at once, the last known danger held as its floor
    assert ch and s.status == Status(Level.UNKNOWN, Level.ORANGE)
    s, ch = step(s, Level.UNKNOWN, NOW + timedelta(minutes=20), DWELL)
    assert not ch and s.status == Status(Level.UNKNOWN, Level.ORANGE)
    s, ch = step(s, Level.UNKNOWN, NOW + timedelta(minutes=35), DWELL)
    assert ch and s.status == Status(Level.UNKNOWN)


@settings(max_examples=200, deadline=None)
@given(seq=st.lists(st.tuples(levels, st.integers(1, 900)), min_size=1, max_size=40))
def test_hysteresis_properties(seq: list[tuple[Level, int]]) -> None:
    """Held level is never below the raw level (unknown aside), and a downgrade only follows a full dwell
    during which every raw level was strictly below the old held level."""
    t = NOW
    state = None
    history: list[tuple[object, Level]] = []
    for raw, dt in seq:
        t = t + timedelta(seconds=dt)
        prev = state
        state, changed = step(state, raw, t, DWELL)
        history.append((t, raw))
        rs = Status.of(raw)
        assert state.status.floor.rank >= rs.floor.rank  # never below the raw floor
        if raw is Level.UNKNOWN:
            # never a colour while the raw level is unknown (red aside: nothing is worse)
            assert state.level is Level.UNKNOWN or state.level is Level.RED
        if prev is not None and changed and state.floor.rank < prev.floor.rank:
            window = [Status.of(r) for (tt, r) in history if tt >= t - timedelta(seconds=DWELL)]
            assert all(r.floor.rank < prev.floor.rank for r in window)
            assert prev.below_since is not None and (t - prev.below_since).total_seconds() >= DWELL


def test_zone_bounds() -> None:
    z = CONFIG.zones
    assert [exposure_zone(d, z) for d in (-0.1, 0.0, 199.9, 200.0, 999.9, 1000.0, 2999.9, 3000.0)] == \
        ["A", "B", "B", "C", "C", "D", "D", "E"]


@settings(max_examples=100, deadline=None)
@given(level=levels, zi=st.integers(0, 4))
def test_matrix_properties(level: Level, zi: int) -> None:
    code = CONFIG.code(level, ZONES[zi])
    if level is Level.UNKNOWN:
        assert code is Level.UNKNOWN or (zi == 4 and code.is_warning)
        return
    assert CONFIG.code(level, "A").rank >= level.rank  # zone A never below the segment-implied minimum
    if zi > 0:
        assert CONFIG.code(level, ZONES[zi - 1]).rank >= code.rank  # more exposed never lower


@settings(max_examples=60, deadline=None)
@given(level=levels, dlat=st.floats(-0.004, 0.05), lon=st.floats(121.031, 121.053))
def test_location_code_never_below_zone_minimum(level: Level, dlat: float, lon: float) -> None:
    lat = 30.6 + dlat
    lc = location_code(CONFIG, INDEX, lon, lat, {s.id: level for s in SEGS})
    if abs(dlat) > 1e-5:  # ~1 m off the crest line: the side is unambiguous
        assert (lc.zone == "A") == (dlat < 0)
    assert lc.code is CONFIG.code(level, lc.zone)
    if lc.zone in ("A", "B") and level is not Level.UNKNOWN:
        assert lc.code.rank >= level.rank
    assert lc.advice_zh and lc.advice_en


def test_locate_signed_distance_and_neighbours() -> None:
    south = locate(INDEX, 121.035, 30.599)  # ~111 m seaward of PH01
    assert south.zone == "A" and -115 < south.distance_m < -105 and south.nearest_segment_id == "PH01"
    north = locate(INDEX, 121.0381, 30.6045)  # ~500 m inland, near the PH01/PH02 joint
    assert north.zone == "C" and set(north.segment_ids) == {"PH01", "PH02"}
    lc = location_code(CONFIG, INDEX, 121.0381, 30.6045, {"PH01": Level.NONE, "PH02": Level.ORANGE, "PH03": Level.NONE})
    assert lc.segment_level is Level.ORANGE and lc.code is Level.ORANGE


def test_shoreline_rollup_counts_and_state_json() -> None:
    obs = {}
    obs.update(obs_for(1, tide=4.3, hs=0.0))  # PH01 orange (storm tide, 4.2-4.7 m CN1985)
    obs.update(obs_for(2, tide=2.2, hs=0.0))
    obs.update(obs_for(3, tide=2.2, hs=3.6, tp=7.0))  # PH03 yellow (waves) + overtopping?
    r = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(obs), None, NOW, AREAS)
    seg = r.segment_levels
    assert seg["PH01"] is Level.ORANGE
    ru = r.rollup
    assert ru is not None
    assert ru.villages["V1"].level is CONFIG.code(seg["PH01"], "B")
    assert ru.villages["V2"].level is CONFIG.code(seg["PH03"], "D")
    # > 3 km away all three short segments are within the neighbour margin: the worst (PH01) counts
    assert ru.villages["V3"].level is CONFIG.code(worst(seg.values()), "E")
    assert ru.towns["T1"].counts[ru.villages["V1"].level.value] >= 1
    assert sum(ru.towns["T1"].counts.values()) == 2 and sum(ru.city.counts.values()) == 3
    assert sum(ru.city.population.values()) == 2000  # V3 has no known population
    assert ru.city.level.rank == max(t.level.rank for t in ru.towns.values())
    body = json.loads(json.dumps(r.to_dict()))
    assert body["segments"]["PH01"]["hazards"][0]["hazard"] == "storm_tide"
    assert body["areas"]["villages"]["V1"]["level"] == ru.villages["V1"].level.value
    # next cycle, nothing changed -> no level changes; since kept
    r2 = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(obs), r.state, NOW + timedelta(seconds=60), AREAS)
    assert r2.changes == () and r2.segments["PH01"].since == NOW


def test_override_applies_on_top_and_expires() -> None:
    obs = {}
    for i in range(1, 4):
        obs.update(obs_for(i, tide=2.2, hs=0.0))
    ov = Override("PH02", Level.RED, "dike crack reported", NOW + timedelta(hours=1), "duty:wang", NOW)
    r = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(obs, overrides=[ov]), None, NOW)
    s = r.segments["PH02"]
    assert s.level is Level.RED and s.decision.raw_level is Level.NONE
    assert s.reasons[-1].hazard == "override" and "duty:wang" in s.reasons[-1].threshold_source
    later = NOW + timedelta(hours=1, minutes=1)
    obs2 = {k: {q: type(v)(v.value, later, v.qc) for q, v in d.items()} for k, d in obs.items()}
    r2 = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(obs2, overrides=[ov]), r.state, later)
    assert r2.segments["PH02"].level is Level.NONE and any(c.subject_id == "PH02" for c in r2.changes)


@settings(max_examples=40, deadline=None)
@given(t1=st.floats(0.0, 8.0), dt=st.floats(0.0, 2.0), hs=st.floats(0.0, 5.0), tp=st.floats(3.0, 12.0))
def test_more_water_never_lowers_level(t1: float, dt: float, hs: float, tp: float) -> None:
    seg = [segment(1, crest=7.5, toe=0.0)]
    lo = evaluate_shoreline(CONFIG, seg, ShorelineInputs(obs_for(1, tide=t1, hs=hs, tp=tp)), None, NOW)
    hi = evaluate_shoreline(CONFIG, seg, ShorelineInputs(obs_for(1, tide=t1 + dt, hs=hs, tp=tp)), None, NOW)
    assert hi.segments["PH01"].level.rank >= lo.segments["PH01"].level.rank


@settings(max_examples=40, deadline=None)
@given(age=st.floats(601, 100_000), tide=st.floats(0.0, 8.0))
def test_stale_everything_gives_unknown(age: float, tide: float) -> None:
    old = NOW - timedelta(seconds=age)
    o = obs_for(1, tide=tide, hs=1.0, tp=6.0, ts=old)
    for st_ in o.values():
        for q, v in list(st_.items()):
            if (NOW - v.ts).total_seconds() <= CONFIG.staleness.max_age_s[q]:
                st_.pop(q)  # keep only readings stale for their own quantity
    r = evaluate_shoreline(CONFIG, [segment(1)], ShorelineInputs(o), None, NOW)
    assert r.segments["PH01"].level is Level.UNKNOWN

"""``demo --check`` story checker (haixun/demo/story.py): pure logic, and the story of the
default In-fa window built from the simulator's model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from haixun.demo.story import (
    Downgrade,
    HighWater,
    Outage,
    SegmentStory,
    Story,
    Track,
    build_story,
    check_story,
    station_segments,
)
from haixun.riskcode.levels import Level

T0 = datetime(2030, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)
B, Y, O, R, N, U = Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED, Level.NONE, Level.UNKNOWN


def _story(**kw) -> Story:
    seg = SegmentStory("PH05", (HighWater(T0 + 14 * H, 5.8, Y), HighWater(T0 + 26 * H, 6.3, O)),
                       HighWater(T0 + 26 * H, 6.3, O), quiet_at=T0 + 30 * H)
    base = dict(start=T0, end=T0 + 40 * H, segments={"PH05": seg}, dwell_s=1800.0)
    base.update(kw)
    return Story(**base)


GOOD = [(T0 + 6 * H, B), (T0 + 12 * H, Y), (T0 + 25 * H, O), (T0 + 28 * H, Y), (T0 + 31 * H, B), (T0 + 36 * H, N)]
# What the demo of issue 12 recorded: a red bulletin at the first reading, held to the end
ALWAYS_RED = [(T0 + timedelta(minutes=1), R)]


def test_a_storm_told_right_passes() -> None:
    v = check_story(_story(), {"PH05": GOOD})
    assert v.ok, v.summary_lines()
    assert {f.check for f in v.findings} == {"rise", "peak", "fall", "flap"}


def test_todays_always_red_fails() -> None:
    v = check_story(_story(), {"PH05": ALWAYS_RED})
    assert not v.ok
    assert {f.check for f in v.failures()} == {"fall"}
    assert any("fall FAILED PH05" in line for line in v.summary_lines())


def test_late_rise_and_missed_peak_fail() -> None:
    late = [(T0 + 6 * H, B), (T0 + 27.5 * H, O), (T0 + 31 * H, B)]  # orange 1.5 h after the peak water
    v = check_story(_story(), {"PH05": late})
    assert {f.check for f in v.failures()} == {"rise", "peak"}


def test_a_fall_after_the_dwell_plus_one_hour_fails_and_a_window_too_short_fails() -> None:
    slow = [(T0 + 12 * H, Y), (T0 + 25 * H, O), (T0 + 32 * H, B)]  # quiet at 30 h; due 31.5 h
    assert [f.check for f in check_story(_story(), {"PH05": slow}).failures()] == ["fall"]
    short = check_story(_story(end=T0 + 31 * H), {"PH05": GOOD})
    assert [f.check for f in short.failures()] == ["fall"]


def test_flapping_is_two_reversals_within_an_hour() -> None:
    flappy = GOOD + [(T0 + 20 * H, O), (T0 + 20.2 * H, Y), (T0 + 20.5 * H, O), (T0 + 20.9 * H, Y)]
    assert [f.check for f in check_story(_story(), {"PH05": flappy}).failures()] == ["flap"]
    # one reversal per hour is fine; unknown in between is not a colour step
    calm = GOOD + [(T0 + 20 * H, O), (T0 + 20.2 * H, Y), (T0 + 21.5 * H, O), (T0 + 22 * H, U), (T0 + 22.8 * H, O),
                   (T0 + 23 * H, Y)]
    assert check_story(_story(), {"PH05": sorted(calm)}).ok
    assert Track([(T0, B), (T0 + H, Y), (T0 + 2 * H, B), (T0 + 3 * H, N)]).reversals() == [T0 + 2 * H]


def test_an_offline_station_must_make_its_segment_unknown_within_the_staleness_limit() -> None:
    out = Outage("ZP-T01", T0 + 20 * H, T0 + 22 * H, ("PH05",), max_age_s=600.0)
    story = _story(outages=(out,))
    ok = sorted(GOOD + [(T0 + 20 * H + timedelta(minutes=11), U), (T0 + 22 * H + timedelta(minutes=2), Y)])
    assert check_story(story, {"PH05": ok}).ok
    # issue 12: the offline Zhapu gauge left PH05 blue/yellow (a known lower hazard hid the unknown)
    v = check_story(story, {"PH05": GOOD})
    assert [f.check for f in v.failures()] == ["outage"]
    late = sorted(GOOD + [(T0 + 20 * H + timedelta(minutes=20), U), (T0 + 22 * H + timedelta(minutes=2), Y)])
    assert [f.check for f in check_story(story, {"PH05": late}).failures()] == ["outage"]
    dips = sorted(ok + [(T0 + 21 * H, B), (T0 + 21.1 * H, U)])  # a plain blue while the gauge is off
    assert [f.check for f in check_story(story, {"PH05": dips}).failures()] == ["outage"]


def test_a_newer_bulletin_must_lower_a_bulletin_held_level() -> None:
    drill = Downgrade(T0 + 3 * H, ("PH05",), Y, B, "x")
    story = _story(downgrades=(drill,))
    held = sorted(GOOD + [(T0 + 2 * H, Y), (T0 + 3.5 * H, B), (T0 + 5 * H, N)])
    assert check_story(story, {"PH05": held}).ok
    # every valid bulletin counting (issue 12): the yellow stays until it expires
    stuck = sorted(GOOD + [(T0 + 2 * H, Y), (T0 + 5.5 * H, N)])
    assert [f.check for f in check_story(story, {"PH05": stuck}).failures()] == ["downgrade"]
    # never raised by the bulletin at all: nothing was held, the check fails
    assert [f.check for f in check_story(story, {"PH05": GOOD}).failures()] == ["downgrade"]
    assert [f.check for f in check_story(story, {"PH05": ALWAYS_RED}).failures()] == ["fall", "downgrade"]


@pytest.fixture(scope="module")
def infa_story() -> tuple[Story, float]:
    from haixun.simulators import typhoon as ty
    from haixun.simulators.cli import DEFAULT_AFTER_H, DEFAULT_PEAK_IN_H
    from haixun.simulators.geo import load_sim_geography
    from haixun.simulators.source import replay_source

    geo = load_sim_geography()
    start = datetime(2030, 7, 1, tzinfo=UTC)
    src = replay_source(geo, start, historical=False, peak_in=timedelta(hours=DEFAULT_PEAK_IN_H))
    story = build_story(src, start, start + timedelta(hours=DEFAULT_PEAK_IN_H + DEFAULT_AFTER_H),
                        step=timedelta(minutes=20))
    assert ty.INFA_LANDFALL_PINGHU
    return story, src.offset_s


def test_the_default_window_story_has_the_overnight_high_water_as_peak_and_a_calm_end(infa_story) -> None:
    from haixun.simulators import typhoon as ty

    infa_story, offset = infa_story

    def storm_time(t: datetime) -> datetime:
        return datetime.fromtimestamp(t.timestamp() - offset, ty.CST)

    zp = infa_story.segments["PH05"]
    assert zp.peak is not None and zp.peak.level is Level.ORANGE
    assert abs(storm_time(zp.peak.at) - datetime(2021, 7, 25, 22, 40, tzinfo=ty.CST)) <= timedelta(minutes=40)
    assert all(s.quiet_at is not None and s.quiet_at + timedelta(hours=1.5) <= infa_story.end
               for s in infa_story.segments.values()), "every segment can be seen falling"
    assert set(station_segments(["ZP-T01"])) >= {"PH05", "PH06", "PH07"}
    names = [p for _, p in infa_story.phases]
    assert names == ["calm", "rising", "peak", "falling", "after"]
    rising = infa_story.phases[1][0]
    assert rising - infa_story.start >= timedelta(hours=3), "hours of calm before the first rise"
    assert infa_story.phase_at(infa_story.end) == "after"
    # today's always-red sequence fails this story on every segment
    v = check_story(infa_story, {sid: [(infa_story.start, Level.RED)] for sid in infa_story.segments})
    assert not v.ok and {f.subject for f in v.failures() if f.check == "fall"} == set(infa_story.segments)


def test_a_window_without_a_storm_fails() -> None:
    calm = Story(T0, T0 + 10 * H, {"PH05": SegmentStory("PH05", (), None, None)}, 1800.0)
    v = check_story(calm, {"PH05": []})
    assert not v.ok and [f.subject for f in v.failures()] == ["window"]


def test_the_replay_plan_backfills_on_the_same_storm_mapping_and_ends_history_where_the_clock_starts() -> None:
    """The history must join the live replay (same storm-time offset, else the engine's tide model is
    hours out of phase), and end where the replay clock starts (a reading from the clock's future
    gave a false orange before the storm)."""
    from haixun.demo.replay import CLOCK_LEAD_S, ReplayPlan
    from haixun.demo.runner import DemoOptions
    from haixun.simulators.geo import load_sim_geography
    from haixun.simulators.source import replay_source

    now = datetime(2030, 5, 1, 12, tzinfo=UTC)
    plan = ReplayPlan.build(DemoOptions(speed=1000.0, replay_args=("--peak-in", "40", "--after", "12")), now=now)
    assert plan.history_end == now and plan.start == now + timedelta(seconds=CLOCK_LEAD_S * 1000.0)
    args = dict(zip(plan.window_args[::2], plan.window_args[1::2], strict=False))
    backfill = replay_source(load_sim_geography(), plan.history_end, historical=False,
                             peak_in=timedelta(hours=float(args["--peak-in"])))
    assert backfill.offset_s == pytest.approx(plan.offset_s, abs=1e-3)
    assert plan.landfall == plan.start + timedelta(hours=40) and plan.end == plan.start + timedelta(hours=52)


# --------------------------------------------------------------------------- the record (issue 13)

def _record_story(**kw) -> Story:
    from haixun.demo.story import INFA_RED_FROM, RecordShape

    rec = RecordShape("Zhapu", ("PH05",), T0 + 24 * H, T0 + 30 * H, O, T0 + 36 * H, INFA_RED_FROM)
    return _story(end=T0 + 48 * H, record=rec, **kw)


RECORD_LEVELS = [(T0 + 6 * H, B), (T0 + 12 * H, Y), (T0 + 25 * H, O), (T0 + 38 * H, Y), (T0 + 40 * H, B)]
RECORD_TIDE = {"storm_tide": [(T0 + 6 * H, B), (T0 + 26 * H, O), (T0 + 28 * H, Y), (T0 + 34 * H, B)],
               "storm_tide_forecast": [(T0 + 6 * H, B), (T0 + 22 * H, O), (T0 + 30 * H, Y), (T0 + 35 * H, B)]}


def _record_failures(levels, tide, reds=None) -> list[str]:
    v = check_story(_record_story(), {"PH05": levels}, hazards={"PH05": tide}, reds={"PH05": reds or []})
    return [f.detail for f in v.failures() if f.check == "record"]


def test_the_recorded_shape_passes_and_a_red_from_the_waves_is_the_records_red_wave_warning() -> None:
    assert _record_failures(RECORD_LEVELS, RECORD_TIDE) == []
    quay = sorted(RECORD_LEVELS + [(T0 + 26 * H, R), (T0 + 27 * H, O)])
    assert _record_failures(quay, RECORD_TIDE, [(T0 + 26 * H, ("overtopping",))]) == []


def test_a_red_the_record_does_not_have_fails() -> None:
    """The replay before the issue-13 fixes: red at Zhapu on the landfall high water from a storm-tide
    forecast of 5.0 m grown from the overnight skew surge; a wind red (force 10 in the record) likewise."""
    red = sorted(RECORD_LEVELS + [(T0 + 38.5 * H, R), (T0 + 39.5 * H, Y)])
    tide = dict(RECORD_TIDE, storm_tide_forecast=RECORD_TIDE["storm_tide_forecast"] + [(T0 + 38.5 * H, R),
                                                                                         (T0 + 39.5 * H, B)])
    got = _record_failures(red, tide, [(T0 + 38.5 * H, ("storm_tide_forecast",))])
    assert len(got) == 2 and "red at" in got[0] and "storm_tide_forecast" in got[0], got
    assert "forecast up to red" in got[1], got
    got = _record_failures(red, RECORD_TIDE, [(T0 + 38.5 * H, ("overtopping", "wind"))])
    assert len(got) == 1 and "wind" in got[0], got


def test_no_orange_storm_tide_overnight_fails_and_a_late_downgrade_fails() -> None:
    """Orange shown overnight from another hazard (wind) is not the record's storm-surge orange; a storm
    tide still orange in the morning is not the record's downgrade."""
    weak = dict(RECORD_TIDE, storm_tide=[(T0 + 6 * H, B), (T0 + 26 * H, Y), (T0 + 34 * H, B)])
    assert any("storm tide up to yellow" in d for d in _record_failures(RECORD_LEVELS, weak))
    late = dict(RECORD_TIDE, storm_tide=[(T0 + 6 * H, B), (T0 + 26 * H, O), (T0 + 37 * H, Y)])
    assert any("up to orange from" in d for d in _record_failures(RECORD_LEVELS, late))
    # without the database's hazard tracks and reasons (the websocket witness) nothing is judged
    v = check_story(_record_story(), {"PH05": RECORD_LEVELS})
    assert [f for f in v.findings if f.check == "record"] == []


def test_the_default_window_carries_the_in_fa_record_at_zhapu(infa_story) -> None:
    from haixun.simulators import typhoon as ty

    story, offset = infa_story
    rec = story.record
    assert rec is not None and set(rec.segments) == set(station_segments(["ZP-T01"]))

    def storm_time(t: datetime) -> datetime:
        return datetime.fromtimestamp(t.timestamp() - offset, ty.CST)

    assert storm_time(rec.flood_from) == datetime(2021, 7, 25, 20, tzinfo=ty.CST)
    assert storm_time(rec.flood_to) == datetime(2021, 7, 26, 2, tzinfo=ty.CST)
    assert storm_time(rec.downgraded_by) == datetime(2021, 7, 26, 8, tzinfo=ty.CST)
    assert rec.flood_level is Level.ORANGE and "wind" not in rec.red_from and "storm_tide" not in rec.red_from
    # the model's own overnight high water at Zhapu is the record's orange
    assert story.segments["PH05"].peak.level is Level.ORANGE
    assert rec.flood_from <= story.segments["PH05"].peak.at <= rec.flood_to

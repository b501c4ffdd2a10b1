"""Per-hazard thresholds at and around every bound, staleness, QC, camera and official inputs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.riskcode.levels import Level, Status
from haixun.riskcode.model import CameraEventInput, FeedItem, Observation
from haixun.riskcode.segment import evaluate_segment
from tests.support.riskcode import CONFIG, NOW, obs_for, segment, semidiurnal_prediction

EPS = 1e-6
SEG = segment(1, crest=20.0)  # very high crest: overtopping stays none, storm tide is isolated


def _hazard(decision, name: str):
    return next(r for r in decision.hazards if r.hazard == name)


def _bands(thresholds) -> list[tuple[float, Level]]:
    """(value, expected) just below, at and just above every inclusive lower bound."""
    out = []
    prev = Level.NONE
    for lv in (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED):
        b = thresholds.get(lv)
        out += [(b - 0.001, prev), (b, lv), (b + 0.001, lv)]
        prev = lv
    return out


@pytest.mark.parametrize(("tide", "expected"), _bands(CONFIG.storm_tide.default_warning_levels_m))
def test_storm_tide_bands(tide: float, expected: Level) -> None:
    # no prediction: the surge rule cannot fire, only warning tide levels count
    d = evaluate_segment(CONFIG, SEG, obs_for(1, tide=tide, hs=0.0, wind=1.0, gust=1.0), None, [], [], NOW)
    assert _hazard(d, "storm_tide").level is expected


def test_segment_warning_levels_from_geography_override_defaults() -> None:
    seg = segment(1, crest=20.0, warning={"blue": 4.0, "yellow": 4.2, "orange": 4.4, "red": 4.6})
    d = evaluate_segment(CONFIG, seg, obs_for(1, tide=4.4, hs=0.0), None, [], [], NOW)
    assert _hazard(d, "storm_tide").level is Level.ORANGE and _hazard(d, "storm_tide").threshold == 4.4


@pytest.mark.parametrize(
    ("surge", "expected"),
    [(0.299, Level.NONE), (0.3, Level.BLUE), (0.6, Level.BLUE), (0.899, Level.BLUE), (0.9, Level.BLUE), (1.5, Level.BLUE)],
)
def test_surge_blue_without_warning_level(surge: float, expected: Level) -> None:
    pred = semidiurnal_prediction(mean=0.2, amp=0.5)
    astro = pred.at(NOW)
    assert astro is not None
    tide = astro + surge
    assert tide < CONFIG.storm_tide.default_warning_levels_m.blue
    d = evaluate_segment(CONFIG, SEG, obs_for(1, tide=tide, hs=0.0), pred, [], [], NOW)
    r = _hazard(d, "storm_tide")
    assert r.level is expected
    if expected is Level.BLUE:
        assert r.value == pytest.approx(surge) and r.threshold == 0.3


@pytest.mark.parametrize(("hs", "expected"), _bands(CONFIG.wave.thresholds_m))
def test_wave_bands(hs: float, expected: Level) -> None:
    d = evaluate_segment(CONFIG, SEG, obs_for(1, hs=hs, tp=8.0), None, [], [], NOW)
    assert _hazard(d, "wave").level is expected


def _wind_cases(table_name: str) -> list[tuple[str, float, Level]]:
    table = getattr(CONFIG.wind, table_name)
    cases = []
    prev = Level.NONE
    for lv in (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED):
        sig = table.signal(lv)
        m, g = CONFIG.wind.mps(sig.mean_bft), CONFIG.wind.mps(sig.gust_bft)
        cases += [("mean", m - 0.01, prev), ("mean", m, lv), ("gust", g - 0.01, prev), ("gust", g, lv)]
        prev = lv
    return cases


def _persistent(value: float, n: int = 2) -> dict[str, dict[str, list[Observation]]]:
    """``n`` gust readings of ``value`` one minute apart, the last at NOW (wind station W01)."""
    return {"W01": {"wind_gust": [Observation(value, NOW - timedelta(minutes=k)) for k in range(n)]}}


def _wind(o, feeds=(), recent=None):
    return _hazard(evaluate_segment(CONFIG, SEG, o, None, [], list(feeds), NOW, None, recent), "wind")


@pytest.mark.parametrize(("which", "value", "expected"), _wind_cases("gale"))
def test_gale_table_without_typhoon(which: str, value: float, expected: Level) -> None:
    # gust cases: the gust persists (two readings in 10 min), issue 13
    o = obs_for(1, wind=value if which == "mean" else 0.0, gust=value if which == "gust" else 0.0)
    assert _wind(o, recent=_persistent(value) if which == "gust" else None).level is expected


def _typhoon(level: Level = Level.BLUE) -> FeedItem:
    return FeedItem("TY1", "Zhejiang Meteorological Observatory", "typhoon_warning", level,
                    NOW - timedelta(hours=6), NOW + timedelta(hours=6), "In-fa")


def _gale_level(which: str, value: float) -> Level:
    o = obs_for(1, wind=value if which == "mean" else 0.0, gust=value if which == "gust" else 0.0)
    return _wind(o, recent=_persistent(value) if which == "gust" else None).level


@pytest.mark.parametrize(("which", "value", "expected"), _wind_cases("typhoon"))
def test_typhoon_table_when_typhoon_warning_active(which: str, value: float, expected: Level) -> None:
    """The typhoon table applies, but the level is never below the gale table's (issue 13: a typhoon
    warning arriving must never lower the local wind level)."""
    o = obs_for(1, wind=value if which == "mean" else 0.0, gust=value if which == "gust" else 0.0)
    r = _wind(o, [_typhoon()], _persistent(value) if which == "gust" else None)
    gale = _gale_level(which, value)
    assert r.level is (expected if expected.rank >= gale.rank else gale)
    assert ("typhoon table" in r.detail) if expected.rank >= gale.rank else ("never lowers" in r.detail)


def test_gust_force_7_needs_persistence_and_a_typhoon_never_lowers_it() -> None:
    o = obs_for(1, wind=0.0, gust=14.0)  # force 7 gust
    assert _wind(o).level is Level.NONE                                  # one gust: not sustained wind
    assert "not persistent" in _wind(o).detail
    assert _wind(o, recent=_persistent(14.0)).level is Level.BLUE          # two in 10 min: gale blue
    assert _wind(o, [_typhoon()], _persistent(14.0)).level is Level.BLUE   # typhoon table says none: gale kept


def test_single_3s_gust_at_an_exposed_station_does_not_raise_gale_blue() -> None:
    """Issue 13: a lone 15 m/s gust (force 7) with a 9 m/s mean is no gale; older gusts outside the
    10-min window do not count either."""
    o = obs_for(1, wind=9.0, gust=15.0)
    assert _wind(o).level is Level.NONE
    stale = {"W01": {"wind_gust": [Observation(15.0, NOW), Observation(15.0, NOW - timedelta(minutes=11))]}}
    assert _wind(o, recent=stale).level is Level.NONE
    assert _wind(o, recent=_persistent(15.0)).level is Level.BLUE
    assert _wind(obs_for(1, wind=10.8, gust=11.0)).level is Level.BLUE   # the mean alone still raises


@settings(max_examples=200, deadline=None)
@given(mean=st.floats(0.0, 60.0), gust=st.floats(0.0, 70.0), n=st.integers(1, 4))
def test_a_typhoon_warning_never_lowers_the_local_wind_level(mean: float, gust: float, n: int) -> None:
    o = obs_for(1, wind=mean, gust=gust)
    recent = _persistent(gust, n)
    assert _wind(o, [_typhoon()], recent).level.rank >= _wind(o, (), recent).level.rank


@pytest.mark.parametrize("quantity", ["tide_level", "wave_height", "wind_speed"])
def test_stale_input_makes_hazard_and_segment_unknown(quantity: str) -> None:
    max_age = CONFIG.staleness.max_age_s[quantity]
    o = obs_for(1, hs=0.0)
    for obs in o.values():
        if quantity in obs:
            v = obs[quantity]
            obs[quantity] = Observation(v.value, NOW - timedelta(seconds=max_age + 1), v.qc)
            if quantity == "wind_speed":
                obs["wind_gust"] = Observation(1.0, NOW - timedelta(seconds=max_age + 1))
    d = evaluate_segment(CONFIG, SEG, o, None, [], [], NOW)
    hz = {"tide_level": "storm_tide", "wave_height": "wave", "wind_speed": "wind"}[quantity]
    assert _hazard(d, hz).level is Level.UNKNOWN and "stale" in _hazard(d, hz).detail
    assert d.raw_level is Level.UNKNOWN
    # exactly at the max age is still fresh
    for obs in o.values():
        for q, v in list(obs.items()):
            if q == quantity or (quantity == "wind_speed" and q == "wind_gust"):
                obs[q] = Observation(v.value, NOW - timedelta(seconds=max_age), v.qc)
    fresh = evaluate_segment(CONFIG, SEG, o, None, [], [], NOW)
    assert _hazard(fresh, hz).level is not Level.UNKNOWN and fresh.raw_level is not Level.UNKNOWN


def test_unknown_never_hides_known_danger() -> None:
    o = obs_for(1, tide=None, hs=4.0, tp=8.0)
    d = evaluate_segment(CONFIG, SEG, o, None, [], [], NOW)
    assert _hazard(d, "storm_tide").level is Level.UNKNOWN
    # issue 12: "unknown, at least yellow" (was plain yellow: the known colour hid the unknown storm tide)
    assert d.raw == Status(Level.UNKNOWN, Level.YELLOW) and d.unknown_hazards == ("storm_tide",)
    assert d.raw.severity > Status(Level.YELLOW).severity and d.raw.at_least(Level.YELLOW)


def test_qc_fail_is_not_used_suspect_is_used_and_noted() -> None:
    d = evaluate_segment(CONFIG, SEG, obs_for(1, tide=4.4, qc=4), None, [], [], NOW)
    assert _hazard(d, "storm_tide").level is Level.UNKNOWN and "QC flag 4" in _hazard(d, "storm_tide").detail
    d = evaluate_segment(CONFIG, SEG, obs_for(1, tide=4.4, qc=3), None, [], [], NOW)
    assert _hazard(d, "storm_tide").level is Level.ORANGE and "suspect" in _hazard(d, "storm_tide").detail


def test_overtopping_levels_and_negative_freeboard() -> None:
    seg = segment(1, crest=7.0, toe=0.0)
    calm = evaluate_segment(CONFIG, seg, obs_for(1, tide=4.0, hs=0.0, tp=5.0), None, [], [], NOW)
    assert _hazard(calm, "overtopping").level is Level.NONE
    storm = evaluate_segment(CONFIG, seg, obs_for(1, tide=5.5, hs=3.0, tp=8.0), None, [], [], NOW)
    r = _hazard(storm, "overtopping")
    assert r.level is Level.RED and r.value >= 10.0 and storm.overtopping_equation in ("eq5.10", "eq5.11")
    over = evaluate_segment(CONFIG, seg, obs_for(1, tide=7.1, hs=0.0, tp=5.0), None, [], [], NOW)
    assert _hazard(over, "overtopping").level is Level.RED and over.freeboard_m == pytest.approx(-0.1)


def test_overtopping_period_fallback_and_missing() -> None:
    seg = segment(1, crest=7.0, toe=0.0)
    d = evaluate_segment(CONFIG, seg, obs_for(1, tide=5.0, hs=2.0, tp=None), None, [], [], NOW)
    assert "estimated" in _hazard(d, "overtopping").detail and _hazard(d, "overtopping").level.is_warning


def _cam(cam: str, minutes_ago: float, conf: float = 0.9, typ: str = "overtopping",
         kind: str = "thermal_ptz") -> CameraEventInput:
    return CameraEventInput(cam, NOW - timedelta(minutes=minutes_ago), typ, conf, ("PH01",), kind)


def test_camera_event_confirmed_held_and_corroborated() -> None:
    o = obs_for(1, hs=0.0)
    lvl = lambda evs: evaluate_segment(CONFIG, SEG, o, None, evs, [], NOW).raw_level  # noqa: E731
    assert lvl([_cam("C1", 5, conf=0.79)]) is Level.NONE  # below min confidence
    assert lvl([_cam("C1", 5)]) is Level.YELLOW
    assert lvl([_cam("C1", 31)]) is Level.NONE  # older than hold 1800 s
    # issue 14: only a camera of another kind corroborates (tests/test_riskcode_camera.py has the rest)
    d = evaluate_segment(CONFIG, SEG, o, None, [_cam("C1", 5), _cam("C2", 8, kind="starlight_dome")], [], NOW)
    assert d.raw_level is Level.ORANGE and "corroborated by camera(s) of another kind C2" in \
        _hazard(d, "camera:overtopping").detail
    # gauges corroborate: computed q above 0.1 l/s/m on a low crest
    seg = segment(1, crest=7.0, toe=0.0)
    d = evaluate_segment(CONFIG, seg, obs_for(1, tide=4.5, hs=1.5, tp=6.0), None, [_cam("C1", 5)], [], NOW)
    r = _hazard(d, "camera:overtopping")
    assert d.overtopping_lpsm is not None and d.overtopping_lpsm >= 0.1
    assert r.level is Level.ORANGE and "gauges" in r.detail


def test_official_feed_raises_to_max_and_names_both() -> None:
    feed = FeedItem("F1", "Zhejiang Marine Forecast Station", "surge_forecast", Level.ORANGE,
                    NOW - timedelta(hours=1), NOW + timedelta(hours=1), "orange storm surge")
    d = evaluate_segment(CONFIG, SEG, obs_for(1, tide=3.8, hs=0.0), None, [], [feed], NOW)
    assert d.local_level is Level.YELLOW and d.raw_level is Level.ORANGE
    assert _hazard(d, "official:surge_forecast").level is Level.ORANGE
    expired = FeedItem("F1", "x", "surge_forecast", Level.RED, NOW - timedelta(hours=2), NOW, "")
    assert evaluate_segment(CONFIG, SEG, obs_for(1, tide=3.8, hs=0.0), None, [], [expired], NOW).raw_level is Level.YELLOW


def test_forecast_high_water_and_time_to_threshold() -> None:
    # astronomical HW 1.2+2 = 3.2 m CN1985 in 3 h; observed now = astro + 0.6 m surge -> projected HW
    # 3.2 + 0.6 e^-0.25 = 3.67 (blue 3.2, below yellow 3.7)
    pred = semidiurnal_prediction(mean=1.2, amp=2.0, start=NOW - timedelta(hours=2), phase_h=5.0)
    astro = pred.at(NOW)
    assert astro is not None
    d = evaluate_segment(CONFIG, SEG, obs_for(1, tide=astro + 0.6, hs=0.0), pred, [], [], NOW)
    f = _hazard(d, "storm_tide_forecast")
    assert f.level is Level.BLUE and f.value == pytest.approx(3.2 + 0.6 * 2.718281828 ** -0.25, abs=0.01)
    assert d.next_high_water is not None and abs((d.next_high_water.at - NOW).total_seconds() - 3 * 3600) < 180
    assert d.time_to_threshold is not None and d.time_to_threshold.level is Level.BLUE
    assert 0 < d.time_to_threshold.seconds < 3 * 3600

"""The cases worked by hand in docs/riskcode.md, through the code (issue 13, "Done when":
per rule, the source and the case worked by hand). Each test carries the doc's numbers; a rule
or a config value that changes makes the doc wrong and this test fail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.riskcode import SeawallIndex, location_code, step
from haixun.riskcode.hazards import classify
from haixun.riskcode.levels import Level
from haixun.riskcode.model import CameraEventInput, FeedItem, Observation
from haixun.riskcode.segment import evaluate_segment
from haixun.riskcode.tides import TidePrediction
from tests.support.riskcode import CONFIG, NOW, obs_for, segment

SEG = segment(1, crest=20.0)  # a high crest: no overtopping in these cases


def _hazard(d, name: str):
    return next(h for h in d.hazards if h.hazard == name)


def _flat_tide(level_m: float) -> TidePrediction:
    times = [NOW - timedelta(hours=3) + timedelta(minutes=10 * k) for k in range(6 * 18)]
    return TidePrediction.from_series(times, [level_m] * len(times))


def test_storm_tide_case_yellow_at_3_75_m() -> None:
    """Defaults 3.2 / 3.7 / 4.2 / 4.7 m CN1985: 3.75 >= 3.7 and < 4.2 -> yellow, threshold 3.7."""
    w = CONFIG.storm_tide.default_warning_levels_m
    assert (w.blue, w.yellow, w.orange, w.red) == (3.2, 3.7, 4.2, 4.7)
    r = _hazard(evaluate_segment(CONFIG, SEG, obs_for(1, tide=3.75, hs=0.0), None, [], [], NOW), "storm_tide")
    assert r.level is Level.YELLOW and r.threshold == 3.7


@pytest.mark.parametrize(("observed", "surge", "level"), [(2.45, 0.45, Level.BLUE), (2.95, 0.95, Level.BLUE),
                                                         (2.29, 0.29, Level.NONE)])
def test_surge_blue_case(observed: float, surge: float, level: Level) -> None:
    """Astronomical 2.00 m; observed 2.45 -> surge 0.45 in [0.3, 0.9) -> blue; 2.95 -> 0.95 >= 0.9 ->
    blue (surge_above_max_level, decision); 2.29 -> 0.29 < 0.3 -> none. All below blue 3.2 m."""
    d = evaluate_segment(CONFIG, SEG, obs_for(1, tide=observed, hs=0.0), _flat_tide(2.0), [], [], NOW)
    r = _hazard(d, "storm_tide")
    assert r.level is level
    if level is Level.BLUE:
        assert r.value == pytest.approx(surge)
    else:
        assert f"surge {surge:.2f} m" in r.detail


@pytest.mark.parametrize(("hs", "level"), [(2.49, Level.NONE), (2.5, Level.BLUE), (3.49, Level.BLUE),
                                           (3.5, Level.YELLOW), (4.5, Level.ORANGE), (6.0, Level.RED)])
def test_wave_case(hs: float, level: Level) -> None:
    """GB/T 19721.2-2017 bands 2.5 / 3.5 / 4.5 / 6.0 m, inclusive lower bounds."""
    d = evaluate_segment(CONFIG, SEG, obs_for(1, hs=hs, tp=8.0), None, [], [], NOW)
    assert _hazard(d, "wave").level is level


def _cam(cam: str, minutes_ago: float, kind: str, conf: float = 0.85) -> CameraEventInput:
    return CameraEventInput(cam, NOW - timedelta(minutes=minutes_ago), "overtopping", conf, ("PH01",), kind)


def test_camera_case() -> None:
    """Thermal PTZ C1 sees overtopping at 0.85 (>= 0.8) 5 min ago: yellow. A second thermal PTZ 8 min
    ago: still yellow (same kind). A starlight dome 8 min ago (within 15 min): orange."""
    o = obs_for(1, hs=0.0)
    lvl = lambda evs: evaluate_segment(CONFIG, SEG, o, None, evs, [], NOW).raw_level  # noqa: E731
    assert lvl([_cam("C1", 5, "thermal_ptz")]) is Level.YELLOW
    assert lvl([_cam("C1", 5, "thermal_ptz"), _cam("C3", 8, "thermal_ptz")]) is Level.YELLOW
    assert lvl([_cam("C1", 5, "thermal_ptz"), _cam("C2", 8, "starlight_dome")]) is Level.ORANGE
    assert lvl([_cam("C1", 5, "thermal_ptz", conf=0.79)]) is Level.NONE


def test_official_case() -> None:
    """Observed 3.80 m: local yellow (3.7); an active orange surge bulletin covering the shoreline:
    shown orange, local_level yellow, official_level orange."""
    feed = FeedItem("F1", "Zhejiang Marine Forecast Station", "surge_forecast", Level.ORANGE,
                    NOW - timedelta(hours=1), NOW + timedelta(hours=5), "orange storm surge")
    d = evaluate_segment(CONFIG, SEG, obs_for(1, tide=3.8, hs=0.0), None, [], [feed], NOW)
    assert d.local_level is Level.YELLOW and d.raw_level is Level.ORANGE


def test_dwell_case() -> None:
    """Red at 01:00, raw yellow from 01:05: still red at 01:34 (29 min < 30 min dwell), yellow at 01:35."""
    dwell = CONFIG.hysteresis.dwell_s
    assert dwell == 1800
    s, _ = step(None, Level.RED, NOW, dwell)
    s, _ = step(s, Level.YELLOW, NOW + timedelta(minutes=5), dwell)
    s, ch = step(s, Level.YELLOW, NOW + timedelta(minutes=34), dwell)
    assert not ch and s.level is Level.RED
    s, ch = step(s, Level.YELLOW, NOW + timedelta(minutes=35), dwell)
    assert ch and s.level is Level.YELLOW


def test_location_code_case() -> None:
    """An orange segment along 30.6 N facing south: a point 0.0018 deg (~200 m) south is zone A ->
    red; 150 m north zone B -> orange; 2.0 km north zone D -> yellow; 3.5 km north zone E -> blue."""
    idx = SeawallIndex(CONFIG, [SEG])
    lon = 121.034
    m_per_deg_lat = 110_900.0  # ~1 deg of latitude at 30.6 N (the projection's own scale differs by < 0.5 %)
    got = {}
    for name, d_m in (("A", -200.0), ("B", 150.0), ("D", 2000.0), ("E", 3500.0)):
        lc = location_code(CONFIG, idx, lon, 30.6 + d_m / m_per_deg_lat, {"PH01": Level.ORANGE})
        got[name] = (lc.zone, lc.code)
    assert got == {"A": ("A", Level.RED), "B": ("B", Level.ORANGE), "D": ("D", Level.YELLOW), "E": ("E", Level.BLUE)}


@settings(max_examples=300, deadline=None)
@given(mean=st.floats(0.0, 50.0), dm=st.floats(0.0, 20.0), gust=st.floats(0.0, 60.0), dg=st.floats(0.0, 20.0),
       typhoon=st.booleans())
def test_more_wind_never_lowers_the_wind_level(mean: float, dm: float, gust: float, dg: float,
                                               typhoon: bool) -> None:
    """Property (issue 13, wind): a higher sustained mean or a higher persistent gust never lowers the
    level, with or without a typhoon warning."""
    feeds = [FeedItem("T1", "CMA", "typhoon_warning", Level.BLUE, NOW - timedelta(hours=1),
                      NOW + timedelta(hours=6), "typhoon")] if typhoon else []

    def level(m: float, g: float) -> Level:
        o = obs_for(1, hs=0.0, wind=m, gust=g)
        recent = {"W01": {"wind_gust": [Observation(g, NOW - timedelta(minutes=1)), Observation(g, NOW)]}}
        d = evaluate_segment(CONFIG, SEG, o, None, [], feeds, NOW, recent=recent)
        return _hazard(d, "wind").level

    assert level(mean + dm, gust + dg).rank >= level(mean, gust).rank


def test_classify_is_inclusive_at_each_bound() -> None:
    """Every threshold is an inclusive lower bound (docs/riskcode.md "Levels")."""
    w = CONFIG.storm_tide.default_warning_levels_m
    assert classify(w.red, w)[0] is Level.RED and classify(w.red - 0.001, w)[0] is Level.ORANGE


@settings(max_examples=200, deadline=None)
@given(value=st.floats(-8.0, 12.0), dv=st.floats(0.0, 3.0), offset=st.floats(-5.0, 5.0))
def test_datum_conversion_is_one_shift_that_keeps_order(value: float, dv: float, offset: float) -> None:
    """Property (issue 13, datum): converting to CN1985 is one shift by the station's offset, its
    inverse gives the reading back (both rounded to 0.1 mm), and a higher reading never converts to
    a lower level."""
    from haixun.data.datum import from_warning_datum, to_warning_datum
    cn = to_warning_datum("tide_level", value, offset)
    assert cn == pytest.approx(value + offset, abs=6e-5)
    assert from_warning_datum("tide_level", cn, offset) == pytest.approx(value, abs=1.1e-4)
    assert to_warning_datum("tide_level", value + dv, offset) >= cn


def test_wind_typhoon_case_38_mps_gust_is_red() -> None:
    """docs/riskcode.md wind case: under a typhoon warning a persistent 38 m/s gust is typhoon orange
    (force 12 = 32.7 <= 38 < 41.5) but gale red (force 13 = 37.0): red. Mean 9.0 m/s."""
    w = CONFIG.wind
    assert (w.mps(12), w.mps(13), w.mps(14)) == (32.7, 37.0, 41.5)
    typhoon = [FeedItem("T1", "CMA", "typhoon_warning", Level.ORANGE, NOW - timedelta(hours=1),
                        NOW + timedelta(hours=6), "typhoon")]
    o = obs_for(1, hs=0.0, wind=9.0, gust=38.0)
    recent = {"W01": {"wind_gust": [Observation(38.0, NOW - timedelta(minutes=1)), Observation(38.0, NOW)]}}
    r = _hazard(evaluate_segment(CONFIG, SEG, o, None, [], typhoon, NOW, recent=recent), "wind")
    assert r.level is Level.RED and "never lowers" in r.detail

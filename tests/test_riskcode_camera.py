"""Issue 14 (camera item): a second camera of the same kind is not independent corroboration;
corroboration needs an independent kind of source (the gauges' computed overtopping, or a camera
of another sensor kind)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.riskcode.model import CameraEventInput
from haixun.riskcode.segment import evaluate_segment
from tests.support.riskcode import CONFIG, NOW, obs_for, segment

SEG = segment(1, crest=20.0)  # very high crest: computed overtopping stays ~0, gauges never corroborate
CALM = CONFIG.storm_tide.default_warning_levels_m.blue - 1.0


def cam(cid: str, kind: str, minutes_ago: float, typ: str = "overtopping") -> CameraEventInput:
    return CameraEventInput(cid, NOW - timedelta(minutes=minutes_ago), typ, 0.95, ("PH01",), kind)


def camera_reason(events):
    d = evaluate_segment(CONFIG, SEG, obs_for(1, tide=CALM, hs=0.0), None, events, [], NOW)
    return next(r for r in d.hazards if r.hazard == "camera:overtopping")


def test_two_cameras_of_the_same_kind_are_not_corroboration() -> None:
    r = camera_reason([cam("CAM-01", "thermal_ptz", 5), cam("CAM-03", "thermal_ptz", 3)])
    assert r.level is CONFIG.camera.types["overtopping"].level  # yellow, not orange (today: orange)
    assert "not corroborated by an independent source" in r.detail and "CAM-01" in r.detail
    assert "same camera kind thermal_ptz: not independent" in r.detail


def test_a_camera_of_another_kind_corroborates() -> None:
    r = camera_reason([cam("CAM-01", "thermal_ptz", 5), cam("CAM-02", "starlight_dome", 3)])
    assert r.level is CONFIG.camera.types["overtopping"].corroborated_level
    assert "another kind CAM-01" in r.detail


def test_unknown_kind_is_taken_as_the_same_kind() -> None:
    r = camera_reason([cam("CAM-01", "", 5), cam("CAM-02", "starlight_dome", 3)])
    assert r.level is CONFIG.camera.types["overtopping"].level


def test_gauges_corroborate_a_single_camera() -> None:
    seg = segment(1, crest=7.0, toe=0.0)
    tide = seg.crest_level_m - 2.5
    d = evaluate_segment(CONFIG, seg, obs_for(1, tide=tide, hs=1.5, tp=6.0), None,
                         [cam("CAM-01", "thermal_ptz", 5)], [], NOW)
    r = next(r for r in d.hazards if r.hazard == "camera:overtopping")
    assert d.overtopping_lpsm is not None and d.overtopping_lpsm >= CONFIG.camera.corroboration_q_lpsm
    assert r.level is CONFIG.camera.types["overtopping"].corroborated_level and "gauges" in r.detail


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), kind=st.sampled_from(["thermal_ptz", "starlight_dome", ""]))
def test_any_number_of_same_kind_cameras_never_corroborates(n: int, kind: str) -> None:
    r = camera_reason([cam(f"CAM-{i:02d}", kind, 1 + i) for i in range(n)])
    assert r.level is CONFIG.camera.types["overtopping"].level

"""EurOtop 2018 with the section's geometry (issue 13): berm, wave wall, obliquity, vertical-wall
impulsive check, overflow, Hm0-dependent tolerable limits, the design band, wave-period kinds."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.data.geography import load_geography
from haixun.riskcode import hazards
from haixun.riskcode.levels import Level
from haixun.riskcode.model import Observation, SegmentSpec
from haixun.riskcode.overtopping import (
    gamma_b_berm,
    gamma_beta_oblique,
    gamma_v_wave_wall,
    mean_overtopping,
    overflow_q,
)
from haixun.riskcode.segment import evaluate_segment
from tests.support.riskcode import CONFIG, NOW, obs_for, segment

G = 9.81


def test_issue_case_wave_wall_and_berm() -> None:
    """Rc 3.5 m, Hm0 2.5 m, T 6.5 s, 1:3.5, gamma_f 0.75. Worked by hand in docs/riskcode.md:
    L = 65.96 m, xi = 0.2857/sqrt(2.5/65.96) = 1.4676; all gammas 1 except gamma_f: eq 5.10
    0.023/sqrt(0.2857)*1.4676*exp(-(2.7*3.5/(1.4676*2.5*0.75))^1.3 = 3.4344^1.3 = 4.974) = 4.375e-4,
    x sqrt(9.81*2.5^3) = 12.38 -> 5.42 l/s/m. With gamma_b 0.8, gamma_v 0.65: 0.8*... exp(-(3.4344/0.52)^1.3
    = 11.64) -> 5.5e-3 l/s/m."""
    kw = dict(structure="sloped_dike", still_water_m=0.0, crest_level_m=3.5, hm0_m=2.5, period_s=6.5,
              slope_tan=1 / 3.5, gamma_f=0.75)
    plain = mean_overtopping(**kw)  # type: ignore[arg-type]
    assert plain.q_lpsm == pytest.approx(5.42, rel=5e-3)
    both = mean_overtopping(**kw, gamma_b=0.8, gamma_v=0.65)  # type: ignore[arg-type]
    assert both.q_lpsm == pytest.approx(0.0055, rel=2e-2)
    # the same from geometry: a vertical wave wall gives gamma_v = 1.35 - 0.0078*90 = 0.648 (and gamma* = gamma_v)
    wall = mean_overtopping(**kw, gamma_b=0.8, wave_wall_angle_deg=90.0)  # type: ignore[arg-type]
    assert wall.gamma_v == pytest.approx(0.648) and wall.gamma_star == pytest.approx(0.648)
    assert wall.q_lpsm == pytest.approx(0.0053, rel=2e-2)
    # under the 2018 limits for Hm0 2.5 m it is "none"; the plain 5.42 was yellow (limit 0.55, orange 7.07)
    assert hazards.overtopping(CONFIG, wall, NOW).level is Level.NONE
    assert hazards.overtopping(CONFIG, plain, NOW).level is Level.YELLOW


def test_berm_factor_from_geometry() -> None:
    """Berm 6 m at SWL: r_db = 0, L_berm = 2*2.5/0.2857 + 6 = 23.5 m, gamma_b = 1 - 6/23.5 = 0.745."""
    gb = gamma_b_berm(berm_width_m=6.0, berm_level_m=5.0, still_water_m=5.0, hm0=2.5, slope_tan=1 / 3.5, xi=1.47,
                      gamma_f=0.75, gamma_beta=1.0)
    assert gb == pytest.approx(1 - 6 / 23.5, rel=1e-6)
    # 2 Hm0 or more below the water: no influence; far above the run-up: no influence
    assert gamma_b_berm(berm_width_m=6.0, berm_level_m=0.0, still_water_m=5.0, hm0=2.5, slope_tan=1 / 3.5,
                        xi=1.47, gamma_f=0.75, gamma_beta=1.0) == 1.0
    assert gamma_b_berm(berm_width_m=6.0, berm_level_m=12.0, still_water_m=5.0, hm0=2.5, slope_tan=1 / 3.5,
                        xi=1.47, gamma_f=0.75, gamma_beta=1.0) == 1.0
    # a very wide berm is held at the manual's 0.6
    assert gamma_b_berm(berm_width_m=200.0, berm_level_m=5.0, still_water_m=5.0, hm0=2.5, slope_tan=1 / 3.5,
                        xi=1.47, gamma_f=0.75, gamma_beta=1.0) == 0.6


def test_wall_and_obliquity_factors() -> None:
    assert gamma_v_wave_wall(None) == 1.0 and gamma_v_wave_wall(30.0) == 1.0
    assert gamma_v_wave_wall(90.0) == pytest.approx(0.648) and gamma_v_wave_wall(60.0) == pytest.approx(0.882)
    assert gamma_beta_oblique(None, "sloped_dike") == 1.0
    assert gamma_beta_oblique(30.0, "sloped_dike") == pytest.approx(0.901)
    assert gamma_beta_oblique(120.0, "sloped_dike") == pytest.approx(1 - 0.0033 * 80)
    assert gamma_beta_oblique(30.0, "vertical_wall") == pytest.approx(0.814)
    assert gamma_beta_oblique(60.0, "vertical_wall") == 0.72


def test_vertical_wall_impulsive_issue_case() -> None:
    """SWL 3.0 m, toe -2 m (h 5 m), crest 9.4 m (Rc 6.4 m), Hm0 2.5 m, T 7 s: L = 76.50 m,
    h^2/(Hm0 L) = 25/191.3 = 0.131 < 0.23 -> impulsive; Rc/Hm0 = 2.56 >= 1.35 -> eq 7.8:
    0.0014 * sqrt(2.5/(5*0.03268)) = 3.911 * 2.56^-3 = 0.0596 -> 3.264e-4 * 12.38 = 4.04 l/s/m
    (eq 7.1 alone: 0.019 l/s/m)."""
    r = mean_overtopping(structure="vertical_wall", still_water_m=3.0, crest_level_m=9.4, hm0_m=2.5, period_s=7.0,
                         slope_tan=10.0, toe_level_m=-2.0, toe_depth_limit_ratio=0.55)
    assert r.impulsive and r.equation == "eq7.8"
    assert r.q_lpsm == pytest.approx(4.04, rel=5e-3)
    reason = hazards.overtopping(CONFIG, r, NOW)
    assert reason.level is Level.ORANGE and "violent" in reason.detail
    # deep water at the toe (h 15 m): non-impulsive, eq 7.1 (the impulsive limit's Rc/Hm0 = 5.9 is beyond the data)
    deep = mean_overtopping(structure="vertical_wall", still_water_m=3.0, crest_level_m=9.4, hm0_m=2.5, period_s=7.0,
                            slope_tan=10.0, toe_level_m=-12.0)
    assert not deep.impulsive and deep.equation == "eq7.1" and deep.q_lpsm == pytest.approx(0.0194, rel=2e-2)


def test_negative_freeboard_adds_weir_overflow() -> None:
    """0.2 m over the crest, no waves: q = 0.5443 * sqrt(9.81 * 0.2^3) = 0.1525 m3/s/m = 152.5 l/s/m."""
    still = mean_overtopping(structure="sloped_dike", still_water_m=8.2, crest_level_m=8.0, hm0_m=0.0, period_s=5.0,
                             slope_tan=1 / 3)
    assert still.q_lpsm == pytest.approx(152.5, rel=1e-3) and still.negative_freeboard
    assert overflow_q(-0.2) == pytest.approx(152.5, rel=1e-3) and overflow_q(0.1) == 0.0
    waves = mean_overtopping(structure="sloped_dike", still_water_m=8.2, crest_level_m=8.0, hm0_m=1.0, period_s=5.0,
                             slope_tan=1 / 3)
    at_zero = mean_overtopping(structure="sloped_dike", still_water_m=8.0, crest_level_m=8.0, hm0_m=1.0, period_s=5.0,
                               slope_tan=1 / 3)
    assert waves.q_lpsm == pytest.approx(at_zero.q_lpsm + 152.5, rel=1e-3)
    assert waves.overflow_lpsm == pytest.approx(152.5, rel=1e-3) and waves.equation == "negative_freeboard"
    assert hazards.overtopping(CONFIG, waves, NOW).level is Level.RED


def test_tolerable_limits_depend_on_hm0() -> None:
    """EurOtop 2018 Table 3.3: 0.5 l/s/m is beyond the people limit at Hm0 3 m (0.3) -> yellow, but below
    blue at Hm0 1 m (1.0) -> none."""
    o = CONFIG.overtopping
    assert o.thresholds(3.0, False).yellow == pytest.approx(0.3) and o.thresholds(1.0, False).yellow == 10.0
    assert o.thresholds(2.5, False).yellow == pytest.approx(math.sqrt(1.0 * 0.3))  # log-linear between rows

    def level(q: float, hm0: float) -> Level:
        r = mean_overtopping(structure="sloped_dike", still_water_m=0.0, crest_level_m=1.0, hm0_m=hm0, period_s=6.0,
                             slope_tan=1 / 3)
        return hazards.overtopping(CONFIG, type(r)(**{**{f: getattr(r, f) for f in r.__slots__}, "q_lpsm": q}),
                                   NOW).level

    assert level(0.5, 3.0) is Level.YELLOW and level(0.5, 1.0) is Level.NONE


def test_design_band_is_shown() -> None:
    r = mean_overtopping(structure="sloped_dike", still_water_m=0.0, crest_level_m=3.5, hm0_m=2.5, period_s=6.5,
                         slope_tan=1 / 3.5, gamma_f=0.75)
    assert r.band_ratio is not None and 1.3 <= r.band_ratio <= 1.95
    assert f"design/assessment {r.q_design_lpsm:.3g}" in hazards.overtopping(CONFIG, r, NOW).detail


def _geo_segment(structure: str) -> SegmentSpec:
    geo = load_geography()
    seg = next(s for s in geo.segments if s.structure == structure)
    return SegmentSpec.model_validate({**seg.properties, "coords": [tuple(c) for c in seg.geometry.coords]})


def test_geography_sections_carry_berm_and_wave_wall_and_they_are_used() -> None:
    seg = _geo_segment("sloped_dike")
    assert seg.berm_width_m > 0 and seg.berm_level_m is not None and seg.wave_wall_height_m > 0
    assert seg.wave_wall_angle_deg == 90.0
    swl = seg.berm_level_m
    obs: dict[str, dict[str, Observation]] = {}
    obs.setdefault(seg.tide_station, {})["tide_level"] = Observation(swl, NOW)
    obs.setdefault(seg.wave_station, {}).update(wave_height=Observation(2.5, NOW), wave_period=Observation(7.0, NOW))
    obs.setdefault(seg.wind_station, {}).update(wind_speed=Observation(10.0, NOW), wind_gust=Observation(14.0, NOW))
    d = evaluate_segment(CONFIG, seg, obs, None, [], [], NOW)
    bare = evaluate_segment(CONFIG, seg.model_copy(update={"berm_width_m": 0.0, "wave_wall_height_m": 0.0}), obs,
                            None, [], [], NOW)
    assert d.overtopping_lpsm is not None and bare.overtopping_lpsm is not None
    assert d.overtopping_lpsm < bare.overtopping_lpsm / 10
    r = next(h for h in d.hazards if h.hazard == "overtopping")
    assert "gamma_v 0.65" in r.detail and "gamma_b 0." in r.detail
    assert d.overtopping_design_lpsm is not None and d.overtopping_design_lpsm > d.overtopping_lpsm


def test_obliquity_from_the_wind_direction() -> None:
    seg = segment(1, crest=8.0, toe=0.0)  # faces south (180 deg)
    base = obs_for(1, tide=5.5, hs=2.0, tp=7.0)
    head_on = {**base, "W01": {**base["W01"], "wind_dir": Observation(180.0, NOW)}}
    oblique = {**base, "W01": {**base["W01"], "wind_dir": Observation(250.0, NOW)}}
    stale = {**base, "W01": {**base["W01"], "wind_dir": Observation(250.0, NOW - timedelta(hours=2))}}
    q = {k: evaluate_segment(CONFIG, seg, o, None, [], [], NOW).overtopping_lpsm
         for k, o in (("head_on", head_on), ("oblique", oblique), ("stale", stale), ("none", base))}
    assert q["head_on"] == q["none"] == q["stale"]
    assert q["oblique"] < q["head_on"]  # 70 deg - 30 deg spread = 40 deg: gamma_beta 0.868


def test_wave_period_kind_converts_to_tm10_in_one_place() -> None:
    seg = segment(1, crest=8.0, toe=0.0).model_copy(update={"slope_tan": 0.2})  # gentle: eq 5.10 (period) governs
    o = obs_for(1, tide=5.5, hs=2.0, tp=7.7)
    as_tm10 = evaluate_segment(CONFIG, seg, o, None, [], [], NOW, {"B01": "Tm-1,0"})
    as_tp = evaluate_segment(CONFIG, seg, o, None, [], [], NOW, {"B01": "Tp"})
    same = evaluate_segment(CONFIG, seg, obs_for(1, tide=5.5, hs=2.0, tp=7.7 * 0.909), None, [], [], NOW,
                            {"B01": "Tm-1,0"})
    assert as_tp.overtopping_lpsm == pytest.approx(same.overtopping_lpsm, rel=1e-9)
    assert as_tp.overtopping_lpsm < as_tm10.overtopping_lpsm
    assert "Tp 7.7 s -> Tm-1,0 7.0 s" in next(h for h in as_tp.hazards if h.hazard == "overtopping").detail
    unstated = evaluate_segment(CONFIG, seg, o, None, [], [], NOW, {})
    assert unstated.overtopping_lpsm > as_tm10.overtopping_lpsm  # the largest factor (Tz, 1.164)
    assert "not stated" in next(h for h in unstated.hazards if h.hazard == "overtopping").detail


def test_geography_buoys_state_their_period_kind() -> None:
    geo = load_geography()
    buoys = [s for s in geo.stations if "wave_period" in s.quantities]
    assert buoys and all(s.wave_period_kind in CONFIG.overtopping.tm10_factor for s in buoys)


sections = dict(
    structure=st.just("sloped_dike"), swl=st.floats(-1.0, 8.0), rc=st.floats(0.0, 6.0), hm0=st.floats(0.2, 4.0),
    t=st.floats(3.0, 12.0), tan_a=st.floats(0.15, 0.6), gf=st.floats(0.4, 1.0), berm_w=st.floats(0.5, 30.0),
    berm_dz=st.floats(-4.0, 4.0), wall=st.floats(45.0, 90.0), beta=st.floats(0.0, 90.0),
)


def _q(structure: str, swl: float, rc: float, hm0: float, t: float, tan_a: float, gf: float, berm_w: float,
       berm_dz: float, wall: float | None, beta: float) -> float:
    return mean_overtopping(structure=structure, still_water_m=swl, crest_level_m=swl + rc, hm0_m=hm0,  # type: ignore[arg-type]
                            period_s=t, slope_tan=tan_a, gamma_f=gf, berm_width_m=berm_w,
                            berm_level_m=swl + berm_dz if berm_w > 0 else None, wave_wall_angle_deg=wall,
                            wave_obliquity_deg=beta).q_lpsm


@settings(max_examples=300, deadline=None)
@given(**sections)
def test_berm_or_wave_wall_never_raises_q(structure: str, swl: float, rc: float, hm0: float, t: float, tan_a: float,
                                          gf: float, berm_w: float, berm_dz: float, wall: float, beta: float) -> None:
    args = (structure, swl, rc, hm0, t, tan_a, gf)
    full = _q(*args, berm_w, berm_dz, wall, beta)
    assert full <= _q(*args, 0.0, berm_dz, wall, beta) * (1 + 1e-12)
    assert full <= _q(*args, berm_w, berm_dz, None, beta) * (1 + 1e-12)
    assert _q(*args, 0.0, berm_dz, None, beta) >= full


@settings(max_examples=300, deadline=None)
@given(**sections, d=st.floats(0.01, 2.0))
def test_q_monotonic_in_freeboard_with_geometry(structure: str, swl: float, rc: float, hm0: float, t: float,
                                                tan_a: float, gf: float, berm_w: float, berm_dz: float, wall: float,
                                                beta: float, d: float) -> None:
    lo = _q(structure, swl, rc, hm0, t, tan_a, gf, berm_w, berm_dz, wall, beta)
    # a higher crest (same water, same berm): less overtopping
    hi = mean_overtopping(structure="sloped_dike", still_water_m=swl, crest_level_m=swl + rc + d, hm0_m=hm0,
                          period_s=t, slope_tan=tan_a, gamma_f=gf, berm_width_m=berm_w, berm_level_m=swl + berm_dz,
                          wave_wall_angle_deg=wall, wave_obliquity_deg=beta).q_lpsm
    assert hi <= lo


@settings(max_examples=300, deadline=None)
@given(structure=st.sampled_from(["sloped_dike", "vertical_wall"]), swl=st.floats(0.0, 8.0), rc=st.floats(-1.0, 6.0),
       hm0=st.floats(0.05, 4.0), dh=st.floats(0.01, 2.0), t=st.floats(3.0, 12.0), toe=st.floats(-6.0, 3.0),
       wall=st.sampled_from([None, 90.0]))
def test_q_monotonic_in_hm0_without_berm(structure: str, swl: float, rc: float, hm0: float, dh: float, t: float,
                                         toe: float, wall: float | None) -> None:
    kw = dict(structure=structure, still_water_m=swl, crest_level_m=swl + rc, period_s=t, slope_tan=1 / 3,
              toe_level_m=toe, wave_wall_angle_deg=wall)
    assert mean_overtopping(hm0_m=hm0 + dh, **kw).q_lpsm >= mean_overtopping(hm0_m=hm0, **kw).q_lpsm * (1 - 1e-12)  # type: ignore[arg-type]


def test_vertical_wall_q_never_falls_as_the_tide_rises_past_the_impulsive_limit() -> None:
    """Quay wall (toe -3.8 m, crest 7.6 m), Hm0 2.5 m, T 6 s: L = 56.2 m, the impulsive limit
    h^2/(Hm0 L) = 0.23 is crossed at h = sqrt(0.23 x 2.5 x 56.2) = 5.68 m (SWL 1.88 m, Rc/Hm0 2.29).
    Just above it eq. 7.1 alone is far below eq. 7.8 just below it; q is held at the limit's value."""
    kw = dict(structure="vertical_wall", crest_level_m=7.6, hm0_m=2.5, period_s=6.0, slope_tan=10.0,
              toe_level_m=-3.8, toe_depth_limit_ratio=0.55)
    qs = [mean_overtopping(still_water_m=-1.0 + 0.05 * i, **kw).q_lpsm for i in range(140)]  # type: ignore[arg-type]
    assert all(b >= a for a, b in zip(qs, qs[1:], strict=False))
    above = mean_overtopping(still_water_m=2.5, **kw)  # type: ignore[arg-type]
    assert "held at the impulsive value" in above.detail and above.impulsive
    plain = mean_overtopping(still_water_m=2.5, structure="vertical_wall", crest_level_m=7.6, hm0_m=2.5, period_s=6.0,
                             slope_tan=10.0)
    assert above.q_lpsm > 10 * plain.q_lpsm
    # Table 3.3's violent row applies to a vertical structure whatever the tide
    calm = mean_overtopping(still_water_m=0.0, structure="vertical_wall", crest_level_m=7.6, hm0_m=0.5, period_s=4.0,
                            slope_tan=10.0, toe_level_m=-30.0)
    r = hazards.overtopping(CONFIG, calm, NOW)
    assert "violent overtopping row" in r.detail and r.level is Level.NONE


def test_a_quay_wall_is_judged_on_the_sea_state_at_its_toe_not_the_offshore_buoy() -> None:
    """In-fa replay, 19:47 on 25 July at the Zhapu port quay (PH07: vertical wall, crest 7.6 m, toe
    -3.8 m): SWL 1.62 m, offshore buoy Hs 4.01 m, Tm-1,0 6.7 s. Taken at the toe (depth-limited to
    0.55 x 5.42 = 2.98 m) it gave q 10.5 l/s/m by eq. 7.8, red; the toe sees 0.6 x 4.01 = 2.41 m
    (the simulator's own toe sea state was 2.5 m): h^2/(Hm0 L) = 5.42^2 / (2.41 x 70.1) = 0.174,
    impulsive, Rc/Hm0 = 5.98/2.41 = 2.48, eq. 7.8: 0.0014 x (2.41/(5.42 x 0.0344))^0.5 x 2.48^-3
    x sqrt(9.81 x 2.41^3) = 0.0014 x 3.60 x 0.0651 x 11.69 = 3.83 l/s/m: orange (trained staff 1-10)."""
    quay = segment(1, structure="vertical_wall", crest=7.6, toe=-3.8)
    quay = quay.model_copy(update={"slope_tan": 10.0})
    obs = obs_for(1, tide=1.62, hs=4.01, tp=6.7, wind=20.0, gust=27.0)
    d = evaluate_segment(CONFIG, quay, obs, None, [], [], NOW, period_kinds={"B01": "Tm-1,0"})
    ot = next(h for h in d.hazards if h.hazard == "overtopping")
    assert ot.value == pytest.approx(3.83, rel=0.02), ot.detail
    assert ot.level is Level.ORANGE, ot.detail
    assert "offshore buoy Hs 4.01 m" in ot.detail

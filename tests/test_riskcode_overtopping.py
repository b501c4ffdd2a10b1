"""EurOtop 2018 mean overtopping: hand-worked values, an independent reference, monotonicity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.riskcode.overtopping import breaker_parameter, deep_water_wavelength, mean_overtopping

G = 9.81


def _reference_q(structure: str, rc: float, hm0: float, t: float, tan_a: float,
                 gb: float = 1.0, gf: float = 1.0, gbeta: float = 1.0, gv: float = 1.0, gstar: float = 1.0) -> tuple[float, str]:
    """Independent, literal transcription of the manual's equations (l/s/m), written separately from
    haixun.riskcode.overtopping: wavelength via L = g T^2 / (2 pi), steepness s = Hm0 / L, xi = tan a / sqrt(s);
    dimensionless q* from eq. 5.10 / 5.11 (sloped) or eq. 7.1 (vertical), q = q* sqrt(g Hm0^3) * 1000."""
    if structure == "vertical_wall":
        qstar = 0.047 * math.exp(-math.pow(2.35 * rc / hm0, 1.3))
        eq = "eq7.1"
    else:
        wavelength = G * t ** 2 / (2 * math.pi)
        steepness = hm0 / wavelength
        xi = tan_a / steepness ** 0.5
        a = 0.023 * gb * xi / tan_a ** 0.5 * math.exp(-math.pow(2.7 * rc / (xi * hm0 * gb * gf * gbeta * gv), 1.3))
        b = 0.09 * math.exp(-math.pow(1.5 * rc / (hm0 * gf * gbeta * gstar), 1.3))
        qstar, eq = (a, "eq5.10") if a <= b else (b, "eq5.11")
    return qstar * (G * hm0 ** 3) ** 0.5 * 1000.0, eq


# Hand-worked (calculator, g = 9.81), kept to 3-4 significant figures:
# 1) sloped 1:3, Hm0 2 m, T 6 s, Rc 3 m: L0 = 9.81*36/2pi = 56.207 m; xi = 0.3333/sqrt(2/56.207) = 1.7671;
#    5.10: 0.023/sqrt(0.3333)*1.7671 = 0.070397; (2.7*3/(1.7671*2))^1.3 = 2.2919^1.3 = 2.9394; e^-2.9394 = 0.052911
#    -> 0.0037249;  5.11: 0.09*e^-(2.25^1.3 = 2.8697) = 0.0051044 -> 5.10 governs;
#    sqrt(9.81*8) = 8.8589 -> q = 0.0037249*8.8589 = 0.03300 m3/s/m = 33.0 l/s/m.
# 2) vertical wall, Hm0 2 m, Rc 3 m: (2.35*3/2)^1.3 = 3.525^1.3 = 5.1443; 0.047*e^-5.1443 = 2.7425e-4;
#    *8.8589 = 2.4296e-3 m3/s/m = 2.43 l/s/m.
# 3) sloped 1:2, Hm0 1 m, T 8 s, Rc 1 m: L0 = 99.925 m; xi = 0.5*sqrt(99.925) = 4.9981;
#    5.10: 0.032527*4.9981*e^-((2.7/4.9981)^1.3 = 0.44907) = 0.10377; 5.11: 0.09*e^-(1.5^1.3 = 1.6940) = 0.016543
#    -> 5.11 governs; *sqrt(9.81) = 3.1321 -> 0.05181 m3/s/m = 51.8 l/s/m.
HAND = [
    ("sloped_dike", 3.0, 2.0, 6.0, 1 / 3, 33.0, "eq5.10"),
    ("vertical_wall", 3.0, 2.0, 6.0, 1 / 3, 2.430, "eq7.1"),
    ("sloped_dike", 1.0, 1.0, 8.0, 0.5, 51.8, "eq5.11"),
]


@pytest.mark.parametrize(("structure", "rc", "hm0", "t", "tan_a", "q", "eq"), HAND)
def test_hand_worked_cases(structure: str, rc: float, hm0: float, t: float, tan_a: float, q: float, eq: str) -> None:
    r = mean_overtopping(structure=structure, still_water_m=5.0, crest_level_m=5.0 + rc, hm0_m=hm0, period_s=t,  # type: ignore[arg-type]
                         slope_tan=tan_a)
    assert r.q_lpsm == pytest.approx(q, rel=2e-3)
    assert r.equation == eq
    assert r.freeboard_m == pytest.approx(rc)


# (structure, Rc, Hm0, Tm-1,0, tan a, gamma_f, gamma_beta): 12 cases across both equations and regimes.
TABLE = [
    ("sloped_dike", 4.0, 1.5, 5.0, 1 / 3, 1.0, 1.0),
    ("sloped_dike", 2.0, 1.5, 5.0, 1 / 3, 1.0, 1.0),
    ("sloped_dike", 1.0, 2.5, 7.0, 1 / 4, 1.0, 1.0),
    ("sloped_dike", 3.0, 3.0, 8.0, 1 / 3, 0.9, 1.0),
    ("sloped_dike", 2.5, 2.0, 6.5, 1 / 2.5, 0.55, 1.0),
    ("sloped_dike", 0.5, 1.0, 4.0, 1 / 6, 1.0, 0.9),
    ("sloped_dike", 0.0, 2.0, 6.0, 1 / 3, 1.0, 1.0),
    ("sloped_dike", 1.5, 1.2, 9.0, 1 / 1.5, 1.0, 1.0),
    ("vertical_wall", 1.0, 1.0, 5.0, 1.0, 1.0, 1.0),
    ("vertical_wall", 2.0, 2.5, 7.0, 1.0, 1.0, 1.0),
    ("vertical_wall", 4.0, 3.0, 8.0, 1.0, 1.0, 1.0),
    ("vertical_wall", 0.0, 1.5, 6.0, 1.0, 1.0, 1.0),
]


@pytest.mark.parametrize(("structure", "rc", "hm0", "t", "tan_a", "gf", "gbeta"), TABLE)
def test_table_against_independent_reference(structure: str, rc: float, hm0: float, t: float, tan_a: float,
                                             gf: float, gbeta: float) -> None:
    expected, eq = _reference_q(structure, rc, hm0, t, tan_a, gf=gf, gbeta=gbeta)
    r = mean_overtopping(structure=structure, still_water_m=4.0, crest_level_m=4.0 + rc, hm0_m=hm0, period_s=t,  # type: ignore[arg-type]
                         slope_tan=tan_a, gamma_f=gf, gamma_beta=gbeta)
    assert r.q_lpsm == pytest.approx(expected, rel=1e-9)
    assert r.equation == eq


def test_table_spans_both_sloped_equations() -> None:
    eqs = {_reference_q(s, rc, h, t, a, gf=f, gbeta=b)[1] for s, rc, h, t, a, f, b in TABLE}
    assert {"eq5.10", "eq5.11", "eq7.1"} <= eqs


def test_breaker_parameter_and_wavelength() -> None:
    assert deep_water_wavelength(6.0) == pytest.approx(56.207, rel=1e-4)
    assert breaker_parameter(1 / 3, 2.0, 6.0) == pytest.approx(1.7671, rel=1e-4)


def test_negative_freeboard_flagged_and_depth_limit() -> None:
    r = mean_overtopping(structure="sloped_dike", still_water_m=8.2, crest_level_m=8.0, hm0_m=1.0, period_s=5.0, slope_tan=1 / 3)
    assert r.equation == "negative_freeboard" and r.freeboard_m == pytest.approx(-0.2) and r.negative_freeboard
    # toe at 2.0 m, SWL 3.0 m -> depth 1 m -> Hm0 limited to 0.55 m
    r = mean_overtopping(structure="sloped_dike", still_water_m=3.0, crest_level_m=8.0, hm0_m=2.0, period_s=6.0,
                         slope_tan=1 / 3, toe_level_m=2.0, toe_depth_limit_ratio=0.55)
    assert r.hm0_used_m == pytest.approx(0.55)
    assert r.q_lpsm == pytest.approx(_reference_q("sloped_dike", 5.0, 0.55, 6.0, 1 / 3)[0], rel=1e-9)
    dry = mean_overtopping(structure="sloped_dike", still_water_m=1.0, crest_level_m=8.0, hm0_m=2.0, period_s=6.0,
                           slope_tan=1 / 3, toe_level_m=2.0, toe_depth_limit_ratio=0.55)
    assert dry.q_lpsm == 0.0 and dry.equation == "no_waves"


structures = st.sampled_from(["sloped_dike", "vertical_wall"])


@settings(max_examples=150, deadline=None)
@given(structure=structures, rc1=st.floats(0.0, 6.0), drc=st.floats(0.01, 3.0), hm0=st.floats(0.1, 5.0),
       t=st.floats(3.0, 14.0), tan_a=st.floats(0.1, 0.7))
def test_q_decreases_with_freeboard(structure: str, rc1: float, drc: float, hm0: float, t: float, tan_a: float) -> None:
    kw = dict(structure=structure, still_water_m=0.0, hm0_m=hm0, period_s=t, slope_tan=tan_a)
    q_low = mean_overtopping(crest_level_m=rc1, **kw).q_lpsm  # type: ignore[arg-type]
    q_high = mean_overtopping(crest_level_m=rc1 + drc, **kw).q_lpsm  # type: ignore[arg-type]
    assert q_high <= q_low


@settings(max_examples=150, deadline=None)
@given(structure=structures, rc=st.floats(0.0, 6.0), h1=st.floats(0.1, 5.0), dh=st.floats(0.01, 2.0),
       t=st.floats(3.0, 14.0), tan_a=st.floats(0.1, 0.7))
def test_q_increases_with_wave_height(structure: str, rc: float, h1: float, dh: float, t: float, tan_a: float) -> None:
    kw = dict(structure=structure, still_water_m=0.0, crest_level_m=rc, period_s=t, slope_tan=tan_a)
    assert mean_overtopping(hm0_m=h1 + dh, **kw).q_lpsm >= mean_overtopping(hm0_m=h1, **kw).q_lpsm  # type: ignore[arg-type]

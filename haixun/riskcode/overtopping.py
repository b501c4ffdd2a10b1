"""Mean wave overtopping discharge, EurOtop 2018 (2nd edition) manual.

Hand-written on purpose: there is no maintained PyPI package for EurOtop
(the Deltares coastal-structures-toolbox and pyCoastal are not published
libraries we can depend on), and the formulas are a few lines each.

Units: levels and heights in m, periods in s, discharge ``q`` in l/s per m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Equation = Literal["eq5.10", "eq5.11", "eq7.1", "negative_freeboard", "no_waves"]


@dataclass(frozen=True, slots=True)
class OvertoppingResult:
    q_lpsm: float
    freeboard_m: float
    equation: Equation
    breaker_xi: float | None
    hm0_used_m: float
    detail: str

    @property
    def negative_freeboard(self) -> bool:
        return self.freeboard_m < 0


MIN_HM0_M = 1e-3  # below a millimetre (sensor resolution) there are no waves to overtop


def _exp_neg_pow13(x: float) -> float:
    """exp(-x^1.3) for x >= 0, without overflow (x > 300 gives 0 to double precision anyway)."""
    return 0.0 if x > 300.0 else math.exp(-(x**1.3))


def deep_water_wavelength(period_s: float, g: float = 9.81) -> float:
    """L_m-1,0 = g T^2 / (2 pi)."""
    return g * period_s * period_s / (2.0 * math.pi)


def breaker_parameter(slope_tan: float, hm0: float, period_s: float, g: float = 9.81) -> float:
    """xi_m-1,0 = tan(alpha) / sqrt(Hm0 / L_m-1,0)."""
    return slope_tan / math.sqrt(hm0 / deep_water_wavelength(period_s, g))


def sloped_dike_q(
    rc: float,
    hm0: float,
    period_s: float,
    slope_tan: float,
    *,
    gamma_b: float = 1.0,
    gamma_f: float = 1.0,
    gamma_beta: float = 1.0,
    gamma_v: float = 1.0,
    gamma_star: float = 1.0,
    g: float = 9.81,
) -> tuple[float, Equation, float]:
    """q (l/s/m) for a sloped dike, freeboard ``rc`` >= 0 and ``hm0`` > 0.

    EurOtop 2018 eq. 5.10 (mean value approach) capped by eq. 5.11:
      q/sqrt(g Hm0^3) = 0.023/sqrt(tan a) gb xi exp(-(2.7 Rc / (xi Hm0 gb gf gbeta gv))^1.3)
      max:             0.09 exp(-(1.5 Rc / (Hm0 gf gbeta g*))^1.3)
    Returns (q, governing equation, xi).
    """
    xi = breaker_parameter(slope_tan, hm0, period_s, g)
    scale = math.sqrt(g * hm0**3) * 1000.0
    q510 = 0.023 / math.sqrt(slope_tan) * gamma_b * xi * _exp_neg_pow13(
        2.7 * rc / (xi * hm0 * gamma_b * gamma_f * gamma_beta * gamma_v)
    )
    q511 = 0.09 * _exp_neg_pow13(1.5 * rc / (hm0 * gamma_f * gamma_beta * gamma_star))
    if q510 <= q511:
        return q510 * scale, "eq5.10", xi
    return q511 * scale, "eq5.11", xi


def vertical_wall_q(rc: float, hm0: float, g: float = 9.81) -> float:
    """q (l/s/m) for a vertical wall, non-impulsive conditions, EurOtop 2018 eq. 7.1:
    q/sqrt(g Hm0^3) = 0.047 exp(-(2.35 Rc / Hm0)^1.3)."""
    return 0.047 * _exp_neg_pow13(2.35 * rc / hm0) * math.sqrt(g * hm0**3) * 1000.0


def mean_overtopping(
    *,
    structure: Literal["sloped_dike", "vertical_wall"],
    still_water_m: float,
    crest_level_m: float,
    hm0_m: float,
    period_s: float,
    slope_tan: float,
    toe_level_m: float | None = None,
    toe_depth_limit_ratio: float = 0.0,
    gamma_b: float = 1.0,
    gamma_f: float = 1.0,
    gamma_beta: float = 1.0,
    gamma_v: float = 1.0,
    gamma_star: float = 1.0,
    g: float = 9.81,
) -> OvertoppingResult:
    """Mean overtopping discharge at a seawall section.

    ``Rc = crest_level - still_water``. With ``toe_depth_limit_ratio`` > 0 and
    a toe level, ``Hm0`` is limited to ``ratio * (SWL - toe)`` (depth-limited
    waves at the toe; 0 when the toe is dry). A negative freeboard (water over
    the crest) is outside the formulas' range: q is evaluated at Rc = 0 (a
    lower bound) and flagged ``negative_freeboard``.
    """
    if hm0_m < 0 or period_s <= 0 or slope_tan <= 0:
        raise ValueError(f"invalid wave/slope input: Hm0={hm0_m}, T={period_s}, tan a={slope_tan}")
    rc = crest_level_m - still_water_m
    hm0 = hm0_m
    notes = []
    if toe_level_m is not None and toe_depth_limit_ratio > 0:
        depth = max(0.0, still_water_m - toe_level_m)
        cap = toe_depth_limit_ratio * depth
        if hm0 > cap:
            notes.append(f"Hm0 {hm0_m:.2f} m depth-limited to {cap:.2f} m (toe depth {depth:.2f} m)")
            hm0 = cap
    rc_eval = max(rc, 0.0)
    if hm0 < MIN_HM0_M:
        eq: Equation = "negative_freeboard" if rc < 0 else "no_waves"
        return OvertoppingResult(0.0, rc, eq, None, hm0, "; ".join(notes + ["no waves at the toe"]))
    xi: float | None
    if structure == "vertical_wall":
        q = vertical_wall_q(rc_eval, hm0, g)
        eq = "eq7.1"
        xi = None
    else:
        q, eq, xi = sloped_dike_q(
            rc_eval, hm0, period_s, slope_tan, gamma_b=gamma_b, gamma_f=gamma_f,
            gamma_beta=gamma_beta, gamma_v=gamma_v, gamma_star=gamma_star, g=g,
        )
        if xi > 5.0:
            notes.append(f"xi={xi:.1f} > 5: outside eq. 5.10 range (very steep slope)")
    if rc < 0:
        notes.append(f"negative freeboard {rc:.2f} m: water over the crest, q at Rc=0 by {eq} is a lower bound")
        eq = "negative_freeboard"
    return OvertoppingResult(q, rc, eq, xi, hm0, "; ".join(notes))

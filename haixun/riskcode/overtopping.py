"""Mean wave overtopping discharge, EurOtop 2018 (2nd edition) manual.

Hand-written on purpose: there is no maintained PyPI package for EurOtop
(the Deltares coastal-structures-toolbox and pyCoastal are not published
libraries we can depend on), and the formulas are a few lines each.

Every influence factor comes from the section's geometry (docs/riskcode.md
"Overtopping"): berm gamma_b (eq. 5.33-5.36 with the run-up of eq. 5.1/5.2),
wave wall gamma_v (eq. 5.40) and gamma* (taken = gamma_v for a wall on the
slope's crest), roughness gamma_f (the geography's ``roughness_gamma_f``) and
obliquity gamma_beta (eq. 5.29 for slopes, section 7.3.5 for vertical walls).
Vertical walls get the chapter 7 impulsive check h^2/(Hm0 L_m-1,0) < 0.23 and
the impulsive formulas (eq. 7.7/7.8). A negative freeboard adds the overflow
of a broad-crested weir, 0.54 sqrt(g |Rc|^3) (section 5.5), to the wave
overtopping at Rc = 0, so the q shown is a real discharge.

Two coefficient sets: ``mean`` (the estimate shown to residents and used for
the level) and ``design`` (EurOtop's design/assessment approach, mean + one
standard deviation: 0.026/2.5 in eq. 5.10, 0.1/1.35 in eq. 5.11, 0.054/2.12 in
eq. 7.1), shown to the duty officer as the upper end of the band.

Units: levels and heights in m, periods in s, discharge ``q`` in l/s per m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Equation = Literal["eq5.10", "eq5.11", "eq7.1", "eq7.7", "eq7.8", "negative_freeboard", "no_waves"]
Coefficients = Literal["mean", "design"]

# (a, b) of eq. 5.10 and (c, d) of eq. 5.11, (e, f) of eq. 7.1, per coefficient set.
SLOPE_510 = {"mean": (0.023, 2.7), "design": (0.026, 2.5)}
SLOPE_511 = {"mean": (0.09, 1.5), "design": (0.1, 1.35)}
VERTICAL_71 = {"mean": (0.047, 2.35), "design": (0.054, 2.12)}
IMPULSIVE_H2_HL = 0.23        # EurOtop 2018 section 7.3.3: impulsive when h^2 / (Hm0 L_m-1,0) < 0.23
WEIR_COEFF = (2.0 / 3.0) ** 1.5  # 0.544: broad-crested weir, critical flow over the crest (EurOtop 2018 eq. 5.24: 0.54)
GAMMA_B_MIN = 0.6             # EurOtop 2018: 0.6 <= gamma_b <= 1


@dataclass(frozen=True, slots=True)
class OvertoppingResult:
    q_lpsm: float
    freeboard_m: float
    equation: Equation
    breaker_xi: float | None
    hm0_used_m: float
    detail: str
    q_design_lpsm: float | None = None   # design/assessment coefficients (None: the manual gives no design set)
    overflow_lpsm: float = 0.0           # part of q that is overflow (negative freeboard)
    impulsive: bool = False              # vertical wall in impulsive (violent) conditions
    vertical: bool = False               # a vertical structure: violent overtopping possible (Table 3.3 row)
    gamma_b: float = 1.0
    gamma_f: float = 1.0
    gamma_beta: float = 1.0
    gamma_v: float = 1.0
    gamma_star: float = 1.0

    @property
    def negative_freeboard(self) -> bool:
        return self.freeboard_m < 0

    @property
    def band_ratio(self) -> float | None:
        if self.q_design_lpsm is None or self.q_lpsm <= 0:
            return None
        return self.q_design_lpsm / self.q_lpsm


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


# ----------------------------------------------------------------------------- influence factors

def gamma_v_wave_wall(angle_deg: float | None) -> float:
    """Wave wall on the crest of a slope, EurOtop 2018 eq. 5.40: gamma_v = 1.35 - 0.0078 alpha_wall,
    45 deg <= alpha_wall <= 90 deg (0.65 for a vertical wall). No wall (None) or a wall flatter than
    45 deg (part of the slope): 1.0."""
    if angle_deg is None or angle_deg < 45.0:
        return 1.0
    return min(1.0, 1.35 - 0.0078 * min(angle_deg, 90.0))


def gamma_beta_oblique(beta_deg: float | None, structure: str) -> float:
    """Obliquity (angle between the wave direction and the wall's normal).

    Slopes, EurOtop 2018 eq. 5.29: 1 - 0.0033 |beta| for |beta| <= 80 deg (80 deg beyond).
    Vertical walls, non-impulsive, section 7.3.5: 1 - 0.0062 |beta| up to 45 deg, 0.72 beyond.
    Unknown direction (None): 1.0 (no reduction)."""
    if beta_deg is None:
        return 1.0
    b = min(abs(beta_deg), 180.0)
    if structure == "vertical_wall":
        return 1.0 - 0.0062 * b if b <= 45.0 else 0.72
    return 1.0 - 0.0033 * min(b, 80.0)


def run_up_2pct(hm0: float, xi: float, gamma_b: float, gamma_f: float, gamma_beta: float) -> float:
    """R_u2%, EurOtop 2018 eq. 5.1 with its maximum eq. 5.2 (mean values)."""
    r = 1.65 * gamma_b * gamma_f * gamma_beta * xi
    cap = gamma_f * gamma_beta * (4.0 - 1.5 / math.sqrt(gamma_b * xi))
    return hm0 * max(0.0, min(r, cap))


def gamma_b_berm(*, berm_width_m: float, berm_level_m: float | None, still_water_m: float, hm0: float,
                 slope_tan: float, xi: float, gamma_f: float, gamma_beta: float) -> float:
    """Berm factor, EurOtop 2018 eq. 5.33-5.36: gamma_b = 1 - r_B (1 - r_db), 0.6 <= gamma_b <= 1.

    r_B = B / L_berm, L_berm = 2 Hm0 / tan a + B (the slope between 1 Hm0 below and above the berm);
    r_db = 0.5 - 0.5 cos(pi d_b / x), d_b the berm's height above (or depth below) the still water,
    x = R_u2% for a berm above the water, 2 Hm0 below it; |d_b| >= x: no influence (r_db = 1).
    R_u2% depends on gamma_b itself: fixed-point iteration from gamma_b = 1 (the manual's advice)."""
    if berm_width_m <= 0 or berm_level_m is None or hm0 <= 0:
        return 1.0
    r_b = berm_width_m / (2.0 * hm0 / slope_tan + berm_width_m)
    d_b = berm_level_m - still_water_m
    gb = 1.0
    for _ in range(8):
        x = run_up_2pct(hm0, xi, gb, gamma_f, gamma_beta) if d_b > 0 else 2.0 * hm0
        r_db = 1.0 if x <= 0 or abs(d_b) >= x else 0.5 - 0.5 * math.cos(math.pi * abs(d_b) / x)
        new = max(GAMMA_B_MIN, min(1.0, 1.0 - r_b * (1.0 - r_db)))
        if abs(new - gb) < 1e-9:
            break
        gb = new
    return gb


# ----------------------------------------------------------------------------- formulas

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
    coefficients: Coefficients = "mean",
) -> tuple[float, Equation, float]:
    """q (l/s/m) for a sloped dike, freeboard ``rc`` >= 0 and ``hm0`` > 0.

    EurOtop 2018 eq. 5.10 capped by eq. 5.11 (mean: a=0.023, b=2.7, c=0.09, d=1.5;
    design/assessment eq. 5.12/5.13: 0.026, 2.5, 0.1, 1.35):
      q/sqrt(g Hm0^3) = a/sqrt(tan a) gb xi exp(-(b Rc / (xi Hm0 gb gf gbeta gv))^1.3)
      max:             c exp(-(d Rc / (Hm0 gf gbeta g*))^1.3)
    Returns (q, governing equation, xi).
    """
    a, b = SLOPE_510[coefficients]
    c, d = SLOPE_511[coefficients]
    xi = breaker_parameter(slope_tan, hm0, period_s, g)
    scale = math.sqrt(g * hm0**3) * 1000.0
    q510 = a / math.sqrt(slope_tan) * gamma_b * xi * _exp_neg_pow13(
        b * rc / (xi * hm0 * gamma_b * gamma_f * gamma_beta * gamma_v)
    )
    q511 = c * _exp_neg_pow13(d * rc / (hm0 * gamma_f * gamma_beta * gamma_star))
    if q510 <= q511:
        return q510 * scale, "eq5.10", xi
    return q511 * scale, "eq5.11", xi


def vertical_wall_q(rc: float, hm0: float, g: float = 9.81, *, gamma_beta: float = 1.0,
                    coefficients: Coefficients = "mean") -> float:
    """q (l/s/m) for a vertical wall, non-impulsive conditions, EurOtop 2018 eq. 7.1 (mean) / 7.2 (design):
    q/sqrt(g Hm0^3) = 0.047 exp(-(2.35 Rc / (Hm0 gbeta))^1.3)  (design 0.054, 2.12)."""
    e, f = VERTICAL_71[coefficients]
    return e * _exp_neg_pow13(f * rc / (hm0 * gamma_beta)) * math.sqrt(g * hm0**3) * 1000.0


def impulsiveness(depth_m: float, hm0: float, period_s: float, g: float = 9.81) -> float:
    """h^2 / (Hm0 L_m-1,0), EurOtop 2018 section 7.3.3 (impulsive below 0.23)."""
    return depth_m * depth_m / (hm0 * deep_water_wavelength(period_s, g))


def vertical_wall_impulsive_q(rc: float, hm0: float, depth_m: float, period_s: float,
                              g: float = 9.81) -> tuple[float, Equation]:
    """q (l/s/m) for a plain vertical wall in impulsive conditions, EurOtop 2018 eq. 7.7/7.8 (mean values):
      0 <= Rc/Hm0 < 1.35:  q/sqrt(g Hm0^3) = 0.011 (Hm0 / (h s_m-1,0))^0.5 exp(-2.2 Rc / Hm0)
      Rc/Hm0 >= 1.35:      q/sqrt(g Hm0^3) = 0.0014 (Hm0 / (h s_m-1,0))^0.5 (Rc / Hm0)^-3
    with s_m-1,0 = Hm0 / L_m-1,0 and h the water depth at the toe of the wall."""
    s = hm0 / deep_water_wavelength(period_s, g)
    k = math.sqrt(hm0 / (depth_m * s))
    r = rc / hm0
    scale = math.sqrt(g * hm0**3) * 1000.0
    if r < 1.35:
        return 0.011 * k * math.exp(-2.2 * r) * scale, "eq7.7"
    return 0.0014 * k * r ** -3 * scale, "eq7.8"


def overflow_q(rc: float, g: float = 9.81) -> float:
    """Overflow (l/s/m) when the still water is above the crest (rc < 0): broad-crested weir
    q = 0.54 sqrt(g |Rc|^3) (EurOtop 2018 section 5.5, eq. 5.24); 0 for rc >= 0."""
    return WEIR_COEFF * math.sqrt(g * (-rc) ** 3) * 1000.0 if rc < 0 else 0.0


# ----------------------------------------------------------------------------- the section

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
    gamma_b: float | None = None,
    gamma_f: float = 1.0,
    gamma_beta: float | None = None,
    gamma_v: float | None = None,
    gamma_star: float | None = None,
    berm_width_m: float = 0.0,
    berm_level_m: float | None = None,
    wave_wall_angle_deg: float | None = None,
    wave_obliquity_deg: float | None = None,
    impulsive_rc_hm0_max: float = 3.5,
    g: float = 9.81,
) -> OvertoppingResult:
    """Mean overtopping discharge at a seawall section, with the design/assessment value beside it.

    ``Rc = crest_level - still_water``. With ``toe_depth_limit_ratio`` > 0 and
    a toe level, ``Hm0`` is limited to ``ratio * (SWL - toe)`` (depth-limited
    waves at the toe; 0 when the toe is dry).

    Influence factors: a gamma given explicitly is used as is; otherwise it comes
    from the geometry: gamma_b from ``berm_width_m``/``berm_level_m``, gamma_v and
    gamma* from ``wave_wall_angle_deg`` (a wall on the slope's crest), gamma_beta
    from ``wave_obliquity_deg`` (angle between the waves' direction and the wall's
    normal). Vertical walls: impulsive check (needs the toe level) and eq. 7.7/7.8
    when impulsive and Rc/Hm0 <= ``impulsive_rc_hm0_max`` (the range of the data), the larger of
    that and eq. 7.1 (no obliquity reduction in impulsive conditions); above the impulsive
    depth limit q is held at the impulsive value at the limit (monotone in the water level). A negative freeboard adds the weir overflow to the wave
    overtopping at Rc = 0 (``equation`` = ``negative_freeboard``).
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
    over = overflow_q(rc, g)
    gf = gamma_f
    gbeta = gamma_beta if gamma_beta is not None else gamma_beta_oblique(wave_obliquity_deg, structure)
    if hm0 < MIN_HM0_M:
        eq: Equation = "negative_freeboard" if rc < 0 else "no_waves"
        if rc < 0:
            notes.append(f"water {-rc:.2f} m over the crest: overflow {over:.3g} l/s/m (broad-crested weir), no waves")
        else:
            notes.append("no waves at the toe")
        return OvertoppingResult(over, rc, eq, None, hm0, "; ".join(notes), q_design_lpsm=over, overflow_lpsm=over,
                                 gamma_f=gf, gamma_beta=gbeta, vertical=structure == "vertical_wall")
    xi: float | None
    gb = gv = gs = 1.0
    impulsive = False
    q_design: float | None
    if structure == "vertical_wall":
        q = vertical_wall_q(rc_eval, hm0, g, gamma_beta=gbeta)
        q_design = vertical_wall_q(rc_eval, hm0, g, gamma_beta=gbeta, coefficients="design")
        eq = "eq7.1"
        xi = None
        if toe_level_m is not None and still_water_m - toe_level_m > 1e-3:  # at least a millimetre at the toe
            depth = still_water_m - toe_level_m
            ratio = impulsiveness(depth, hm0, period_s, g)
            q_imp: float | None = None
            if rc_eval / hm0 > impulsive_rc_hm0_max:
                pass  # beyond the impulsive data (Rc/Hm0 > max): no extrapolation of eq. 7.8's power law
            elif ratio < IMPULSIVE_H2_HL:
                q_imp, eq_imp = vertical_wall_impulsive_q(rc_eval, hm0, depth, period_s, g)
                notes.append(f"impulsive: h^2/(Hm0 L) = {ratio:.3f} < {IMPULSIVE_H2_HL} (toe depth {depth:.2f} m)")
            else:
                # Above the impulsive limit the manual switches to eq. 7.1, which can be far lower: a rising
                # tide would then LOWER q. Conservative envelope (project decision, docs/riskcode.md): q is
                # never below the impulsive q at the still water where the limit is crossed (same waves).
                h_t = math.sqrt(IMPULSIVE_H2_HL * hm0 * deep_water_wavelength(period_s, g))
                rc_t = max(0.0, crest_level_m - (toe_level_m + h_t))
                if h_t > 0 and rc_t / hm0 <= impulsive_rc_hm0_max:
                    q_imp, eq_imp = vertical_wall_impulsive_q(rc_t, hm0, h_t, period_s, g)
                    if q_imp > q:
                        notes.append(f"h^2/(Hm0 L) = {ratio:.3f} >= {IMPULSIVE_H2_HL}: q held at the impulsive "
                                     f"value at the limit (toe depth {h_t:.2f} m, Rc {rc_t:.2f} m), conservative")
            if q_imp is not None:
                if q_imp > q:
                    q, eq, impulsive = q_imp, eq_imp, True
                    q_design = None  # the manual gives the impulsive formulas as mean values only
                else:
                    q_design = max(q_design, q_imp)
    else:
        xi = breaker_parameter(slope_tan, hm0, period_s, g)
        gv = gamma_v if gamma_v is not None else gamma_v_wave_wall(wave_wall_angle_deg)
        gs = gamma_star if gamma_star is not None else gv
        gb = gamma_b if gamma_b is not None else gamma_b_berm(
            berm_width_m=berm_width_m, berm_level_m=berm_level_m, still_water_m=still_water_m, hm0=hm0,
            slope_tan=slope_tan, xi=xi, gamma_f=gf, gamma_beta=gbeta)
        kw = dict(gamma_b=gb, gamma_f=gf, gamma_beta=gbeta, gamma_v=gv, gamma_star=gs, g=g)
        q, eq, xi = sloped_dike_q(rc_eval, hm0, period_s, slope_tan, **kw)  # type: ignore[arg-type]
        q_design = sloped_dike_q(rc_eval, hm0, period_s, slope_tan, coefficients="design", **kw)[0]
        if xi > 5.0:
            notes.append(f"xi={xi:.1f} > 5: outside eq. 5.10 range (very steep slope)")
        if gb < 1 or gv < 1 or gbeta < 1:
            notes.append(f"gamma_b {gb:.2f}, gamma_f {gf:.2f}, gamma_beta {gbeta:.2f}, gamma_v {gv:.2f}, gamma* {gs:.2f}")
    if rc < 0:
        notes.append(f"water {-rc:.2f} m over the crest: overflow {over:.3g} l/s/m (broad-crested weir) "
                     f"+ wave overtopping at Rc=0 by {eq} {q:.3g} l/s/m")
        q += over
        q_design = None if q_design is None else q_design + over
        eq = "negative_freeboard"
    return OvertoppingResult(q, rc, eq, xi, hm0, "; ".join(notes), q_design_lpsm=q_design, overflow_lpsm=over,
                             impulsive=impulsive, gamma_b=gb, gamma_f=gf, gamma_beta=gbeta, gamma_v=gv, gamma_star=gs,
                             vertical=structure == "vertical_wall")

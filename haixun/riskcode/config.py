"""The risk-code configuration: one versioned TOML, validated with pydantic v2.

``load_config(path=None)`` reads ``riskcode.toml`` next to this module (or the
given file); ``RiskConfig.from_dict(data)`` validates an edited version (the
API does this before saving). Errors name the key and what is wrong.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from haixun.errors import InvalidInput
from haixun.riskcode.levels import WARNING_LEVELS, Level, Status
from haixun.riskcode.model import FeedKind

DEFAULT_CONFIG_PATH = Path(__file__).with_name("riskcode.toml")

ZONES: tuple[str, ...] = ("A", "B", "C", "D", "E")
MATRIX_ROWS: tuple[Level, ...] = (Level.NONE, Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED, Level.UNKNOWN)

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]


class ConfigError(InvalidInput):
    """The configuration is invalid; ``errors`` lists "key: problem" lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid riskcode configuration:\n  " + "\n  ".join(errors))
        self.errors = errors

    def message(self) -> str:
        return "invalid riskcode configuration"

    def details(self) -> dict[str, Any]:
        return {"message": self.message(), "errors": list(self.errors)}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarningThresholds(_Strict):
    """Inclusive lower bounds for blue, yellow, orange, red; strictly increasing."""

    blue: float
    yellow: float
    orange: float
    red: float

    @model_validator(mode="after")
    def _increasing(self) -> WarningThresholds:
        vals = [self.blue, self.yellow, self.orange, self.red]
        for (a_name, a), (b_name, b) in zip(
            zip(("blue", "yellow", "orange"), vals[:-1], strict=False), zip(("yellow", "orange", "red"), vals[1:], strict=False), strict=False
        ):
            if not b > a:
                raise ValueError(f"thresholds not increasing: {b_name}={b} must be > {a_name}={a}")
        return self

    def by_level(self) -> tuple[tuple[Level, float], ...]:
        """(level, lower bound) from red down to blue, for first-match classification."""
        return ((Level.RED, self.red), (Level.ORANGE, self.orange), (Level.YELLOW, self.yellow), (Level.BLUE, self.blue))

    def get(self, level: Level) -> float:
        return float(getattr(self, level.value))


class StalenessConfig(_Strict):
    max_age_s: dict[str, PositiveFloat]

    @field_validator("max_age_s")
    @classmethod
    def _required(cls, v: dict[str, float]) -> dict[str, float]:
        missing = {"tide_level", "wind_speed", "wind_gust", "wave_height", "wave_period"} - v.keys()
        if missing:
            raise ValueError(f"missing max age for {sorted(missing)}")
        return v


class QcConfig(_Strict):
    accepted_flags: list[int]

    @field_validator("accepted_flags")
    @classmethod
    def _no_fail(cls, v: list[int]) -> list[int]:
        if 4 in v:
            raise ValueError("QC flag 4 (fail) must never feed risk codes (docs/contract.md)")
        return v


HazardName = Literal["storm_tide", "storm_tide_forecast", "wave", "wind", "overtopping"]


class SegmentRules(_Strict):
    key_hazards: list[HazardName]


class StormTideConfig(_Strict):
    default_warning_levels_m: WarningThresholds
    warning_levels_source: str
    surge_blue_min_m: NonNegFloat
    surge_blue_max_m: PositiveFloat
    surge_source: str
    surge_above_max_level: Level
    surge_efold_hours: PositiveFloat
    forecast_horizon_hours: PositiveFloat
    prediction_max_gap_s: PositiveFloat
    # Growing-storm projection (issue 13; docs/riskcode.md "Surge forecast")
    surge_trend_window_hours: PositiveFloat = 6.0
    surge_trend_min_rise_m: PositiveFloat = 0.3
    surge_trend_max_m_per_h: PositiveFloat = 0.4
    surge_trend_max_hours: PositiveFloat = 12.0
    skew_surge_window_hours: PositiveFloat = 26.0

    @model_validator(mode="after")
    def _surge_band(self) -> StormTideConfig:
        if not self.surge_blue_max_m > self.surge_blue_min_m:
            raise ValueError(
                f"surge_blue_max_m={self.surge_blue_max_m} must be > surge_blue_min_m={self.surge_blue_min_m}"
            )
        if not self.surge_above_max_level.is_warning and self.surge_above_max_level is not Level.NONE:
            raise ValueError("surge_above_max_level must be none, blue, yellow, orange or red")
        return self


class WaveConfig(_Strict):
    thresholds_m: WarningThresholds
    source: str


class WindSignal(_Strict):
    mean_bft: int = Field(ge=0, le=17)
    gust_bft: int = Field(ge=0, le=17)


class WindTable(_Strict):
    source: str
    blue: WindSignal
    yellow: WindSignal
    orange: WindSignal
    red: WindSignal

    @model_validator(mode="after")
    def _increasing(self) -> WindTable:
        rows = [("blue", self.blue), ("yellow", self.yellow), ("orange", self.orange), ("red", self.red)]
        for (an, a), (bn, b) in zip(rows[:-1], rows[1:], strict=False):
            if not (b.mean_bft > a.mean_bft and b.gust_bft > a.gust_bft):
                raise ValueError(f"thresholds not increasing: {bn} ({b.mean_bft}/{b.gust_bft}) vs {an} ({a.mean_bft}/{a.gust_bft})")
        return self

    def signal(self, level: Level) -> WindSignal:
        signal: WindSignal = getattr(self, level.value)
        return signal


class GustPersistence(_Strict):
    source: str
    window_s: PositiveFloat
    min_readings: int = Field(ge=1)


class WindConfig(_Strict):
    beaufort_source: str
    beaufort_lower_mps: dict[str, PositiveFloat]
    gust_persistence: GustPersistence
    typhoon: WindTable
    gale: WindTable

    @model_validator(mode="after")
    def _table(self) -> WindConfig:
        try:
            table = sorted((int(k), v) for k, v in self.beaufort_lower_mps.items())
        except ValueError:
            raise ValueError("beaufort_lower_mps keys must be integer forces, e.g. \"6\"") from None
        for (fa, va), (fb, vb) in zip(table[:-1], table[1:], strict=False):
            if not vb > va:
                raise ValueError(f"beaufort_lower_mps not increasing: force {fb}={vb} must be > force {fa}={va}")
        used = {s.mean_bft for t in (self.typhoon, self.gale) for s in (t.blue, t.yellow, t.orange, t.red)}
        used |= {s.gust_bft for t in (self.typhoon, self.gale) for s in (t.blue, t.yellow, t.orange, t.red)}
        missing = sorted(f for f in used if str(f) not in self.beaufort_lower_mps)
        if missing:
            raise ValueError(f"beaufort_lower_mps has no entry for force(s) {missing} used by the signal tables")
        return self

    def mps(self, force: int) -> float:
        return float(self.beaufort_lower_mps[str(force)])


class HmoLimits(_Strict):
    """Tolerable-discharge rows by Hm0 (EurOtop 2018 Table 3.3), log-linear in q between rows."""

    hm0_m: list[PositiveFloat] = Field(min_length=1)
    blue: list[PositiveFloat]
    yellow: list[PositiveFloat]
    orange: list[PositiveFloat]
    red: list[PositiveFloat]

    @model_validator(mode="after")
    def _rows(self) -> HmoLimits:
        n = len(self.hm0_m)
        if any(len(getattr(self, k)) != n for k in ("blue", "yellow", "orange", "red")):
            raise ValueError(f"every level needs one value per hm0_m row ({n})")
        if any(b <= a for a, b in zip(self.hm0_m, self.hm0_m[1:], strict=False)):
            raise ValueError("hm0_m must increase")
        for i in range(n):
            WarningThresholds(blue=self.blue[i], yellow=self.yellow[i], orange=self.orange[i], red=self.red[i])
        return self

    def at(self, hm0: float) -> WarningThresholds:
        """The thresholds at ``hm0``: end rows held outside the table, log-linear in q between rows."""
        xs = self.hm0_m
        if hm0 <= xs[0] or len(xs) == 1:
            i, w = 0, 0.0
        elif hm0 >= xs[-1]:
            i, w = len(xs) - 2, 1.0
        else:
            i = max(k for k in range(len(xs) - 1) if xs[k] <= hm0)
            w = (hm0 - xs[i]) / (xs[i + 1] - xs[i])
        j = min(i + 1, len(xs) - 1)

        def val(col: list[float]) -> float:
            if w == 0.0 or w == 1.0:
                return col[i] if w == 0.0 else col[j]
            return math.exp((1 - w) * math.log(col[i]) + w * math.log(col[j]))

        return WarningThresholds(blue=val(self.blue), yellow=val(self.yellow), orange=val(self.orange), red=val(self.red))


class ViolentLimits(WarningThresholds):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str


PeriodKind = Literal["Tm-1,0", "Tp", "T1/3", "Tz"]


class OvertoppingConfig(_Strict):
    source: str
    limits: HmoLimits
    limits_violent: ViolentLimits
    negative_freeboard_level: Level
    toe_depth_limit_ratio: NonNegFloat
    offshore_to_toe_factor: float = Field(gt=0, le=1)
    fallback_steepness: NonNegFloat
    g: PositiveFloat
    obliquity_tolerance_deg: float = Field(ge=0, le=90)
    impulsive_rc_hm0_max: PositiveFloat
    tm10_factor: dict[PeriodKind, PositiveFloat]

    @field_validator("tm10_factor")
    @classmethod
    def _all_kinds(cls, v: dict[str, float]) -> dict[str, float]:
        missing = sorted(set(get_args(PeriodKind)) - v.keys())
        if missing:
            raise ValueError(f"missing factor for {missing}")
        return v

    def thresholds(self, hm0: float, violent: bool) -> WarningThresholds:
        """Tolerable-discharge bounds for this Hm0 (violent: the vertical-wall impulsive row)."""
        if violent:
            v = self.limits_violent
            return WarningThresholds(blue=v.blue, yellow=v.yellow, orange=v.orange, red=v.red)
        return self.limits.at(hm0)

    def tm10(self, value: float, kind: str | None) -> tuple[float, str]:
        """The reported period converted to Tm-1,0, and a note (empty when the kind is Tm-1,0).
        The ONE place where a buoy's period becomes Tm-1,0 (docs/riskcode.md)."""
        if kind in self.tm10_factor:
            f = self.tm10_factor[kind]
            return value * f, ("" if f == 1.0 else f"{kind} {value:.1f} s -> Tm-1,0 {value * f:.1f} s (x {f})")
        f = max(self.tm10_factor.values())
        return value * f, (f"period kind of the station not stated: {value:.1f} s taken x {f} (largest factor, "
                           f"conservative) -> Tm-1,0 {value * f:.1f} s")


class CameraTypeRule(_Strict):
    level: Level
    corroborated_level: Level
    hold_s: PositiveFloat

    @model_validator(mode="after")
    def _order(self) -> CameraTypeRule:
        if not self.level.is_warning or not self.corroborated_level.is_warning:
            raise ValueError("camera levels must be blue, yellow, orange or red")
        if self.corroborated_level.rank < self.level.rank:
            raise ValueError(f"corroborated_level={self.corroborated_level} must be >= level={self.level}")
        return self


class CameraConfig(_Strict):
    min_confidence: float = Field(ge=0, le=1)
    corroboration_window_s: PositiveFloat
    corroboration_q_lpsm: PositiveFloat
    types: dict[str, CameraTypeRule]


class OfficialConfig(_Strict):
    kinds: list[FeedKind]  # the subset of the domain's feed kinds that count


class HysteresisConfig(_Strict):
    dwell_s: NonNegFloat


class ZonesConfig(_Strict):
    b_max_m: PositiveFloat
    c_max_m: PositiveFloat
    d_max_m: PositiveFloat
    neighbour_margin_m: NonNegFloat
    projection_lat_deg: float = Field(ge=-80, le=80)

    @model_validator(mode="after")
    def _increasing(self) -> ZonesConfig:
        if not (self.b_max_m < self.c_max_m < self.d_max_m):
            raise ValueError(
                f"zone bounds not increasing: b_max_m={self.b_max_m} < c_max_m={self.c_max_m} < d_max_m={self.d_max_m} required"
            )
        return self


class Advice(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class AdviceConfig(_Strict):
    """``code``/``zone``: the general (combined) advice. Per hazard (issue 13): ``flood`` and ``wind`` per
    code; ``flood_low_ground`` for orange/red where the ground lies below the expected water;
    ``wind_exposed`` (zone A: on the beach / seawall in wind); ``both`` when flood and wind are both
    orange or worse (what to do when the two pieces of advice pull apart)."""

    code: dict[Level, Advice]
    zone: dict[Literal["A", "B", "C", "D", "E"], Advice]
    flood: dict[Level, Advice]
    flood_low_ground: dict[Literal["orange", "red"], Advice]
    wind: dict[Level, Advice]
    wind_exposed: Advice
    both: Advice

    @model_validator(mode="after")
    def _complete(self) -> AdviceConfig:
        missing = [lv.value for lv in Level if lv not in self.code] + [z for z in ZONES if z not in self.zone]
        missing += [f"flood.{lv.value}" for lv in Level if lv not in self.flood]
        missing += [f"wind.{lv.value}" for lv in Level if lv not in self.wind]
        missing += [f"flood_low_ground.{k}" for k in ("orange", "red") if k not in self.flood_low_ground]
        if missing:
            raise ValueError(f"advice missing for {missing}")
        return self


class FloodExposureConfig(_Strict):
    """Flood exposure from ground elevation (issue 13): a point whose ground (the lowest road low point
    within ``low_point_radius_m``, else its village's ``ground_level_m``) lies below the expected water
    level + ``margin_m`` is "low ground": from ``min_level`` on, its flood code is taken in zone B
    (first row behind the wall) whatever its distance."""

    source: str
    low_point_radius_m: PositiveFloat
    margin_m: NonNegFloat
    min_level: Level

    @field_validator("min_level")
    @classmethod
    def _colour(cls, v: Level) -> Level:
        if not v.is_warning:
            raise ValueError("min_level must be blue, yellow, orange or red")
        return v


class RiskConfig(_Strict):
    version: str = Field(min_length=1)
    staleness: StalenessConfig
    qc: QcConfig
    segment: SegmentRules
    storm_tide: StormTideConfig
    wave: WaveConfig
    wind: WindConfig
    overtopping: OvertoppingConfig
    camera: CameraConfig
    official: OfficialConfig
    hysteresis: HysteresisConfig
    zones: ZonesConfig
    matrix: dict[Level, tuple[Level, Level, Level, Level, Level]]
    matrix_wind: dict[Level, tuple[Level, Level, Level, Level, Level]]
    hazard_groups: dict[str, list[str]]
    flood_exposure: FloodExposureConfig
    advice: AdviceConfig

    @model_validator(mode="after")
    def _matrix_rules(self) -> RiskConfig:
        errs = _matrix_errors("matrix", self.matrix) + _matrix_errors("matrix_wind", self.matrix_wind)
        if errs:
            raise ValueError("; ".join(errs))
        return self

    @model_validator(mode="after")
    def _groups(self) -> RiskConfig:
        names = [h for hs in self.hazard_groups.values() for h in hs]
        dup = sorted({h for h in names if names.count(h) > 1})
        if dup:
            raise ValueError(f"hazard_groups: {dup} in more than one group")
        if not {"flood", "wind"} <= self.hazard_groups.keys():
            raise ValueError("hazard_groups: flood and wind are required")
        return self

    @model_validator(mode="after")
    def _camera_types(self) -> RiskConfig:
        for name in self.camera.types:
            if name not in ("overtopping", "water_on_road"):
                raise ValueError(f"camera.types.{name}: only overtopping and water_on_road raise levels")
        return self

    def code(self, segment_level: Level, zone: str, hazard: str = "flood") -> Level:
        """Matrix lookup: ``matrix_wind`` for the wind code, ``matrix`` (distance) for flood and the rest."""
        m = self.matrix_wind if hazard == "wind" else self.matrix
        return m[segment_level][ZONES.index(zone)]

    def code_status(self, segment: Level | Status, zone: str, hazard: str = "flood") -> Status:
        """Matrix lookup for a status: "unknown, at least X" gives the unknown row's cell with the
        code of X in that zone as its floor (an unknown never hides the floor's code)."""
        s = Status.of(segment)
        if not s.is_unknown:
            return Status(self.code(s.level, zone, hazard))
        u, f = self.code(Level.UNKNOWN, zone, hazard), self.code(s.floor, zone, hazard)
        if u is Level.UNKNOWN:
            return Status(Level.UNKNOWN, f)
        return Status(u if u.rank > f.rank else f)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RiskConfig:
        """Validate a configuration mapping; raises ``ConfigError`` listing "key: problem"."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_format_errors(exc)) from None

    @classmethod
    def from_toml(cls, text: str) -> RiskConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"TOML syntax: {exc}"]) from None
        return cls.from_dict(data)


def _matrix_errors(name: str, matrix: dict[Level, tuple[Level, Level, Level, Level, Level]]) -> list[str]:
    """A code matrix's rules: every row; unknown only in its row and never none in A-D; more exposed never
    lower; zones A and B never below the segment level; a higher segment level never lower."""
    missing = [lv.value for lv in MATRIX_ROWS if lv not in matrix]
    if missing:
        return [f"{name}: missing row(s) {missing}"]
    errs: list[str] = []
    for lv in MATRIX_ROWS:
        row = matrix[lv]
        if lv is Level.UNKNOWN:
            if any(c.is_warning is False and c is not Level.UNKNOWN for c in row[:4]):
                errs.append(f"{name}.unknown: zones A-D must be unknown or a warning colour, never none")
            continue
        for i in range(4):
            if row[i] is Level.UNKNOWN or row[i + 1] is Level.UNKNOWN:
                errs.append(f"{name}.{lv.value}: unknown is only allowed in the unknown row")
                break
            if row[i].rank < row[i + 1].rank:
                errs.append(
                    f"{name}.{lv.value}: zone {ZONES[i]}={row[i].value} is lower than more distant zone "
                    f"{ZONES[i + 1]}={row[i + 1].value} (more exposed must never be lower)"
                )
        for i in (0, 1):
            if row[i].rank < lv.rank:
                errs.append(f"{name}.{lv.value}: zone {ZONES[i]}={row[i].value} is below the segment level")
    known = [lv for lv in MATRIX_ROWS if lv is not Level.UNKNOWN]
    for lo, hi in zip(known[:-1], known[1:], strict=False):
        for i, z in enumerate(ZONES):
            if matrix[hi][i].rank < matrix[lo][i].rank:
                errs.append(
                    f"{name}.{hi.value}: zone {z}={matrix[hi][i].value} is lower than "
                    f"{name}.{lo.value} zone {z}={matrix[lo][i].value} (higher segment level must never be lower)"
                )
    return errs


def _format_errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        out.append(f"{key}: {msg}")
    return out


def load_config(path: str | Path | None = None) -> RiskConfig:
    """Load and validate the risk configuration (default: the packaged riskcode.toml)."""
    p = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    return RiskConfig.from_toml(p.read_text(encoding="utf-8"))


__all__ = ["ConfigError", "RiskConfig", "WarningThresholds", "load_config", "DEFAULT_CONFIG_PATH", "ZONES", "WARNING_LEVELS"]

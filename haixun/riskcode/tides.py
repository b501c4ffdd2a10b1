"""Astronomical tide (utide harmonic analysis), surge and projected high water.

* ``fit_tide(times, levels, lat) -> TideModel``: utide ``solve`` (robust
  IRLS, so storm surges do not bend the constants) on >= 29 days of hourly
  water levels, or on 15-29 days with N2/K2/P1 inferred from M2/S2/K1
  (ratios and sources in ``tide_fit.toml``); the model is JSON-serialisable.
* ``model_from_constants(...)``: a model from official harmonic constants
  (``haixun tide-import``), no fit.
* ``predict(model, times)``: utide ``reconstruct``. Slow-ish (ms per call):
  the engine precomputes a ``TidePrediction`` series once per station and
  period (``TidePrediction.from_model``), the per-cycle code only interpolates.
* Surge = observed - astronomical. Projected level at t > t0:
  ``p(t) + surge0 * exp(-(t - t0) / tau)`` (persistence decaying with the
  e-folding time ``tau`` from the config).
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import utide
from pydantic import BaseModel, ConfigDict, Field, model_validator
from utide.utilities import Bunch

from haixun.riskcode.model import NextHighWater

TIDE_FIT_PATH = Path(__file__).with_name("tide_fit.toml")


class InferredConstituent(BaseModel):
    """A constituent not resolved by a short record: A = amp_ratio x A_ref, g = g_ref - phase_offset_deg."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    reference: str
    amp_ratio: float = Field(gt=0.0, lt=1.0)
    phase_offset_deg: float = Field(ge=-180.0, le=180.0)
    source: str = Field(min_length=1)


class TideFitConfig(BaseModel):
    """``tide_fit.toml``: record lengths and the inference ratios, each with its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    full_days: float = Field(gt=0.0)
    full_days_source: str = Field(min_length=1)
    min_days: float = Field(gt=0.0)
    min_days_source: str = Field(min_length=1)
    inferred: tuple[InferredConstituent, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> TideFitConfig:
        if not self.min_days <= self.full_days:
            raise ValueError(f"min_days={self.min_days} must be <= full_days={self.full_days}")
        names = [c.name for c in self.inferred]
        if len(set(names)) != len(names) or {c.reference for c in self.inferred} & set(names):
            raise ValueError("inferred: each constituent once, and never also a reference")
        return self

    def utide_infer(self) -> Bunch | None:
        """utide ``solve(..., infer=...)`` argument (None when nothing is inferred)."""
        if not self.inferred:
            return None
        return Bunch(inferred_names=[c.name for c in self.inferred], reference_names=[c.reference for c in self.inferred],
                     amp_ratios=[c.amp_ratio for c in self.inferred],
                     phase_offsets=[c.phase_offset_deg for c in self.inferred], approximate=False)


def load_tide_fit(path: str | Path | None = None) -> TideFitConfig:
    """Load and validate ``tide_fit.toml`` (default: the packaged file)."""
    p = Path(path) if path is not None else TIDE_FIT_PATH
    return TideFitConfig.model_validate(tomllib.loads(p.read_text(encoding="utf-8")))


# The packaged configuration (immutable). Record lengths: a fit needs >= MIN_FIT_DAYS (15) days;
# below FULL_FIT_DAYS (29: N2 from M2 by the Rayleigh criterion, 27.55 d) the constituents of
# tide_fit.toml are inferred from their references (issue 13; docs/riskcode.md "Tide fits").
DEFAULT_TIDE_FIT = load_tide_fit()
MIN_FIT_DAYS = DEFAULT_TIDE_FIT.min_days
FULL_FIT_DAYS = DEFAULT_TIDE_FIT.full_days
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _to_datetime64(times: Sequence[datetime] | np.ndarray) -> np.ndarray:
    arr = np.asarray(times)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[s]")
    out = []
    for t in times:
        if t.tzinfo is None:
            raise ValueError("naive datetime: all times must be timezone-aware (UTC inside haixun)")
        out.append(np.datetime64(int(t.timestamp()), "s"))
    return np.array(out, dtype="datetime64[s]")


def _encode(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fiub":
            return {"__ndarray__": obj.tolist(), "dtype": obj.dtype.str}
        return {"__ndarray__": [str(x) for x in obj.tolist()], "dtype": "object"}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [_encode(x) for x in obj]
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            dt = obj["dtype"]
            return np.array(obj["__ndarray__"], dtype=object if dt == "object" else np.dtype(dt))
        return Bunch({k: _decode(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [_decode(x) for x in obj]
    return obj


@dataclass(frozen=True)
class TideModel:
    """Harmonic constants of one station (utide coefficient structure)."""

    lat: float
    coef: Bunch
    fitted_from: datetime
    fitted_to: datetime
    n_obs: int
    rms_residual_m: float
    # constituents inferred from a reference (a 15-29 day fit), "" = none; and the tide_fit.toml version
    inferred: tuple[str, ...] = ()
    inference_version: str = ""

    @property
    def span_days(self) -> float:
        return (self.fitted_to - self.fitted_from).total_seconds() / 86400.0

    @property
    def basis(self) -> str:
        """How the model was made, for the reasons: "official constants", "31.0-day fit", or
        "20.0-day fit, N2/K2/P1 inferred (tide_fit.toml v1)"."""
        if self.n_obs == 0:
            return "official constants"
        if self.inferred:
            return (f"{self.span_days:.1f}-day fit, {'/'.join(self.inferred)} inferred "
                    f"(tide_fit.toml v{self.inference_version})")
        return f"{self.span_days:.1f}-day fit"

    @property
    def constituents(self) -> dict[str, tuple[float, float]]:
        """{name: (amplitude m, Greenwich phase deg)}."""
        return {str(n): (float(a), float(g)) for n, a, g in zip(self.coef["name"], self.coef["A"], self.coef["g"], strict=False)}

    def to_json(self) -> str:
        coef = {k: v for k, v in self.coef.items() if k != "weights"}  # per-sample IRLS weights: not needed to predict
        return json.dumps({
            "kind": "haixun.tide_model", "version": 1, "lat": self.lat,
            "fitted_from": self.fitted_from.isoformat(), "fitted_to": self.fitted_to.isoformat(),
            "n_obs": self.n_obs, "rms_residual_m": self.rms_residual_m, "coef": _encode(coef),
            "inferred": list(self.inferred), "inference_version": self.inference_version,
        })

    @classmethod
    def from_json(cls, text: str) -> TideModel:
        d = json.loads(text)
        if d.get("kind") != "haixun.tide_model" or d.get("version") != 1:
            raise ValueError("not a haixun.tide_model version 1 document")
        return cls(
            lat=float(d["lat"]), coef=_decode(d["coef"]),
            fitted_from=datetime.fromisoformat(d["fitted_from"]), fitted_to=datetime.fromisoformat(d["fitted_to"]),
            n_obs=int(d["n_obs"]), rms_residual_m=float(d["rms_residual_m"]),
            inferred=tuple(str(x) for x in d.get("inferred", ())), inference_version=str(d.get("inference_version", "")),
        )


def fit_tide(
    times: Sequence[datetime] | np.ndarray, levels: Sequence[float] | np.ndarray, lat: float, *, nodal: bool = True,
    fit_config: TideFitConfig = DEFAULT_TIDE_FIT, infer: bool | None = None,
) -> TideModel:
    """Harmonic analysis of (roughly hourly) water levels with utide (robust IRLS, nodal corrections, no trend).

    Record length (``tide_fit.toml``): >= ``full_days`` (29; Rayleigh separation of N2 from M2)
    is a plain fit; ``min_days`` (15) <= span < ``full_days`` infers the configured
    constituents (N2, K2, P1) from their references (M2, S2, K1) with the configured
    amplitude ratios and phase offsets (utide ``infer``); shorter records are refused
    (ValueError: the surge stays unknown). ``infer`` forces inference on (True, any span
    >= min_days) or off (False: only spans >= full_days are accepted); None = by span.
    ``method="robust"`` (iteratively reweighted least squares, Cauchy weights) gives a
    storm surge of a day or two small weights instead of letting it bend the constants;
    NaN levels are ignored. ``nodal=False`` skips the 18.6-year nodal
    corrections (only useful to compare amplitudes with a synthetic record).
    """
    t64 = _to_datetime64(times)
    u = np.asarray(levels, dtype=float)
    if t64.shape != u.shape:
        raise ValueError(f"times ({t64.shape}) and levels ({u.shape}) differ in length")
    ok = np.isfinite(u)
    t64, u = t64[ok], u[ok]
    if t64.size < 2:
        raise ValueError("need at least two finite levels")
    span_days = float((t64.max() - t64.min()) / np.timedelta64(1, "s")) / 86400.0
    cfg = fit_config
    if span_days < cfg.min_days:
        raise ValueError(f"record spans {span_days:.1f} days: at least {cfg.min_days:g} days needed "
                         f"(M2 from S2; N2/K2/P1 are inferred below {cfg.full_days:g} days)")
    use_infer = span_days < cfg.full_days if infer is None else infer
    if not use_infer and span_days < cfg.full_days:
        raise ValueError(f"record spans {span_days:.1f} days: at least {cfg.full_days:g} days needed to separate "
                         "N2 from M2 without inference")
    inference = cfg.utide_infer() if use_infer else None
    if use_infer and inference is None:
        raise ValueError(f"record spans {span_days:.1f} days and tide_fit.toml v{cfg.version} infers nothing: "
                         f"at least {cfg.full_days:g} days needed")
    coef = utide.solve(t64, u, lat=lat, method="robust", conf_int="none", trend=False, nodal=nodal, verbose=False,
                       infer=inference)
    resid = u - utide.reconstruct(t64, coef, verbose=False)["h"]
    return TideModel(
        lat=lat, coef=coef,
        fitted_from=_EPOCH + timedelta(seconds=int(t64.min().astype("int64"))),
        fitted_to=_EPOCH + timedelta(seconds=int(t64.max().astype("int64"))),
        n_obs=int(u.size), rms_residual_m=float(np.sqrt(np.mean(resid**2))),
        inferred=tuple(c.name for c in cfg.inferred) if inference is not None else (),
        inference_version=cfg.version if inference is not None else "",
    )


def model_from_constants(constants: Mapping[str, tuple[float, float]], mean_m: float, lat: float, *,
                         valid_from: datetime, valid_to: datetime, zone_hours: float = 0.0) -> TideModel:
    """A model from official harmonic constants (no fit).

    ``constants``: utide constituent name -> (amplitude m, Greenwich phase lag g in degrees,
    referred to UTC); ``mean_m``: Z0 on the warning datum CN1985. The utide coefficient
    structure (frequencies, nodal options) is built by a solve with exactly these
    constituents on a dummy 400-day record; its amplitudes, phases and mean are then
    replaced by the official ones. ``valid_from``/``valid_to`` only document the record
    the constants came from (``fitted_from``/``fitted_to``).

    ``zone_hours``: the phases are referred to zone time UTC+Z (Chinese tables often use
    Beijing time, Z = 8): h = A cos(sigma t_zone + V - kappa) with t_zone = t_utc + Z, so
    g = kappa - sigma Z (sigma in degrees per hour)."""
    if not constants:
        raise ValueError("no constituents")
    for name, (amp, g) in constants.items():
        if not (math.isfinite(amp) and math.isfinite(g)) or amp < 0 or amp > 10:
            raise ValueError(f"{name}: amplitude {amp} m / phase {g} deg out of range")
    if not math.isfinite(mean_m) or abs(mean_m) > 10:
        raise ValueError(f"mean level Z0 {mean_m} m out of range")
    names = list(constants)
    t = np.arange(np.datetime64("2000-01-01T00:00"), np.datetime64("2001-02-04T00:00"), np.timedelta64(1, "h"))
    dummy = np.random.default_rng(0).normal(0.0, 0.01, t.size)
    try:
        coef = utide.solve(t, dummy, lat=lat, constit=names, method="ols", conf_int="none", trend=False,
                           verbose=False)
    except Exception as exc:  # utide raises bare errors for unknown names
        raise ValueError(f"utide does not know one of {names}: {exc}") from None
    order = [str(n) for n in coef["name"]]
    coef["A"] = np.array([float(constants[n][0]) for n in order])
    speed_deg_h = 360.0 * np.asarray(coef["aux"]["frq"], dtype=float)
    coef["g"] = np.mod(np.array([float(constants[n][1]) for n in order]) - speed_deg_h * zone_hours, 360.0)
    coef["mean"] = float(mean_m)
    return TideModel(lat=lat, coef=coef, fitted_from=valid_from, fitted_to=valid_to, n_obs=0,
                     rms_residual_m=0.0)


def predict(model: TideModel, times: Sequence[datetime] | np.ndarray) -> np.ndarray:
    """Astronomical water level (m, same datum as the fit) at ``times``."""
    t64 = _to_datetime64(times)
    return np.asarray(utide.reconstruct(t64, model.coef, verbose=False)["h"], dtype=float)


@dataclass(frozen=True)
class TidePrediction:
    """Precomputed astronomical levels: ``t_s`` epoch seconds (increasing), ``level_m``."""

    t_s: np.ndarray
    level_m: np.ndarray
    basis: str = ""  # the model's basis (TideModel.basis), named in the surge reason

    def __post_init__(self) -> None:
        if self.t_s.shape != self.level_m.shape or self.t_s.size < 2:
            raise ValueError("prediction needs >= 2 samples with matching times and levels")
        if np.any(np.diff(self.t_s) <= 0):
            raise ValueError("prediction times must be strictly increasing")

    @classmethod
    def from_model(cls, model: TideModel, start: datetime, end: datetime, step_s: float = 600.0) -> TidePrediction:
        t_s = np.arange(start.timestamp(), end.timestamp() + step_s / 2, step_s)
        times = (t_s.astype("int64")).astype("datetime64[s]")
        return cls(t_s=t_s, level_m=predict(model, times), basis=model.basis)

    @classmethod
    def from_series(cls, times: Sequence[datetime], levels: Sequence[float]) -> TidePrediction:
        return cls(t_s=np.array([t.timestamp() for t in times], dtype=float), level_m=np.asarray(levels, dtype=float))

    def covers(self, now: datetime, max_gap_s: float) -> bool:
        ts = now.timestamp()
        return bool(self.t_s[0] - max_gap_s <= ts <= self.t_s[-1])

    def at(self, t: datetime) -> float | None:
        """Linear interpolation; None outside the series."""
        ts = t.timestamp()
        if ts < self.t_s[0] or ts > self.t_s[-1]:
            return None
        return float(np.interp(ts, self.t_s, self.level_m))


def projected(pred: TidePrediction, now: datetime, surge_m: float | SurgeProjection, efold_h: float,
              horizon_h: float) -> tuple[np.ndarray, np.ndarray]:
    """(t_s, level) of the projected level from now to now + horizon (now included, interpolated)."""
    t0 = now.timestamp()
    t1 = t0 + horizon_h * 3600.0
    i0 = int(np.searchsorted(pred.t_s, t0, side="right"))
    i1 = int(np.searchsorted(pred.t_s, t1, side="right"))
    t = np.concatenate(([t0], pred.t_s[i0:i1]))
    p = np.concatenate(([np.interp(t0, pred.t_s, pred.level_m)], pred.level_m[i0:i1]))
    if isinstance(surge_m, SurgeProjection):
        return t, surge_m.levels(t0, t, p)
    return t, p + surge_m * np.exp(-(t - t0) / (efold_h * 3600.0))


def high_waters(t: np.ndarray, level: np.ndarray) -> list[tuple[float, float]]:
    """Interior local maxima (t_s, level) of a sampled series, refined by a parabola through 3 samples."""
    out = []
    for i in range(1, len(level) - 1):
        a, b, c = level[i - 1], level[i], level[i + 1]
        if b >= a and b > c:
            denom = a - 2 * b + c
            h0, h1 = t[i] - t[i - 1], t[i + 1] - t[i]
            if denom < 0 and abs(h0 - h1) < 1e-6:
                off = 0.5 * (a - c) / denom
                out.append((float(t[i] + off * h0), float(b - 0.25 * (a - c) * off)))
            else:
                out.append((float(t[i]), float(b)))
    return out


def _dt(ts: float) -> datetime:
    return _EPOCH + timedelta(seconds=ts)


# Half a semidiurnal tide (M2 12.42 h / 4): the high water an official bulletin's forecast time
# belongs to is the predicted high water within this of it.
OFFICIAL_HW_HALF_WINDOW_S = 12.42 / 4.0 * 3600.0


def high_water_near(pred: TidePrediction, at: datetime,
                    half_window_s: float = OFFICIAL_HW_HALF_WINDOW_S) -> tuple[float, float] | None:
    """(t_s, level) of the predicted high water nearest ``at`` within ``half_window_s``; None when the
    prediction does not cover it (the high water must be a peak inside the prediction series)."""
    t = at.timestamp()
    sel = (pred.t_s >= t - half_window_s - 3600.0) & (pred.t_s <= t + half_window_s + 3600.0)
    peaks = [p for p in high_waters(pred.t_s[sel], pred.level_m[sel]) if abs(p[0] - t) <= half_window_s]
    return min(peaks, key=lambda p: abs(p[0] - t)) if peaks else None


@dataclass(frozen=True)
class SurgeProjection:
    """The surge expected at a future time, and why (``basis``, shown in the reasons).

    Ranking: ``official_m`` inside [``official_from``, ``official_to``] (epoch s) and, when the
    bulletin names its high water (``official_at``), only within ``OFFICIAL_HW_HALF_WINDOW_S`` of
    that high water (a bulletin forecasting the overnight high water says nothing about the
    morning's); else a growth ``start_m + growth_m_per_h * min(dt, growth_hours)``; else
    persistence ``now_m * exp(-dt / efold_h)``."""

    now_m: float
    efold_h: float
    start_m: float = 0.0
    growth_m_per_h: float = 0.0
    growth_hours: float = 0.0
    official_m: float | None = None
    official_from: float = -math.inf
    official_to: float = math.inf
    official_at: float | None = None
    official_level_m: float | None = None  # the bulletin's forecast highest water (with ``official_at``)
    basis: str = ""

    def level(self, t0: float, t: float, astro_m: float) -> float:
        """Projected water level at ``t`` over the astronomical ``astro_m``. A bulletin that names its
        forecast highest water caps every high water of its validity at that level: it forecasts the
        highest water of its horizon, and it ranks above the local projection (which extrapolated a
        +0.06 m/h trend 12 h onto the landfall high water, 5.25 m red at Jiulongshan, while the
        bulletin's highest water was 4.31 m)."""
        lv = astro_m + self.at(t0, t)
        if self.official_level_m is not None and self.official_from <= t <= self.official_to:
            lv = min(lv, self.official_level_m)
        return lv

    def at(self, t0: float, t: float) -> float:
        if (self.official_m is not None and self.official_from <= t <= self.official_to
                and (self.official_at is None or abs(t - self.official_at) <= OFFICIAL_HW_HALF_WINDOW_S)):
            return self.official_m
        dt_h = max(0.0, (t - t0) / 3600.0)
        if self.growth_m_per_h > 0:
            return self.start_m + self.growth_m_per_h * min(dt_h, self.growth_hours)
        return self.now_m * math.exp(-dt_h / self.efold_h)

    def series(self, t0: float, t: np.ndarray) -> np.ndarray:
        return np.array([self.at(t0, float(x)) for x in t]) if t.size else t

    def levels(self, t0: float, t: np.ndarray, astro_m: np.ndarray) -> np.ndarray:
        return np.array([self.level(t0, float(x), float(a)) for x, a in zip(t, astro_m, strict=True)]) \
            if t.size else t


def persistence(surge_m: float, efold_h: float) -> SurgeProjection:
    return SurgeProjection(now_m=surge_m, efold_h=efold_h, basis=f"astronomical HW + surge*exp(-dt/{efold_h:g}h)")


def _theil_sen_slope(t: np.ndarray, y: np.ndarray) -> float:
    i, j = np.triu_indices(t.size, 1)
    dt = t[j] - t[i]
    ok = dt > 0
    return float(np.median((y[j] - y[i])[ok] / dt[ok])) if ok.any() else 0.0


def skew_surges(pred: TidePrediction, times_s: np.ndarray, levels: np.ndarray, now_s: float,
                window_h: float, half_width_s: float = 5400.0) -> list[tuple[float, float]]:
    """(time of the predicted high water, skew surge) of the high waters in the last ``window_h``:
    highest observed level within +/- 1.5 h of a predicted high water minus that high water."""
    lo = now_s - window_h * 3600.0
    i0 = max(int(np.searchsorted(pred.t_s, lo, side="left")) - 1, 0)
    i1 = int(np.searchsorted(pred.t_s, now_s, side="right"))
    out = []
    for t_hw, lv in high_waters(pred.t_s[i0:i1 + 1], pred.level_m[i0:i1 + 1]):
        if not lo <= t_hw <= now_s - half_width_s:
            continue  # the whole +/- window must be observed
        sel = (times_s >= t_hw - half_width_s) & (times_s <= t_hw + half_width_s)
        if np.count_nonzero(sel) >= 3:
            out.append((t_hw, float(levels[sel].max()) - lv))
    return out


def surge_projection(pred: TidePrediction, now: datetime, surge_now_m: float, recent: Sequence[tuple[datetime, float]],
                     *, efold_h: float, trend_window_h: float, min_rise_m: float, max_rate_m_per_h: float,
                     max_hours: float, skew_window_h: float,
                     official: tuple[float, datetime, datetime | None, str] | None = None,
                     official_at: datetime | None = None, official_level_m: float | None = None) -> SurgeProjection:
    """How the surge will develop over the next high waters (see ``SurgeProjection``).

    ``recent``: (ts, observed level) of the station, oldest first (10-min samples of the last
    day are plenty); ``official``: (surge m, valid_from, valid_to, issuer) of an active
    official surge forecast; ``official_at``: the predicted high water it forecasts (None: a bare
    peak surge, applied to every high water of its validity, an upper bound).

    Growth needs a surge that is rising NOW: when the trend window holds enough samples, the surge
    must have risen by ``min_rise_m`` over it (riskcode.toml storm_tide: "when the surge rose by at
    least surge_trend_min_rise_m over the window"), for the skew-surge change too; a flat or falling
    surge is projected by persistence, whatever the skew surges of earlier high waters. (In the
    In-fa replay the skew-surge change of the previous day was extrapolated 12 h ahead while the
    surge had been flat for 6 h, 22:49 on 25 July: 2.2 m on the landfall high water, 5.2 m red; and
    after the overnight peak, 2.3 m while the surge was 0.45 m and falling.)"""
    t0 = now.timestamp()
    base = persistence(surge_now_m, efold_h)
    notes: list[str] = []
    start, growth = surge_now_m, 0.0
    if recent:
        ts = np.array([t.timestamp() for t, _ in recent], dtype=float)
        lv = np.array([v for _, v in recent], dtype=float)
        keep = (ts <= t0) & (ts >= pred.t_s[0]) & (ts <= pred.t_s[-1]) & np.isfinite(lv)
        ts, lv = ts[keep], lv[keep]
        resid = lv - np.interp(ts, pred.t_s, pred.level_m)
        w = ts >= t0 - trend_window_h * 3600.0
        rate = 0.0
        rising: bool | None = None  # None: too few samples in the window to tell
        if np.count_nonzero(w) >= 4 and ts[w].max() - ts[w].min() >= 0.5 * trend_window_h * 3600.0:
            rate = _theil_sen_slope(ts[w] / 3600.0, resid[w])
            rise = rate * (ts[w].max() - ts[w].min()) / 3600.0
            notes.append(f"surge trend {rate:+.2f} m/h over {trend_window_h:g} h")
            rising = bool(rise >= min_rise_m)
            if not rising:
                rate = 0.0
                notes.append(f"{'falling' if rise <= -min_rise_m else 'not rising'} now (rise {rise:+.2f} m < "
                             f"{min_rise_m:g} m): no growth")
        skews = skew_surges(pred, ts, lv, t0, skew_window_h)
        if skews:
            notes.append("skew surges " + ", ".join(f"{s:.2f}" for _, s in skews[-2:]) + " m")
            if rising is not False and len(skews) >= 2:
                (ta, sa), (tb, sb) = skews[-2], skews[-1]
                if sb - sa >= min_rise_m:
                    rate = max(rate, (sb - sa) / ((tb - ta) / 3600.0))
        if rate > 0:
            growth = min(rate, max_rate_m_per_h)
            start = max(surge_now_m, skews[-1][1]) if skews and t0 - skews[-1][0] <= 13 * 3600.0 else surge_now_m
    if official is not None:
        o_surge, o_from, o_to, issuer = official
        local = (f"local: {start:.2f} m {growth:+.2f} m/h" if growth > 0 else f"local: persistence {surge_now_m:.2f} m")
        return SurgeProjection(now_m=surge_now_m, efold_h=efold_h, start_m=start, growth_m_per_h=growth,
                               growth_hours=max_hours, official_m=o_surge, official_from=o_from.timestamp(),
                               official_to=o_to.timestamp() if o_to else math.inf,
                               official_at=official_at.timestamp() if official_at is not None else None,
                               official_level_m=official_level_m if official_at is not None else None,
                               basis=f"official surge forecast {o_surge:.2f} m ({issuer}) ranked above local; "
                                     + local + ("; " + "; ".join(notes) if notes else ""))
    if growth > 0:
        return SurgeProjection(now_m=surge_now_m, efold_h=efold_h, start_m=start, growth_m_per_h=growth,
                               growth_hours=max_hours,
                               basis=f"astronomical HW + growing surge {start:.2f} m {growth:+.2f} m/h "
                                     f"(at most {max_hours:g} h; " + "; ".join(notes) + ")")
    if notes:
        return replace(base, basis=base.basis + " (" + "; ".join(notes) + ": not growing)")
    return base


def next_high_water(
    pred: TidePrediction, now: datetime, surge_m: float | SurgeProjection, efold_h: float, horizon_h: float
) -> tuple[NextHighWater | None, NextHighWater | None]:
    """(first, highest) projected high water within the horizon.

    Peaks are found on the astronomical prediction (the decaying surge moves
    them by minutes at most); level = predicted HW + surge * exp(-dt/tau).
    """
    t0 = now.timestamp()
    i0 = max(int(np.searchsorted(pred.t_s, t0, side="left")) - 1, 0)
    i1 = int(np.searchsorted(pred.t_s, t0 + horizon_h * 3600.0, side="right"))
    peaks = [(t, lv) for t, lv in high_waters(pred.t_s[i0:i1 + 1], pred.level_m[i0:i1 + 1]) if t0 <= t <= t0 + horizon_h * 3600.0]
    if not peaks:
        return None, None
    proj = surge_m if isinstance(surge_m, SurgeProjection) else persistence(surge_m, efold_h)
    hws = [NextHighWater(at=_dt(t), level_m=proj.level(t0, t, lv), predicted_m=lv, surge_m=proj.level(t0, t, lv) - lv,
                         method=proj.basis) for t, lv in peaks]
    return hws[0], max(hws, key=lambda h: h.level_m)


def time_to_level(
    pred: TidePrediction, now: datetime, surge_m: float | SurgeProjection, efold_h: float, horizon_h: float,
    threshold_m: float
) -> datetime | None:
    """First time within the horizon when the projected level reaches ``threshold_m`` (>=); None if never."""
    t, lv = projected(pred, now, surge_m, efold_h, horizon_h)
    idx = np.nonzero(lv >= threshold_m)[0]
    if idx.size == 0:
        return None
    i = int(idx[0])
    if i == 0:
        return now
    frac = (threshold_m - lv[i - 1]) / (lv[i] - lv[i - 1])
    return _dt(float(t[i - 1] + frac * (t[i] - t[i - 1])))

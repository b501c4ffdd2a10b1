"""Per-hazard level rules. Each function takes numbers (already checked for
freshness) and returns a ``HazardReason``. Thresholds are inclusive lower
bounds (value >= threshold reaches the level)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from haixun.riskcode.config import RiskConfig, WarningThresholds
from haixun.riskcode.levels import Level
from haixun.riskcode.model import HazardReason, NextHighWater, Observation
from haixun.riskcode.overtopping import OvertoppingResult
from haixun.riskcode.tides import FULL_FIT_DAYS, MIN_FIT_DAYS


def classify(value: float, thresholds: WarningThresholds) -> tuple[Level, float | None]:
    """Highest level whose lower bound ``value`` reaches, and that bound (or None for ``none``)."""
    for level, bound in thresholds.by_level():
        if value >= bound:
            return level, bound
    return Level.NONE, None


def next_threshold(level: Level, thresholds: WarningThresholds) -> tuple[Level, float] | None:
    """The warning level above ``level`` and its bound; None at red."""
    for lv, bound in reversed(thresholds.by_level()):
        if lv.rank > level.rank:
            return lv, bound
    return None


def unknown_reason(hazard: str, unit: str, source: str, why: str, input_ts: datetime | None = None) -> HazardReason:
    return HazardReason(hazard, Level.UNKNOWN, None, unit, None, source, input_ts, why)


def storm_tide(
    config: RiskConfig,
    warning: WarningThresholds,
    water: Observation,
    astronomical_m: float | None,
    tide_basis: str = "",
) -> HazardReason:
    """Observed water level vs the segment's warning tide levels; blue on surge >= surge_blue_min_m.

    ``astronomical_m`` None (no prediction): the surge rule cannot apply; noted.
    """
    st = config.storm_tide
    level, bound = classify(water.value, warning)
    nxt = next_threshold(level, warning)
    if level is not Level.NONE:
        return HazardReason("storm_tide", level, water.value, "m", bound, st.warning_levels_source, water.ts,
                            f"water level {water.value:.2f} m >= {level.value} warning tide level {bound} m")
    if astronomical_m is None:
        return HazardReason("storm_tide", Level.NONE, water.value, "m", nxt[1] if nxt else None,
                            st.warning_levels_source, water.ts,
                            "no warning tide level reached; surge unknown: no tide prediction (a tide model needs "
                            f">= {MIN_FIT_DAYS:g} days of levels, N2/K2/P1 inferred below {FULL_FIT_DAYS:g} days, "
                            "or imported official constants)")
    # rounded to the gauges' 1 mm resolution so that float noise never decides a band edge
    surge = round(water.value - astronomical_m, 3)
    if surge >= st.surge_blue_min_m:
        lv = Level.BLUE if surge < st.surge_blue_max_m else st.surge_above_max_level
        band = f"[{st.surge_blue_min_m}, {st.surge_blue_max_m})" if surge < st.surge_blue_max_m else f">= {st.surge_blue_max_m}"
        return HazardReason("storm_tide", lv, surge, "m", st.surge_blue_min_m, st.surge_source, water.ts,
                            f"surge {surge:.2f} m in {band} (level {water.value:.2f} m, astronomical {astronomical_m:.2f} m"
                            + (f"; tide model: {tide_basis}" if tide_basis else "") + "), no warning tide level reached")
    return HazardReason("storm_tide", Level.NONE, water.value, "m", nxt[1] if nxt else None, st.warning_levels_source,
                        water.ts, f"water level {water.value:.2f} m below blue {warning.blue} m; surge {surge:.2f} m"
                        + (f" (tide model: {tide_basis})" if tide_basis else ""))


def storm_tide_forecast(config: RiskConfig, warning: WarningThresholds, highest: NextHighWater | None,
                        input_ts: datetime) -> HazardReason:
    """Highest projected high water within the horizon vs the warning tide levels."""
    st = config.storm_tide
    if highest is None:
        return HazardReason("storm_tide_forecast", Level.NONE, None, "m", None, st.warning_levels_source, input_ts,
                            f"no high water within {st.forecast_horizon_hours:g} h")
    level, bound = classify(highest.level_m, warning)
    return HazardReason(
        "storm_tide_forecast", level, highest.level_m, "m", bound if bound is not None else warning.blue,
        st.warning_levels_source, input_ts,
        f"projected high water {highest.level_m:.2f} m at {highest.at.isoformat()} "
        f"(astronomical {highest.predicted_m:.2f} m + surge {highest.surge_m:.2f} m, {highest.method})",
    )


def wave(config: RiskConfig, hs: Observation) -> HazardReason:
    level, bound = classify(hs.value, config.wave.thresholds_m)
    nxt = next_threshold(level, config.wave.thresholds_m)
    shown = bound if bound is not None else (nxt[1] if nxt else None)
    return HazardReason("wave", level, hs.value, "m", shown, config.wave.source, hs.ts,
                        f"Hs {hs.value:.2f} m" + (f" >= {level.value} {bound} m" if bound is not None else f" < blue {shown} m"))


def _persistent_gust(config: RiskConfig, gusts: Sequence[Observation], bound: float,
                     now: datetime) -> Observation | None:
    """The latest gust reaching ``bound`` when at least ``min_readings`` readings within the window do."""
    p = config.wind.gust_persistence
    hits = [g for g in gusts if g.value >= bound and 0 <= (now - g.ts).total_seconds() <= p.window_s]
    return max(hits, key=lambda g: g.ts) if len(hits) >= p.min_readings else None


def _wind_table(config: RiskConfig, table_name: str, mean: Observation | None, gusts: Sequence[Observation],
                now: datetime) -> HazardReason | None:
    w = config.wind
    table = w.typhoon if table_name == "typhoon" else w.gale
    src = f"{table.source}; {w.beaufort_source}; {w.gust_persistence.source}"
    p = w.gust_persistence
    for level in (Level.RED, Level.ORANGE, Level.YELLOW, Level.BLUE):
        sig = table.signal(level)
        m_bound, g_bound = w.mps(sig.mean_bft), w.mps(sig.gust_bft)
        if mean is not None and mean.value >= m_bound:
            return HazardReason("wind", level, mean.value, "m/s", m_bound, src, mean.ts,
                                f"{table_name} table: mean {mean.value:.1f} m/s >= force {sig.mean_bft} ({m_bound} m/s)")
        g = _persistent_gust(config, gusts, g_bound, now)
        if g is not None:
            n = sum(1 for x in gusts if x.value >= g_bound and 0 <= (now - x.ts).total_seconds() <= p.window_s)
            return HazardReason("wind", level, g.value, "m/s", g_bound, src, g.ts,
                                f"{table_name} table: gust {g.value:.1f} m/s >= force {sig.gust_bft} ({g_bound} m/s) "
                                f"in {n} readings within {p.window_s:.0f} s (persistent)")
    return None


def wind(config: RiskConfig, mean: Observation | None, gust: Observation | None, typhoon_active: bool,
         gusts: Sequence[Observation] = (), now: datetime | None = None) -> HazardReason:
    """Signal tables on the sustained wind: level reached when mean >= mean_bft bound OR the gust bound is
    reached by at least ``gust_persistence.min_readings`` gust readings within ``window_s`` (``gusts``: the
    station's recent gust readings; the latest ``gust`` is one of them). Under an active typhoon warning the
    level is the higher of the typhoon and the gale table (a typhoon warning never lowers the local level).
    At least one of mean/gust must be given."""
    w = config.wind
    if mean is None and gust is None:
        raise ValueError("wind needs mean or gust")
    ref = mean if mean is not None else gust
    assert ref is not None
    now = now or max(o.ts for o in (mean, gust) if o is not None)
    series = list(gusts)
    if gust is not None and all(g.ts != gust.ts for g in series):
        series.append(gust)
    found = [r for r in (_wind_table(config, "typhoon", mean, series, now) if typhoon_active else None,
                         _wind_table(config, "gale", mean, series, now)) if r is not None]
    if found:
        best = max(found, key=lambda r: r.level.rank)  # first (typhoon) wins a tie
        if typhoon_active and "gale table" in best.detail:
            best = HazardReason(best.hazard, best.level, best.value, best.unit, best.threshold, best.threshold_source,
                                best.input_ts, best.detail + "; typhoon warning active: the gale table gives the higher "
                                "level and a typhoon warning never lowers it")
        return best
    table_name = "typhoon" if typhoon_active else "gale"
    sig = (w.typhoon if typhoon_active else w.gale).signal(Level.BLUE)
    gsig = w.gale.signal(Level.BLUE)
    parts = []
    if mean is not None:
        parts.append(f"mean {mean.value:.1f} < {w.mps(min(sig.mean_bft, gsig.mean_bft))} m/s")
    if gust is not None:
        gb = w.mps(min(sig.gust_bft, gsig.gust_bft))
        parts.append(f"gust {gust.value:.1f} m/s" + (f" < {gb} m/s" if gust.value < gb else
                                                       f" >= {gb} m/s but not persistent (fewer than "
                                                       f"{w.gust_persistence.min_readings} readings in "
                                                       f"{w.gust_persistence.window_s:.0f} s)"))
    missing = "" if (mean is not None and gust is not None) else f"; {'gust' if mean is not None else 'mean'} unavailable"
    table = w.typhoon if typhoon_active else w.gale
    return HazardReason("wind", Level.NONE, ref.value, "m/s", w.mps(sig.mean_bft if mean is not None else sig.gust_bft),
                        f"{table.source}; {w.beaufort_source}; {w.gust_persistence.source}", ref.ts,
                        f"{table_name} table: " + ", ".join(parts) + missing)


def overtopping(config: RiskConfig, result: OvertoppingResult, input_ts: datetime, note: str = "") -> HazardReason:
    """q (mean-value estimate) vs the tolerable discharges of EurOtop 2018 Table 3.3 for the Hm0 at the toe
    (the violent row for an impulsive vertical wall); water over the crest never below
    ``negative_freeboard_level``. The detail shows the design/assessment value beside the estimate."""
    o = config.overtopping
    # EurOtop 2018 Table 3.3 "structures with possible violent overtopping, mostly vertical structures":
    # the row applies to a vertical wall whatever the tide (the impulsive limit moves with the water;
    # a row switching with it would let a rising tide lower the level)
    violent = result.impulsive or result.vertical
    limits = o.thresholds(result.hm0_used_m, violent)
    detail = f"q {result.q_lpsm:.3g} l/s/m by {result.equation}, freeboard {result.freeboard_m:.2f} m"
    if result.q_design_lpsm is not None:
        detail += f" (design/assessment {result.q_design_lpsm:.3g} l/s/m)"
    if result.breaker_xi is not None:
        detail += f", xi {result.breaker_xi:.2f}"
    row = ("violent overtopping row (vertical structure)" if violent else f"limits for Hm0 {result.hm0_used_m:.2f} m")
    detail += (f"; {row}: blue {limits.blue:.3g}, yellow {limits.yellow:.3g}, orange {limits.orange:.3g}, "
               f"red {limits.red:.3g} l/s/m")
    detail += "".join(f"; {x}" for x in (result.detail, note) if x)
    source = o.limits_violent.source if violent else o.source
    level, bound = classify(result.q_lpsm, limits)
    if result.negative_freeboard and level.rank < o.negative_freeboard_level.rank:
        return HazardReason("overtopping", o.negative_freeboard_level, result.q_lpsm, "l/s/m", None,
                            "domain brief: water over the crest (negative freeboard) is red", input_ts, detail)
    nxt = next_threshold(level, limits)
    shown = bound if bound is not None else (nxt[1] if nxt else None)
    return HazardReason("overtopping", level, result.q_lpsm, "l/s/m", None if shown is None else round(shown, 4),
                        source, input_ts, detail)

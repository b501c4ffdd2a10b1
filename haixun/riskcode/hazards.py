"""Per-hazard level rules. Each function takes numbers (already checked for
freshness) and returns a ``HazardReason``. Thresholds are inclusive lower
bounds (value >= threshold reaches the level)."""

from __future__ import annotations

from datetime import datetime

from haixun.riskcode.config import RiskConfig, WarningThresholds
from haixun.riskcode.levels import Level
from haixun.riskcode.model import HazardReason, NextHighWater, Observation
from haixun.riskcode.overtopping import OvertoppingResult


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
                            "no warning tide level reached; surge unknown (no tide prediction)")
    # rounded to the gauges' 1 mm resolution so that float noise never decides a band edge
    surge = round(water.value - astronomical_m, 3)
    if surge >= st.surge_blue_min_m:
        lv = Level.BLUE if surge < st.surge_blue_max_m else st.surge_above_max_level
        band = f"[{st.surge_blue_min_m}, {st.surge_blue_max_m})" if surge < st.surge_blue_max_m else f">= {st.surge_blue_max_m}"
        return HazardReason("storm_tide", lv, surge, "m", st.surge_blue_min_m, st.surge_source, water.ts,
                            f"surge {surge:.2f} m in {band} (level {water.value:.2f} m, astronomical {astronomical_m:.2f} m), "
                            "no warning tide level reached")
    return HazardReason("storm_tide", Level.NONE, water.value, "m", nxt[1] if nxt else None, st.warning_levels_source,
                        water.ts, f"water level {water.value:.2f} m below blue {warning.blue} m; surge {surge:.2f} m")


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


def wind(config: RiskConfig, mean: Observation | None, gust: Observation | None, typhoon_active: bool) -> HazardReason:
    """Signal table: typhoon while a typhoon warning is active, gale otherwise. Level reached when
    mean >= mean_bft bound OR gust >= gust_bft bound. At least one of mean/gust must be given."""
    w = config.wind
    table = w.typhoon if typhoon_active else w.gale
    table_name = "typhoon" if typhoon_active else "gale"
    if mean is None and gust is None:
        raise ValueError("wind needs mean or gust")
    for level in (Level.RED, Level.ORANGE, Level.YELLOW, Level.BLUE):
        sig = table.signal(level)
        m_bound, g_bound = w.mps(sig.mean_bft), w.mps(sig.gust_bft)
        if mean is not None and mean.value >= m_bound:
            return HazardReason("wind", level, mean.value, "m/s", m_bound, f"{table.source}; {w.beaufort_source}", mean.ts,
                                f"{table_name} table: mean {mean.value:.1f} m/s >= force {sig.mean_bft} ({m_bound} m/s)")
        if gust is not None and gust.value >= g_bound:
            return HazardReason("wind", level, gust.value, "m/s", g_bound, f"{table.source}; {w.beaufort_source}", gust.ts,
                                f"{table_name} table: gust {gust.value:.1f} m/s >= force {sig.gust_bft} ({g_bound} m/s)")
    sig = table.signal(Level.BLUE)
    ref = mean if mean is not None else gust
    assert ref is not None
    parts = []
    if mean is not None:
        parts.append(f"mean {mean.value:.1f} < {w.mps(sig.mean_bft)} m/s")
    if gust is not None:
        parts.append(f"gust {gust.value:.1f} < {w.mps(sig.gust_bft)} m/s")
    missing = "" if (mean is not None and gust is not None) else f"; {'gust' if mean is not None else 'mean'} unavailable"
    return HazardReason("wind", Level.NONE, ref.value, "m/s", w.mps(sig.mean_bft if mean is not None else sig.gust_bft),
                        f"{table.source}; {w.beaufort_source}", ref.ts, f"{table_name} table: " + ", ".join(parts) + missing)


def overtopping(config: RiskConfig, result: OvertoppingResult, input_ts: datetime, note: str = "") -> HazardReason:
    """q (mean-value estimate) vs the tolerable discharges of EurOtop 2018 Table 3.3 for the Hm0 at the toe
    (the violent row for an impulsive vertical wall); water over the crest never below
    ``negative_freeboard_level``. The detail shows the design/assessment value beside the estimate."""
    o = config.overtopping
    limits = o.thresholds(result.hm0_used_m, result.impulsive)
    detail = f"q {result.q_lpsm:.3g} l/s/m by {result.equation}, freeboard {result.freeboard_m:.2f} m"
    if result.q_design_lpsm is not None:
        detail += f" (design/assessment {result.q_design_lpsm:.3g} l/s/m)"
    if result.breaker_xi is not None:
        detail += f", xi {result.breaker_xi:.2f}"
    row = ("violent overtopping row" if result.impulsive else f"limits for Hm0 {result.hm0_used_m:.2f} m")
    detail += (f"; {row}: blue {limits.blue:.3g}, yellow {limits.yellow:.3g}, orange {limits.orange:.3g}, "
               f"red {limits.red:.3g} l/s/m")
    detail += "".join(f"; {x}" for x in (result.detail, note) if x)
    source = o.limits_violent.source if result.impulsive else o.source
    level, bound = classify(result.q_lpsm, limits)
    if result.negative_freeboard and level.rank < o.negative_freeboard_level.rank:
        return HazardReason("overtopping", o.negative_freeboard_level, result.q_lpsm, "l/s/m", None,
                            "domain brief: water over the crest (negative freeboard) is red", input_ts, detail)
    nxt = next_threshold(level, limits)
    shown = bound if bound is not None else (nxt[1] if nxt else None)
    return HazardReason("overtopping", level, result.q_lpsm, "l/s/m", None if shown is None else round(shown, 4),
                        source, input_ts, detail)

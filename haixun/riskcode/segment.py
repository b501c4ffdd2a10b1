"""Raw decision for one seawall segment: all hazards, camera events, official inputs.

The raw level is the highest of the segment's hazard levels and the official
inputs that cover it (effective = max(local, official)). Hysteresis and the
duty officer's override are applied afterwards (``haixun.riskcode.dynamics``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from haixun.riskcode import hazards
from haixun.riskcode.config import RiskConfig, WarningThresholds
from haixun.riskcode.levels import Level, Status, worst
from haixun.riskcode.model import (
    CameraEventInput,
    FeedItem,
    HazardReason,
    Observation,
    SegmentDecision,
    SegmentSpec,
    TimeToThreshold,
)
from haixun.riskcode.overtopping import OvertoppingResult, mean_overtopping
from haixun.riskcode.tides import (
    FULL_FIT_DAYS,
    MIN_FIT_DAYS,
    SurgeProjection,
    TidePrediction,
    high_water_near,
    next_high_water,
    surge_projection,
    time_to_level,
)

StationObs = Mapping[str, Mapping[str, Observation]]


def warning_levels(config: RiskConfig, segment: SegmentSpec) -> WarningThresholds:
    """The segment's warning tide levels (geography), else the config default."""
    if segment.warning_levels_m is None:
        return config.storm_tide.default_warning_levels_m
    return WarningThresholds.model_validate(segment.warning_levels_m.model_dump())


def fresh_observation(
    config: RiskConfig, obs: StationObs, station: str, quantity: str, now: datetime
) -> tuple[Observation | None, str]:
    """The usable reading, or None and why not (missing, QC flag, stale)."""
    o = obs.get(station, {}).get(quantity)
    if o is None:
        return None, f"{station}/{quantity}: no reading"
    if o.qc not in config.qc.accepted_flags:
        return None, f"{station}/{quantity}: QC flag {o.qc} not accepted"
    if not math.isfinite(o.value):
        return None, f"{station}/{quantity}: not a finite number"
    age = (now - o.ts).total_seconds()
    max_age = config.staleness.max_age_s.get(quantity)
    if max_age is not None and age > max_age:
        return None, f"{station}/{quantity}: stale ({age:.0f} s > {max_age:.0f} s)"
    return o, ""


def group_of(config: RiskConfig, hazard: str) -> str:
    """The resident-facing hazard group of a segment hazard (``hazard_groups``); flood for one in none."""
    for g, names in config.hazard_groups.items():
        if hazard in names:
            return g
    return "flood"


def hazard_group_status(config: RiskConfig, reasons: Sequence[HazardReason]) -> dict[str, Status]:
    """Per group (flood, wind, red_tide): the worst known level of its hazards, unknown (with that floor)
    when one of its key hazards is unknown -- the segment's unknown-with-floor rule applied per group."""
    key = set(config.segment.key_hazards)
    out = {}
    for g in config.hazard_groups:
        mine = [r for r in reasons if group_of(config, r.hazard) == g]
        floor = worst(r.level for r in mine if r.level is not Level.UNKNOWN)
        unknown = any(r.level is Level.UNKNOWN and r.hazard in key for r in mine)
        out[g] = Status(Level.UNKNOWN, floor) if unknown else Status(floor)
    return out


def obliquity(config: RiskConfig, segment: SegmentSpec, obs: StationObs, now: datetime) -> tuple[float | None, str]:
    """Angle (deg) between the waves' direction and the wall's normal, from the wind direction at the
    segment's wind station less ``obliquity_tolerance_deg`` (never below 0); None (gamma_beta = 1) without a
    fresh direction. Waves from behind the wall (> 90 deg) are held at 80 deg (EurOtop's largest angle)."""
    d, why = fresh_observation(config, obs, segment.wind_station, "wind_dir", now)
    if d is None:
        return None, ""
    diff = abs((d.value - segment.orientation_deg + 180.0) % 360.0 - 180.0)
    beta = max(0.0, min(diff, 80.0) - config.overtopping.obliquity_tolerance_deg)
    return beta, (f"obliquity {beta:.0f} deg (wind from {d.value:.0f} deg, wall faces {segment.orientation_deg:.0f} deg, "
                  f"less {config.overtopping.obliquity_tolerance_deg:g} deg spread)" if beta > 0 else "")


def _flag_note(*observations: Observation | None) -> str:
    suspect = [o for o in observations if o is not None and o.qc == 3]
    return "QC suspect input used" if suspect else ""


def _with_note(r: HazardReason, note: str) -> HazardReason:
    if not note:
        return r
    return HazardReason(r.hazard, r.level, r.value, r.unit, r.threshold, r.threshold_source, r.input_ts,
                        f"{r.detail}; {note}" if r.detail else note)


def camera_reasons(
    config: RiskConfig, segment_id: str, events: Sequence[CameraEventInput], q_lpsm: float | None, now: datetime
) -> list[HazardReason]:
    """Confirmed overtopping / water_on_road events hold the segment at least at the configured level."""
    cam = config.camera
    out = []
    for etype, rule in cam.types.items():
        confirmed = [
            e for e in events
            if e.type == etype and segment_id in e.segment_ids and e.confidence >= cam.min_confidence
            and (now - e.ts).total_seconds() <= rule.hold_s
        ]
        if not confirmed:
            continue
        latest = max(confirmed, key=lambda e: e.ts)
        near = [e for e in confirmed
                if e.camera_id != latest.camera_id and abs((e.ts - latest.ts).total_seconds()) <= cam.corroboration_window_s]
        # Independent corroboration (issue 14): a camera of another sensor kind (thermal vs starlight), or the
        # gauges. A second camera of the same kind (same optics, same analytics, same blind spots: spray,
        # glare, rain on the lens) is not independent; an unknown kind is taken as the same.
        others = sorted({e.camera_id for e in near if e.camera_kind and latest.camera_kind
                         and e.camera_kind != latest.camera_kind})
        same_kind = sorted({e.camera_id for e in near} - set(others))
        by_gauges = q_lpsm is not None and q_lpsm >= cam.corroboration_q_lpsm
        corroborations = []
        if others:
            corroborations.append(f"camera(s) of another kind {', '.join(others)}")
        if by_gauges:
            corroborations.append(f"gauges: computed overtopping q {q_lpsm:.3g} >= {cam.corroboration_q_lpsm} l/s/m")
        level = rule.corroborated_level if corroborations else rule.level
        detail = (f"{etype} seen by {latest.camera_id} at {latest.ts.isoformat()} (confidence {latest.confidence:.2f}), "
                  f"held {rule.hold_s:.0f} s; " + (f"corroborated by {' and '.join(corroborations)}" if corroborations
                                                   else "not corroborated by an independent source")
                  + (f"; also seen by {', '.join(same_kind)} (same camera kind "
                     f"{latest.camera_kind or 'unknown'}: not independent)" if same_kind else ""))
        out.append(HazardReason(f"camera:{etype}", level, latest.confidence, "confidence", cam.min_confidence,
                                "riskcode.toml [camera] (ASSUMPTION)", latest.ts, detail))
    return out


def official_reasons(config: RiskConfig, feeds: Sequence[FeedItem], now: datetime) -> list[HazardReason]:
    """Active official inputs already selected for this segment."""
    out = []
    for f in feeds:
        if not f.active(now) or f.kind not in config.official.kinds:
            continue
        until = f.valid_to.isoformat() if f.valid_to else "further notice"
        out.append(HazardReason(f"official:{f.kind}", f.level, None, "", None, f"{f.issuer} ({f.id})", f.valid_from,
                                f"{f.issuer} {f.kind} {f.level.value} valid {f.valid_from.isoformat()} to {until}: {f.text}"))
    return out


def _surge_projection(config: RiskConfig, prediction: TidePrediction, now: datetime, surge_now: float,
                      series: Sequence[Observation], feeds: Sequence[FeedItem]) -> SurgeProjection:
    """Official surge forecast > local growth (trend, skew surges) > persistence (riskcode.toml storm_tide)."""
    st = config.storm_tide
    recent = [(o.ts, o.value) for o in series
              if o.qc in config.qc.accepted_flags and math.isfinite(o.value) and o.ts <= now]
    recent.sort(key=lambda p: p[0])
    official = None
    official_at: datetime | None = None
    official_level: float | None = None
    for f in feeds:
        if f.kind != "surge_forecast":
            continue
        o_surge, basis, o_at = None, "", None
        if f.peak_level_m is not None and f.peak_at is not None and math.isfinite(f.peak_level_m):
            # The bulletin forecasts the water at ONE high water: its surge is that level minus the
            # predicted high water it belongs to, applied at that high water only (so the projected
            # high water is the bulletin's level). Its surge at the peak time added to another high
            # water, or to the astronomical high water of a peak that falls before it, overstated the
            # water (In-fa replay: 4.70 m red at Huanggu from a 4.49 m orange bulletin; the overnight
            # surge on the morning high water). A high water beyond the prediction: not placed (the
            # bulletin's level still counts as the official reason).
            hw = high_water_near(prediction, f.peak_at)
            if hw is not None:
                o_surge, o_at = f.peak_level_m - hw[1], hw[0]
                basis = f" at its high water {f.peak_level_m:.2f} m"
        elif f.surge_m is not None and math.isfinite(f.surge_m):
            o_surge, basis = float(f.surge_m), " (peak surge)"
        if o_surge is not None and (official is None or o_surge > official[0]):
            official = (o_surge, f.valid_from, f.valid_to, f"{f.issuer} {f.id}{basis}")
            official_at = None if o_at is None else datetime.fromtimestamp(o_at, UTC)
            official_level = f.peak_level_m if o_at is not None else None
    return surge_projection(prediction, now, surge_now, recent, efold_h=st.surge_efold_hours,
                            trend_window_h=st.surge_trend_window_hours, min_rise_m=st.surge_trend_min_rise_m,
                            max_rate_m_per_h=st.surge_trend_max_m_per_h, max_hours=st.surge_trend_max_hours,
                            skew_window_h=st.skew_surge_window_hours, official=official, official_at=official_at,
                            official_level_m=official_level)


def evaluate_segment(
    config: RiskConfig,
    segment: SegmentSpec,
    obs: StationObs,
    prediction: TidePrediction | None,
    events: Sequence[CameraEventInput],
    feeds: Sequence[FeedItem],
    now: datetime,
    period_kinds: Mapping[str, str] | None = None,
    recent: Mapping[str, Mapping[str, Sequence[Observation]]] | None = None,
) -> SegmentDecision:
    """All hazards of one segment at ``now``. ``feeds`` are those whose area covers the segment.
    ``period_kinds``: station id -> the wave period it reports (station metadata ``wave_period_kind``).
    ``recent``: station -> quantity -> recent readings (the gust persistence rule uses ``wind_gust``)."""
    st = config.storm_tide
    warn = warning_levels(config, segment)
    reasons: list[HazardReason] = []
    active_feeds = [f for f in feeds if f.active(now)]
    typhoon_active = any(f.kind == "typhoon_warning" for f in active_feeds)

    # 1-2. storm tide, surge, forecast high water, time to threshold
    water, why_water = fresh_observation(config, obs, segment.tide_station, "tide_level", now)
    pred_ok = prediction is not None and prediction.covers(now, st.prediction_max_gap_s)
    astro = prediction.at(now) if pred_ok and prediction is not None else None
    nhw = None
    ttt = None
    if water is None:
        reasons.append(hazards.unknown_reason("storm_tide", "m", st.warning_levels_source, why_water))
        reasons.append(hazards.unknown_reason("storm_tide_forecast", "m", st.warning_levels_source, why_water))
    else:
        reasons.append(_with_note(hazards.storm_tide(config, warn, water, astro,
                                                          prediction.basis if prediction is not None else ""), _flag_note(water)))
        if astro is None or prediction is None:
            reasons.append(hazards.unknown_reason("storm_tide_forecast", "m", st.warning_levels_source,
                                                  "no astronomical tide prediction covering now (a tide model "
                                                  f"needs >= {MIN_FIT_DAYS:g} days of levels, N2/K2/P1 inferred below "
                                                  f"{FULL_FIT_DAYS:g} days, or imported official "
                                                  "constants): surge unknown", water.ts))
        else:
            surge = _surge_projection(config, prediction, now, water.value - astro,
                                      (recent or {}).get(segment.tide_station, {}).get("tide_level", ()),
                                      active_feeds)
            nhw, highest = next_high_water(prediction, now, surge, st.surge_efold_hours, st.forecast_horizon_hours)
            reasons.append(hazards.storm_tide_forecast(config, warn, highest, water.ts))
            current, _ = hazards.classify(water.value, warn)
            nxt = hazards.next_threshold(current, warn)
            if nxt is not None:
                at = time_to_level(prediction, now, surge, st.surge_efold_hours, st.forecast_horizon_hours, nxt[1])
                if at is not None:
                    ttt = TimeToThreshold(nxt[0], nxt[1], at, (at - now).total_seconds())

    # 3. waves
    hs, why_hs = fresh_observation(config, obs, segment.wave_station, "wave_height", now)
    if hs is None:
        reasons.append(hazards.unknown_reason("wave", "m", config.wave.source, why_hs))
    else:
        reasons.append(_with_note(hazards.wave(config, hs), _flag_note(hs)))

    # 4. wind
    mean, why_mean = fresh_observation(config, obs, segment.wind_station, "wind_speed", now)
    gust, why_gust = fresh_observation(config, obs, segment.wind_station, "wind_gust", now)
    if mean is None and gust is None:
        reasons.append(hazards.unknown_reason("wind", "m/s", config.wind.beaufort_source, f"{why_mean}; {why_gust}"))
    else:
        series = [g for g in (recent or {}).get(segment.wind_station, {}).get("wind_gust", ())
                  if g.qc in config.qc.accepted_flags and math.isfinite(g.value) and g.ts <= now]
        reasons.append(_with_note(hazards.wind(config, mean, gust, typhoon_active, series, now), _flag_note(mean, gust)))

    # 5. overtopping
    ot: OvertoppingResult | None = None
    o = config.overtopping
    if water is None or hs is None:
        reasons.append(hazards.unknown_reason("overtopping", "l/s/m", o.source, why_water or why_hs))
    else:
        period, why_t = fresh_observation(config, obs, segment.wave_station, "wave_period", now)
        notes = []
        if period is not None and period.value > 0:
            t_s, conv = o.tm10(period.value, (period_kinds or {}).get(segment.wave_station))
            if conv:
                notes.append(conv)
        elif o.fallback_steepness > 0 and hs.value > 0:
            t_s = math.sqrt(2 * math.pi * hs.value / (o.g * o.fallback_steepness))
            notes.append(f"Tm-1,0 estimated {t_s:.1f} s from steepness {o.fallback_steepness} (ASSUMPTION; "
                         f"{why_t or 'period 0'})")
        elif hs.value == 0:
            t_s = 1.0
            notes.append("calm: Hm0 = 0")
        else:
            t_s = 0.0
        if t_s <= 0:
            reasons.append(hazards.unknown_reason("overtopping", "l/s/m", o.source, why_t or "wave period is 0"))
        else:
            beta, why_beta = obliquity(config, segment, obs, now)
            notes.append(why_beta)
            hm0_toe = hs.value * o.offshore_to_toe_factor
            if o.offshore_to_toe_factor != 1.0:
                notes.insert(0, f"Hm0 at the toe {hm0_toe:.2f} m = {o.offshore_to_toe_factor:g} x offshore buoy Hs "
                                f"{hs.value:.2f} m (nearshore transformation, ASSUMPTION)")
            ot = mean_overtopping(
                structure=segment.structure, still_water_m=water.value, crest_level_m=segment.crest_level_m,
                hm0_m=hm0_toe, period_s=t_s, slope_tan=segment.slope_tan, toe_level_m=segment.toe_level_m,
                toe_depth_limit_ratio=o.toe_depth_limit_ratio, gamma_f=segment.roughness_gamma_f,
                berm_width_m=segment.berm_width_m, berm_level_m=segment.berm_level_m,
                wave_wall_angle_deg=segment.wave_wall_angle_deg if segment.wave_wall_height_m > 0 else None,
                wave_obliquity_deg=beta, impulsive_rc_hm0_max=o.impulsive_rc_hm0_max, g=o.g,
            )
            used_ts = min(x.ts for x in (water, hs, period) if x is not None)
            reasons.append(_with_note(hazards.overtopping(config, ot, used_ts, "; ".join(n for n in notes if n)),
                                      _flag_note(water, hs, period)))

    # 6. cameras
    reasons.extend(camera_reasons(config, segment.id, events, ot.q_lpsm if ot else None, now))

    # Unknown and its floor (docs/riskcode.md): the floor is the worst KNOWN level; a key hazard
    # that is unknown makes the segment "unknown, at least <floor>" (a known lower colour never
    # hides it); unknown over a red floor is red.
    key = set(config.segment.key_hazards)
    unknown_hazards = tuple(dict.fromkeys(r.hazard for r in reasons if r.level is Level.UNKNOWN and r.hazard in key))
    local_floor = worst(r.level for r in reasons if r.level is not Level.UNKNOWN)
    local = Status(Level.UNKNOWN, local_floor) if unknown_hazards else Status(local_floor)
    sensor_hazards = ("storm_tide", "wave", "wind")
    offline = all(r.level is Level.UNKNOWN for r in reasons if r.hazard in sensor_hazards)
    last_seen = max((ob.ts for st_id, q in ((segment.tide_station, "tide_level"), (segment.wave_station, "wave_height"),
                                           (segment.wind_station, "wind_speed"), (segment.wind_station, "wind_gust"))
                     if (ob := obs.get(st_id, {}).get(q)) is not None and ob.ts <= now), default=None)

    # 7. official inputs
    official = official_reasons(config, active_feeds, now)
    official_level = worst(r.level for r in official)
    floor = worst([local_floor, official_level])
    raw = Status(Level.UNKNOWN, floor) if unknown_hazards else Status(floor)
    reasons.extend(official)
    groups = hazard_group_status(config, reasons)
    return SegmentDecision(
        segment_id=segment.id, raw_level=raw.level, local_level=local.level, hazards=tuple(reasons), decided_at=now,
        floor=raw.floor, local_floor=local.floor, official_level=official_level, unknown_hazards=unknown_hazards,
        sensors_offline=offline, sensors_offline_since=last_seen if offline else None,
        config_version=config.version,
        overtopping_lpsm=ot.q_lpsm if ot else None, freeboard_m=(ot.freeboard_m if ot else
                                                                (segment.crest_level_m - water.value if water else None)),
        overtopping_equation=ot.equation if ot else None,
        overtopping_design_lpsm=ot.q_design_lpsm if ot else None, next_high_water=nhw, time_to_threshold=ttt,
        extra={"official_level": official_level.value, "typhoon_table": typhoon_active},
        hazard_status=groups,
    )

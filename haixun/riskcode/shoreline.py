"""Full-shoreline entry point the engine calls every cycle.

``evaluate_shoreline(config, segments, inputs, prev, now, areas=None)``:
raw decision per segment -> hysteresis -> override -> roll-up. Pure: the
previous state comes in, the new state goes out (``result.state``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely.geometry import LineString, Polygon

from haixun.riskcode.config import RiskConfig
from haixun.riskcode.dynamics import LevelState, active_override, step
from haixun.riskcode.feeds import effective_feeds
from haixun.riskcode.geometry import flood_water_m
from haixun.riskcode.levels import Level, Status
from haixun.riskcode.model import (
    CameraEventInput,
    FeedItem,
    HazardReason,
    Observation,
    Override,
    SegmentDecision,
    SegmentSpec,
    iso,
)
from haixun.riskcode.rollup import AreaIndex, Rollup, roll_up
from haixun.riskcode.segment import evaluate_segment
from haixun.riskcode.tides import TidePrediction


@dataclass(frozen=True)
class ShorelineInputs:
    """Everything one cycle needs. ``observations[station][quantity]``; ``tide_predictions[tide_station]``."""

    observations: Mapping[str, Mapping[str, Observation]]
    tide_predictions: Mapping[str, TidePrediction] = field(default_factory=dict)
    camera_events: Sequence[CameraEventInput] = ()
    feeds: Sequence[FeedItem] = ()
    overrides: Sequence[Override] = ()
    wave_period_kinds: Mapping[str, str] = field(default_factory=dict)  # station -> Tm-1,0 | Tp | T1/3 | Tz
    # station -> quantity -> readings of the last minutes (wind_gust: the gust persistence rule)
    recent: Mapping[str, Mapping[str, Sequence[Observation]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SegmentState:
    held: LevelState
    shown: Level
    shown_since: datetime
    shown_floor: Level = Level.NONE
    groups: dict[str, LevelState] = field(default_factory=dict)  # per hazard group (flood, wind, ...) hysteresis

    def __post_init__(self) -> None:
        st = Status(self.shown, self.shown_floor)
        object.__setattr__(self, "shown", st.level)
        object.__setattr__(self, "shown_floor", st.floor)

    @property
    def status(self) -> Status:
        return Status(self.shown, self.shown_floor)

    def to_dict(self) -> dict[str, Any]:
        return {"held": self.held.to_dict(), "shown": self.shown.value, "shown_floor": self.shown_floor.value,
                "shown_since": iso(self.shown_since), "groups": {g: s.to_dict() for g, s in self.groups.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SegmentState:
        return cls(LevelState.from_dict(d["held"]), Level(d["shown"]), datetime.fromisoformat(d["shown_since"]),
                   Level(d.get("shown_floor") or "none"),
                   {g: LevelState.from_dict(s) for g, s in (d.get("groups") or {}).items()})


@dataclass(frozen=True)
class ShorelineState:
    """Carried from one cycle to the next (the engine may persist ``to_dict()``)."""

    segments: dict[str, SegmentState]
    areas: dict[str, tuple[Status, datetime]]  # key "kind:id"

    def to_dict(self) -> dict[str, Any]:
        return {"segments": {k: v.to_dict() for k, v in self.segments.items()},
                "areas": {k: {"level": st.level.value, "floor": st.floor.value, "since": iso(t)}
                          for k, (st, t) in self.areas.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShorelineState:
        return cls({k: SegmentState.from_dict(v) for k, v in d.get("segments", {}).items()},
                   {k: (Status(Level(v["level"]), Level(v.get("floor") or "none")), datetime.fromisoformat(v["since"]))
                    for k, v in d.get("areas", {}).items()})


@dataclass(frozen=True, slots=True)
class LevelChange:
    subject_kind: str  # segment | village | town | city
    subject_id: str
    from_level: Level | None
    to_level: Level
    at: datetime
    reasons: tuple[HazardReason, ...] = ()
    from_floor: Level | None = None
    to_floor: Level = Level.NONE

    def to_dict(self) -> dict[str, Any]:
        return {"subject_kind": self.subject_kind, "subject_id": self.subject_id,
                "from_level": self.from_level.value if self.from_level else None, "to_level": self.to_level.value,
                "from_floor": self.from_floor.value if self.from_floor else None, "to_floor": self.to_floor.value,
                "at": iso(self.at), "reasons": [r.to_dict() for r in self.reasons]}


@dataclass(frozen=True, slots=True)
class SegmentResult:
    decision: SegmentDecision
    level: Level  # shown: after hysteresis and override
    since: datetime
    held: LevelState
    override: Override | None
    floor: Level = Level.NONE  # shown floor ("unknown, at least <floor>"); == level when level is a colour
    groups: dict[str, Status] = field(default_factory=dict)  # shown status per hazard group (flood, wind, ...)

    def __post_init__(self) -> None:
        st = Status(self.level, self.floor)
        object.__setattr__(self, "level", st.level)
        object.__setattr__(self, "floor", st.floor)

    @property
    def status(self) -> Status:
        return Status(self.level, self.floor)

    @property
    def reasons(self) -> tuple[HazardReason, ...]:
        if self.override is None:
            return self.decision.hazards
        o = self.override
        return self.decision.hazards + (HazardReason(
            "override", o.level, None, "", None, f"duty officer {o.by}", o.set_at,
            f"manual override to {o.level.value} by {o.by} until {o.expires_at.isoformat()}: {o.reason} "
            f"(hazards say {self.decision.raw_level.value}, held {self.held.level.value})"),)

    def to_dict(self) -> dict[str, Any]:
        d = self.decision
        pending = None
        if self.held.below_since is not None and self.held.pending_max is not None:
            pending = {"to": self.held.pending_max.value, "below_since": iso(self.held.below_since)}
        return {
            "level": self.level.value, "floor": self.floor.value, "label": self.status.label,
            "raw_level": d.raw_level.value, "raw_floor": d.floor.value, "since": iso(self.since),
            "held_level": self.held.level.value, "held_floor": self.held.floor.value,
            "local_level": d.local_level.value, "local_floor": d.local_floor.value,
            "official_level": d.official_level.value,
            "unknown_hazards": list(d.unknown_hazards),
            "sensors_offline": d.sensors_offline, "sensors_offline_since": iso(d.sensors_offline_since),
            "official_only": d.official_only,
            "decided_at": iso(d.decided_at), "config_version": d.config_version,
            "hazards": [r.to_dict() for r in self.reasons],
            "overtopping_lpsm": None if d.overtopping_lpsm is None else round(d.overtopping_lpsm, 4),
            "freeboard_m": None if d.freeboard_m is None else round(d.freeboard_m, 3),
            "overtopping_equation": d.overtopping_equation,
            "overtopping_design_lpsm": None if d.overtopping_design_lpsm is None else round(d.overtopping_design_lpsm, 4),
            "next_high_water": d.next_high_water.to_dict() if d.next_high_water else None,
            "time_to_threshold": d.time_to_threshold.to_dict() if d.time_to_threshold else None,
            "wind_table": "typhoon" if d.extra.get("typhoon_table") else "gale",
            "pending_downgrade": pending,
            # per hazard group (issue 13): the shown status (after its own hysteresis and the override) and the raw
            "hazard_levels": {g: {"level": st.level.value, "floor": st.floor.value,
                                  "raw_level": d.hazard_status[g].level.value if g in d.hazard_status else None,
                                  "raw_floor": d.hazard_status[g].floor.value if g in d.hazard_status else None}
                              for g, st in self.groups.items()},
            "override": None if self.override is None else {
                "level": self.override.level.value, "reason": self.override.reason, "by": self.override.by,
                "set_at": iso(self.override.set_at), "expires_at": iso(self.override.expires_at)},
        }


@dataclass(frozen=True)
class ShorelineResult:
    at: datetime
    config_version: str
    segments: dict[str, SegmentResult]
    rollup: Rollup | None
    area_since: dict[str, datetime]
    state: ShorelineState
    changes: tuple[LevelChange, ...]

    @property
    def segment_levels(self) -> dict[str, Level]:
        """Shown levels (``unknown`` without its floor: use ``segment_statuses`` to compare severity)."""
        return {k: v.level for k, v in self.segments.items()}

    @property
    def segment_statuses(self) -> dict[str, Status]:
        return {k: v.status for k, v in self.segments.items()}

    def to_dict(self) -> dict[str, Any]:
        """Snapshot body fields of docs/state.md (segments, areas, config_version, at)."""
        areas: dict[str, Any] = {}
        if self.rollup is not None:
            areas = self.rollup.to_dict()
            areas["city"]["since"] = iso(self.area_since.get("city:city"))
            for kind in ("towns", "villages"):
                for k, v in areas[kind].items():
                    v["since"] = iso(self.area_since.get(f"{kind[:-1]}:{k}"))
        return {"at": iso(self.at), "config_version": self.config_version,
                "segments": {k: v.to_dict() for k, v in self.segments.items()}, "areas": areas}


def feeds_for_segment(feeds: Sequence[FeedItem], segment: SegmentSpec, line: LineString) -> list[FeedItem]:
    """Feeds naming the segment, or whose polygon meets its crest line, or with no area (whole shoreline)."""
    out = []
    for f in feeds:
        if f.segment_ids:
            if segment.id in f.segment_ids:
                out.append(f)
        elif f.polygon:
            if Polygon(f.polygon).intersects(line):
                out.append(f)
        else:
            out.append(f)
    return out


def with_official(local: Status, official: Level) -> Status:
    """The shown status: the local held status raised to the official level (an unknown stays
    unknown with the higher floor; unknown over red is red)."""
    floor = official if official.rank > local.floor.rank else local.floor
    return Status(Level.UNKNOWN, floor) if local.is_unknown else Status(floor)


def _explains(r: HazardReason, shown: Status) -> bool:
    """Reasons kept with a level change: the unknown ones when unknown, and those at or above the floor."""
    if r.level is Level.UNKNOWN:
        return shown.is_unknown
    return r.level.rank >= max(shown.floor.rank, Level.BLUE.rank)


def evaluate_shoreline(
    config: RiskConfig,
    segments: Sequence[SegmentSpec],
    inputs: ShorelineInputs,
    prev: ShorelineState | None,
    now: datetime,
    areas: AreaIndex | None = None,
) -> ShorelineResult:
    """One engine cycle. ``now`` must be timezone-aware; nothing reads the clock."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # bulletin series (docs/riskcode.md): only the newest valid bulletin per source x kind x area counts
    active_feeds = effective_feeds(inputs.feeds, now, {s.id: s.coords for s in segments}) if inputs.feeds else []
    events = [e for e in inputs.camera_events if e.ts <= now]
    results: dict[str, SegmentResult] = {}
    seg_states: dict[str, SegmentState] = {}
    changes: list[LevelChange] = []
    for seg in segments:
        seg_feeds = feeds_for_segment(active_feeds, seg, LineString(seg.coords)) if active_feeds else []
        decision = evaluate_segment(config, seg, inputs.observations, inputs.tide_predictions.get(seg.tide_station),
                                    events, seg_feeds, now, inputs.wave_period_kinds, inputs.recent)
        before = prev.segments.get(seg.id) if prev else None
        # The dwell filters the LOCAL level (sensors, cameras); official bulletins apply as issued on
        # top of it: an official downgrade applies at once down to the local held level, which itself
        # comes down only after the dwell (docs/riskcode.md "Official downgrade and the local dwell").
        held, _ = step(before.held if before else None, decision.local, now, config.hysteresis.dwell_s)
        ovr = active_override(inputs.overrides, seg.id, now)
        shown = Status(ovr.level) if ovr is not None else with_official(held.status, decision.official_level)
        if before is None or before.status != shown:
            since = now
        else:
            since = before.shown_since
        # per hazard group: its own hysteresis (same dwell), the duty officer's override replaces every group
        g_held = {g: step(before.groups.get(g) if before else None, st, now, config.hysteresis.dwell_s)[0]
                  for g, st in decision.hazard_status.items()}
        g_shown = {g: Status(ovr.level) if ovr is not None else h.status for g, h in g_held.items()}
        state = SegmentState(held, shown.level, since, shown.floor, g_held)
        seg_states[seg.id] = state
        result = SegmentResult(decision, shown.level, since, held, ovr, shown.floor, g_shown)
        results[seg.id] = result
        if before is None or before.status != shown:
            changes.append(LevelChange("segment", seg.id, before.shown if before else None, shown.level, now,
                                       tuple(r for r in result.reasons if _explains(r, shown)),
                                       before.shown_floor if before else None, shown.floor))
    rollup = None
    area_states: dict[str, tuple[Status, datetime]] = {}
    if areas is not None:
        groups: dict[str, dict[str, Status]] = {g: {} for g in config.hazard_groups}
        for k, v in results.items():
            for g, st in v.groups.items():
                groups.setdefault(g, {})[k] = st
        water = {seg.id: w for seg in segments if (w := flood_water_m(
            config, ((r.hazard, r.level, r.value) for r in results[seg.id].decision.hazards))) is not None}
        rollup = roll_up(config, areas, {k: v.status for k, v in results.items()}, groups, water)
        subjects = [("city", "city", rollup.city.status)]
        subjects += [("town", k, v.status) for k, v in rollup.towns.items()]
        subjects += [("village", k, v.status) for k, v in rollup.villages.items()]
        for kind, sid, st in subjects:
            key = f"{kind}:{sid}"
            old = prev.areas.get(key) if prev else None
            if old is None or old[0] != st:
                area_states[key] = (st, now)
                changes.append(LevelChange(kind, sid, old[0].level if old else None, st.level, now, (),
                                           old[0].floor if old else None, st.floor))
            else:
                area_states[key] = old
    return ShorelineResult(now, config.version, results, rollup, {k: t for k, (_, t) in area_states.items()},
                           ShorelineState(seg_states, area_states), tuple(changes))

"""Location risk code for GET /api/v1/risk and /ws/risk.

``assess_location`` is the one place where a resident's point is turned into
a response. The rules themselves are riskcode's: exposure zone, the segments
that count and the code matrix (``SeawallIndex`` + ``code_for``, the two
halves of ``riskcode.location_code``); this module adds the served-area check,
the wording, and the shelter/road/contact lookups of the geography.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from shapely.geometry import Point

from haixun.api.geo import ServedGeography
from haixun.api.reasons import reason_text
from haixun.data.geography import Village
from haixun.errors import NotFound
from haixun.riskcode import Level, RiskConfig, SeawallIndex, parse_level
from haixun.riskcode.geometry import (
    Ground,
    HazardCodes,
    code_for,
    exposure_from_distances,
    flood_water_m,
    hazard_codes,
)
from haixun.riskcode.levels import Status, combine

ROAD_RADIUS_M = 2000.0
SHELTERS_SHOWN = 3

# What the overtopping level of the wall in front means (riskcode: EurOtop 2018 Table 3.3 limits for the
# Hm0 at the toe, riskcode.toml [overtopping]); the API keeps no discharge limits of its own.
OVERTOPPING_CLASSES = {"none": "tolerable", "blue": "approaching_people_limit", "yellow": "people_off_the_crest",
                       "orange": "vehicles_off_the_crest", "red": "crest_damage_flooding"}


OUTSIDE_MSG = ("outside the served area: this service covers the towns of Pinghu in its geography only / "
               "不在服务范围内：本服务仅覆盖平湖市（乍浦、独山港、当湖）")


class OutsideServedArea(NotFound):
    """The point lies outside the served geography (the API's 404 with OUTSIDE_MSG)."""

    def __init__(self, message: str = OUTSIDE_MSG) -> None:
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class OpsStatus:
    """Duty-room state of shelters and roads (columns shelters.open / roads.closed)."""

    shelters_open: dict[str, bool]
    roads_closed: dict[str, bool]


def level_of(entry: dict[str, Any] | None) -> Level:
    if not entry or "level" not in entry:
        return Level.UNKNOWN
    try:
        return parse_level(str(entry["level"]))
    except ValueError:
        return Level.UNKNOWN


def status_of(entry: dict[str, Any] | None) -> Status:
    """A state entry's status: ``level`` and ``floor`` ("unknown, at least <floor>"); a missing or
    unreadable entry is plain unknown. Every severity comparison of the API goes through this."""
    lv = level_of(entry)
    if lv is not Level.UNKNOWN or not entry:
        return Status(lv)
    try:
        floor = parse_level(str(entry.get("floor") or "none"))
        return Status(Level.UNKNOWN, floor if floor is not Level.UNKNOWN else Level.NONE)
    except ValueError:
        return Status(Level.UNKNOWN)


_TITLES = {"zh": {"none": "无风险", "blue": "蓝色风险", "yellow": "黄色风险", "orange": "橙色风险", "red": "红色风险",
                  "unknown": "风险未知"},
           "en": {"none": "No risk", "blue": "Blue risk", "yellow": "Yellow risk", "orange": "Orange risk",
                  "red": "Red risk", "unknown": "Risk unknown"}}


def _advice(config: RiskConfig, level: Level | Status, zone_id: str, lang: str) -> dict[str, Any]:
    st = Status.of(level)
    base = config.advice.code[st.level]
    note = config.advice.zone[zone_id]  # type: ignore[index]
    actions = [base.zh, note.zh] if lang == "zh" else [base.en, note.en]
    title = _TITLES[lang][st.level.value]
    if st.is_unknown and st.floor.is_warning:
        # unknown with a floor: the floor's advice applies at the least
        fb = config.advice.code[st.floor]
        actions.insert(1, fb.zh if lang == "zh" else fb.en)
        title += f"（至少{_TITLES['zh'][st.floor.value]}）" if lang == "zh" else f" (at least {_TITLES['en'][st.floor.value].lower()})"
    return {"title": title, "text": (" " if lang == "en" else "").join(actions), "actions": actions}


def _combined_advice(config: RiskConfig, status: Status, single: Status, hc: HazardCodes, zone_id: str,
                     lang: str) -> dict[str, Any]:
    """Title from the combined code; actions: each hazard's advice (most severe first, config
    ``advice.flood``/``wind``/``both``), then the zone note. When the single-colour code of the combined
    level is the higher one (per-hazard hysteresis lagging), its general advice is added."""
    actions = list(hc.advice_zh if lang == "zh" else hc.advice_en)
    if single.severity > hc.combined.severity:
        base = config.advice.code[single.level]
        actions.insert(0, base.zh if lang == "zh" else base.en)
    note = config.advice.zone[zone_id]  # type: ignore[index]
    actions.append(note.zh if lang == "zh" else note.en)
    title = _TITLES[lang][status.level.value]
    if status.is_unknown and status.floor.is_warning:
        title += f"（至少{_TITLES['zh'][status.floor.value]}）" if lang == "zh" else f" (at least {_TITLES['en'][status.floor.value].lower()})"
    return {"title": title, "text": (" " if lang == "en" else "").join(actions), "actions": actions}


def overtopping_class(level: str | None) -> str | None:
    """The meaning of the front segment's overtopping level (None when the level is not known)."""
    return OVERTOPPING_CLASSES.get(level) if isinstance(level, str) else None


def _hazard_entry(entry: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((h for h in entry.get("hazards") or [] if h.get("hazard") == name), None)


def group_statuses(config: RiskConfig, seg_states: dict[str, Any], segment_ids: tuple[str, ...]
                   ) -> dict[str, dict[str, Status]]:
    """group -> segment -> shown status, from each entry's ``hazard_levels``. An entry without them (an
    older engine) is read as the old single colour: flood = its combined status, the other groups none."""
    out: dict[str, dict[str, Status]] = {g: {} for g in config.hazard_groups}
    for sid in segment_ids:
        entry = seg_states.get(sid)
        levels = (entry or {}).get("hazard_levels")
        for g in config.hazard_groups:
            if isinstance(levels, dict) and isinstance(levels.get(g), dict):
                out[g][sid] = status_of(levels[g])
            elif entry is None or not isinstance(levels, dict):
                out[g][sid] = status_of(entry) if g == "flood" else (Status(Level.NONE) if entry else
                                                                    Status(Level.UNKNOWN))
            else:
                out[g][sid] = Status(Level.UNKNOWN)  # a group missing from a new-style entry: unknown
    return out


def expected_water(config: RiskConfig, seg_states: dict[str, Any], segment_ids: tuple[str, ...]) -> float | None:
    """The expected water of the low-ground test at the segments that count (``geometry.flood_water_m``
    on each state entry's hazard reasons: the engine's roll-up applies the same rule); None when none
    is known at ``flood_exposure.min_level``."""
    vals = []
    for sid in segment_ids:
        reasons = []
        for h in (seg_states.get(sid) or {}).get("hazards") or []:
            try:
                lv = Level(h.get("level"))
            except ValueError:
                continue
            v = h.get("value")
            reasons.append((str(h.get("hazard")), lv, float(v) if isinstance(v, (int, float)) else None))
        w = flood_water_m(config, reasons)
        if w is not None:
            vals.append(w)
    return max(vals) if vals else None


def ground_at(served: ServedGeography, config: RiskConfig, here: Point, village: Village | None) -> Ground | None:
    """The ground elevation at a point where the geography has it: the lowest road low point within
    ``flood_exposure.low_point_radius_m``, else the village's typical ground level; None without either.
    ``here``: the point in metres (``served.metric``); ``village``: ``served.village_at`` of the point."""
    radius = config.flood_exposure.low_point_radius_m
    near = np.flatnonzero(served.low_point_distances(here) <= radius)
    if len(near):  # the most local data first: the lowest road low point near the point (the first of equals)
        road_id, level_m = min((served.low_point_of[int(i)] for i in near), key=lambda t: t[1])
        return Ground(level_m, f"road {road_id} low point")
    if village is not None and village.ground_level_m is not None:
        return Ground(village.ground_level_m, f"village {village.id}")
    return None


def _still_water(entry: dict[str, Any]) -> float | None:
    for h in entry.get("hazards") or []:
        if h.get("hazard") == "storm_tide" and isinstance(h.get("value"), (int, float)):
            return float(h["value"])
    return None


def parse_state_ts(s: Any) -> datetime | None:
    """A timestamp of the state body (RFC 3339 text) or None if absent/unreadable; naive = UTC."""
    if not isinstance(s, str):
        return None
    try:
        ts = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def assess_location(served: ServedGeography, seawall: SeawallIndex, config: RiskConfig, state: dict[str, Any],
                    ops: OpsStatus, lat: float, lon: float, lang: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if not served.in_served_area(lon, lat):
        raise OutsideServedArea()
    seg_states: dict[str, Any] = state.get("segments") or {}
    absd, nearest, signed_m = seawall.distances_one(lon, lat)
    exposure = exposure_from_distances(seawall, absd, nearest, signed_m)
    levels = {sid: status_of(seg_states.get(sid)) for sid in exposure.segment_ids}
    located = code_for(config, exposure, levels)
    zone_id, front_id = located.zone, exposure.nearest_segment_id
    here = served.metric(lon, lat)
    village = served.village_at(lon, lat)
    # codes per hazard (issue 13): flood by distance and ground elevation, wind by the wind matrix
    hc = hazard_codes(config, exposure, group_statuses(config, seg_states, exposure.segment_ids),
                      ground_at(served, config, here, village),
                      expected_water(config, seg_states, exposure.segment_ids))
    # the combined code: the worst hazard code, never below the single-colour code of the combined level
    status = combine([hc.combined, located.status])
    code = status.level
    distance = dict(zip(seawall.segment_ids, absd.tolist(), strict=True))
    counted = sorted(exposure.segment_ids, key=lambda sid: distance[sid])
    segments = [{"id": sid, "name": served.segments[sid].name, "name_en": served.segments[sid].name_en,
                 "level": levels[sid].level.value, "floor": levels[sid].floor.value,
                 "unknown_hazards": (seg_states.get(sid) or {}).get("unknown_hazards") or [],
                 "sensors_offline_since": (seg_states.get(sid) or {}).get("sensors_offline_since"),
                 "distance_m": round(distance[sid], 1), "in_front": sid == front_id}
                for sid in counted]
    front_state: dict[str, Any] = seg_states.get(front_id) or {}

    reasons = []
    for sid in counted:
        for h in (seg_states.get(sid) or {}).get("hazards") or []:
            if h.get("level") in (None, "none"):
                continue
            reasons.append({"segment_id": sid, "hazard": h.get("hazard"), "level": h.get("level"),
                            "value": h.get("value"), "unit": h.get("unit"), "threshold": h.get("threshold"),
                            "detail": h.get("detail"), "text": reason_text(h, lang)})
    if located.segment_level == Level.UNKNOWN:
        reasons.append({"segment_id": front_id, "hazard": "stale_data", "level": "unknown", "value": None,
                        "unit": None, "threshold": None, "text": reason_text({"hazard": "stale_data"}, lang)})

    front = served.segments[front_id]
    q = front_state.get("overtopping_lpsm")
    ot = _hazard_entry(front_state, "overtopping")
    wall = {"segment_id": front_id, "structure": front.structure, "crest_level_m": front.crest_level_m,
            "freeboard_m": front_state.get("freeboard_m"), "overtopping_lpsm": q,
            "overtopping_design_lpsm": front_state.get("overtopping_design_lpsm"),
            "overtopping_level": ot.get("level") if ot else None,
            "overtopping_class": overtopping_class(ot.get("level") if ot else None)}
    note = config.advice.zone[zone_id]  # type: ignore[index]
    zone = {"id": zone_id, "name": note.zh if lang == "zh" else note.en,
            "distance_to_wall_m": round(abs(located.distance_m), 1),
            "side": "seaward" if located.distance_m < 0 else "landward"}

    decided = parse_state_ts(front_state.get("decided_at")) or parse_state_ts(state.get("at"))
    inputs = [parse_state_ts(h.get("input_ts")) for h in front_state.get("hazards") or []]
    newest_input = max((t for t in inputs if t is not None), default=decided)
    return {
        "code": code.value, "level": code.value, "floor": status.floor.value, "label": status.label,
        "grade": code.official_grade, "floor_grade": status.floor.official_grade, "lang": lang,
        "zone": zone, "segments": segments, "reasons": reasons,
        "advice": _combined_advice(config, status, located.status, hc, zone_id, lang),
        "hazard_codes": {g: h.to_dict(lang) for g, h in hc.by_hazard.items()},
        "segment_level": located.segment_level.value, "segment_floor": located.segment_floor.value,
        "unknown_hazards": sorted({h for s in segments for h in s["unknown_hazards"]}),
        "official_only": bool(front_state.get("official_only")),
        "sensors_offline_since": front_state.get("sensors_offline_since"),
        "wall": wall, "time_to_threshold": front_state.get("time_to_threshold"),
        "shelters": _nearest_open_shelters(served, ops, here), "roads": _road_warnings(served, ops, here, front_state),
        "contact": _contact(served, village),
        "seq": state.get("seq", 0),
        "updated_at": decided.isoformat().replace("+00:00", "Z") if decided else None,
        "data_age_s": round((now - newest_input).total_seconds(), 1) if newest_input else None,
    }


def _nearest_open_shelters(served: ServedGeography, ops: OpsStatus, here: Any) -> list[dict[str, Any]]:
    items = [(float(d), s) for d, s in zip(served.shelter_distances(here), served.shelters.values(), strict=True)
             if ops.shelters_open.get(s.id, s.open)]
    items.sort(key=lambda t: t[0])
    return [{"id": s.id, "name": s.name, "name_en": s.name_en, "open": True, "capacity": s.capacity,
             "address": s.address, "lat": s.lat, "lon": s.lon, "distance_m": round(d, 1)}
            for d, s in items[:SHELTERS_SHOWN]]


def _road_warnings(served: ServedGeography, ops: OpsStatus, here: Any, front_state: dict[str, Any]) -> list[dict[str, Any]]:
    water = _still_water(front_state)
    freeboard = front_state.get("freeboard_m")
    q = front_state.get("overtopping_lpsm")
    sea_on_land = (isinstance(freeboard, (int, float)) and freeboard <= 0) or (isinstance(q, (int, float)) and q >= 1.0)
    out = []
    for d, r in zip(served.road_distances(here).tolist(), served.roads.values(), strict=True):
        if d > ROAD_RADIUS_M:
            continue
        closed = ops.roads_closed.get(r.id, r.closed)
        flooded = []
        if water is not None and sea_on_land:
            flooded = [{"lat": lp.lat, "lon": lp.lon, "ground_level_m": lp.ground_level_m, "water_level_m": water}
                       for lp in r.low_points if lp.ground_level_m < water]
        if closed or flooded:
            out.append({"id": r.id, "name": r.name, "name_en": r.name_en, "closed": closed,
                        "distance_m": round(d, 1), "flooded_low_points": flooded})
    out.sort(key=lambda x: x["distance_m"])
    return out


def _contact(served: ServedGeography, v: Village | None) -> dict[str, Any] | None:
    """The village contact of a point in village ``v`` (``served.village_at``)."""
    if v is None:
        return None
    town = served.towns.get(v.town_id)
    c = v.contact
    return {"village_id": v.id, "village": v.name, "village_en": v.name_en, "town_id": v.town_id,
            "town": town.name if town else None, "name": c.name if c else None, "phone": c.phone if c else None,
            "role": c.role if c else None, "sample": c.sample if c else False}


def risk_signature(r: dict[str, Any]) -> tuple[Any, ...]:
    """What must change for /ws/risk to push again."""
    ttt = r.get("time_to_threshold") or {}
    return (r["code"], r["level"], r.get("floor"), tuple(sorted((str(x.get("hazard")), str(x.get("level"))) for x in r["reasons"])),
            ttt.get("level") if isinstance(ttt, dict) else None)

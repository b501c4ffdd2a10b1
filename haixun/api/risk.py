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

from haixun.api.geo import ServedGeography
from haixun.api.reasons import reason_text
from haixun.riskcode import Level, RiskConfig, SeawallIndex, parse_level
from haixun.riskcode.levels import Status
from haixun.riskcode.geometry import code_for, exposure_from_row

ROAD_RADIUS_M = 2000.0
SHELTERS_SHOWN = 3

# EurOtop 2018 tolerable mean overtopping discharges (l/s per m), domain brief.
OVERTOPPING_CLASSES = ((50.0, "crest_damage"), (10.0, "vehicles_at_risk"), (1.0, "trained_staff_only"),
                       (0.1, "aware_pedestrians_only"), (0.03, "no_unaware_pedestrians"), (0.0, "tolerable"))


class OutsideServedArea(Exception):
    pass


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


def overtopping_class(q: float | None) -> str | None:
    if q is None:
        return None
    for bound, name in OVERTOPPING_CLASSES:
        if q >= bound:
            return name
    return "tolerable"


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
    row = seawall.signed_distances(lon, lat)[0]
    exposure = exposure_from_row(seawall, row)
    levels = {sid: status_of(seg_states.get(sid)) for sid in exposure.segment_ids}
    located = code_for(config, exposure, levels)
    code, zone_id, front_id = located.code, located.zone, exposure.nearest_segment_id
    status = located.status
    distance = {sid: abs(float(d)) for sid, d in zip(seawall.segment_ids, row)}
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
                            "text": reason_text(h, lang)})
    if located.segment_level == Level.UNKNOWN:
        reasons.append({"segment_id": front_id, "hazard": "stale_data", "level": "unknown", "value": None,
                        "unit": None, "threshold": None, "text": reason_text({"hazard": "stale_data"}, lang)})

    front = served.segments[front_id]
    q = front_state.get("overtopping_lpsm")
    wall = {"segment_id": front_id, "structure": front.structure, "crest_level_m": front.crest_level_m,
            "freeboard_m": front_state.get("freeboard_m"), "overtopping_lpsm": q,
            "overtopping_class": overtopping_class(q if isinstance(q, (int, float)) else None)}
    note = config.advice.zone[zone_id]  # type: ignore[index]
    zone = {"id": zone_id, "name": note.zh if lang == "zh" else note.en,
            "distance_to_wall_m": round(abs(located.distance_m), 1),
            "side": "seaward" if located.distance_m < 0 else "landward"}
    here = served.metric(lon, lat)

    decided = parse_state_ts(front_state.get("decided_at")) or parse_state_ts(state.get("at"))
    inputs = [parse_state_ts(h.get("input_ts")) for h in front_state.get("hazards") or []]
    newest_input = max((t for t in inputs if t is not None), default=decided)
    return {
        "code": code.value, "level": code.value, "floor": status.floor.value, "label": status.label,
        "grade": code.official_grade, "floor_grade": status.floor.official_grade, "lang": lang,
        "zone": zone, "segments": segments, "reasons": reasons, "advice": _advice(config, status, zone_id, lang),
        "segment_level": located.segment_level.value, "segment_floor": located.segment_floor.value,
        "unknown_hazards": sorted({h for s in segments for h in s["unknown_hazards"]}),
        "official_only": bool(front_state.get("official_only")),
        "sensors_offline_since": front_state.get("sensors_offline_since"),
        "wall": wall, "time_to_threshold": front_state.get("time_to_threshold"),
        "shelters": _nearest_open_shelters(served, ops, here), "roads": _road_warnings(served, ops, here, front_state),
        "contact": _contact(served, lon, lat),
        "seq": state.get("seq", 0),
        "updated_at": decided.isoformat().replace("+00:00", "Z") if decided else None,
        "data_age_s": round((now - newest_input).total_seconds(), 1) if newest_input else None,
    }


def _nearest_open_shelters(served: ServedGeography, ops: OpsStatus, here: Any) -> list[dict[str, Any]]:
    items = []
    for s in served.shelters.values():
        if not ops.shelters_open.get(s.id, s.open):
            continue
        items.append((served.shelter_xy[s.id].distance(here), s))
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
    for r in served.roads.values():
        d = float(served.road_xy[r.id].distance(here))
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


def _contact(served: ServedGeography, lon: float, lat: float) -> dict[str, Any] | None:
    v = served.village_at(lon, lat)
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

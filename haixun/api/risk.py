"""Location risk code for GET /api/v1/risk and /ws/risk.

``assess_location`` is the one place where a resident's point is turned into
a code. It uses the served geography and the live engine state; the
zones, the segment-level x zone matrix and the advice texts come from the
riskcode configuration (``RiskConfig``); when riskcode exposes a complete
location-code function, this is the one call to swap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from haixun.api.geo import GeoFeature, Geography
from haixun.riskcode.config import RiskConfig
from haixun.riskcode.levels import Level, parse_level, worst

ROAD_RADIUS_M = 2000.0
SHELTERS_SHOWN = 3

# EurOtop 2018 tolerable mean overtopping discharges (l/s per m), domain brief.
OVERTOPPING_CLASSES = ((50.0, "crest_damage"), (10.0, "vehicles_at_risk"), (1.0, "trained_staff_only"),
                       (0.1, "aware_pedestrians_only"), (0.03, "no_unaware_pedestrians"), (0.0, "tolerable"))


class OutsideServedArea(Exception):
    pass


@dataclass(frozen=True, slots=True)
class OpsStatus:
    shelters_open: dict[str, bool]
    roads_closed: dict[str, bool]


def level_of(entry: dict[str, Any] | None) -> Level:
    if not entry or "level" not in entry:
        return Level.UNKNOWN
    try:
        return parse_level(str(entry["level"]))
    except ValueError:
        return Level.UNKNOWN


def zone_of(config: RiskConfig, signed_distance_m: float) -> str:
    """riskcode exposure zone A-E from the signed distance to the crest line (seaward negative)."""
    z = config.zones
    d = signed_distance_m
    if d < 0:
        return "A"
    if d < z.b_max_m:
        return "B"
    if d < z.c_max_m:
        return "C"
    if d < z.d_max_m:
        return "D"
    return "E"


def _zone(config: RiskConfig, signed_distance_m: float, lang: str) -> dict[str, Any]:
    zid = zone_of(config, signed_distance_m)
    note = config.advice.zone[zid]  # type: ignore[index]
    return {"id": zid, "name": note.zh if lang == "zh" else note.en,
            "distance_to_wall_m": round(abs(signed_distance_m), 1),
            "side": "seaward" if signed_distance_m < 0 else "landward"}


_TITLES = {"zh": {"none": "无风险", "blue": "蓝色风险", "yellow": "黄色风险", "orange": "橙色风险", "red": "红色风险",
                  "unknown": "风险未知"},
           "en": {"none": "No risk", "blue": "Blue risk", "yellow": "Yellow risk", "orange": "Orange risk",
                  "red": "Red risk", "unknown": "Risk unknown"}}


def _advice(config: RiskConfig, level: Level, zone_id: str | None, lang: str) -> dict[str, Any]:
    base = config.advice.code[level]
    actions = [base.zh if lang == "zh" else base.en]
    if zone_id is not None:
        note = config.advice.zone[zone_id]  # type: ignore[index]
        actions.append(note.zh if lang == "zh" else note.en)
    return {"title": _TITLES[lang][level.value], "text": (" " if lang == "en" else "").join(actions), "actions": actions}


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


def _parse_ts(s: Any) -> datetime | None:
    if not isinstance(s, str):
        return None
    try:
        ts = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _reason_text(h: dict[str, Any], lang: str) -> str:
    names = {"storm_tide": ("风暴潮位", "storm tide"), "wave": ("波浪", "waves"), "wind": ("风", "wind"),
             "overtopping": ("越浪", "overtopping"), "official": ("官方预警", "official warning"),
             "red_tide": ("赤潮", "red tide"), "override": ("人工设定", "manual override"),
             "stale_data": ("数据过旧", "stale data")}
    zh, en = names.get(str(h.get("hazard")), (str(h.get("hazard")), str(h.get("hazard"))))
    value, unit, thr = h.get("value"), h.get("unit", ""), h.get("threshold")
    if isinstance(value, (int, float)) and isinstance(thr, (int, float)):
        return f"{zh} {value:g}{unit}（阈值 {thr:g}{unit}）" if lang == "zh" else f"{en} {value:g} {unit} (threshold {thr:g} {unit})"
    return zh if lang == "zh" else en


def assess_location(geo: Geography, config: RiskConfig, state: dict[str, Any], ops: OpsStatus, lat: float, lon: float, lang: str,
                    now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    p = geo.point(lon, lat)
    if not geo.in_served_area(p):
        raise OutsideServedArea()
    seg_states: dict[str, Any] = state.get("segments") or {}
    near = geo.nearest_segments(p, config.zones.neighbour_margin_m)
    front = near[0][0] if near else None
    segments = []
    levels: list[Level] = []
    for seg, d in near:
        lv = level_of(seg_states.get(seg.id))
        levels.append(lv)
        segments.append({"id": seg.id, "name": seg.name, "name_en": seg.name_en, "level": lv.value,
                         "distance_m": round(d, 1), "in_front": seg is front})
    segment_level = worst(levels) if levels else Level.UNKNOWN
    signed = geo.signed_distance_to_wall(front, p) if front else None
    zone_id = zone_of(config, signed) if signed is not None else None
    code = config.code(segment_level, zone_id) if zone_id else Level.UNKNOWN
    front_state: dict[str, Any] = seg_states.get(front.id, {}) if front else {}

    reasons = []
    for seg, _ in near:
        for h in (seg_states.get(seg.id) or {}).get("hazards") or []:
            if h.get("level") in (None, "none"):
                continue
            reasons.append({"segment_id": seg.id, "hazard": h.get("hazard"), "level": h.get("level"),
                            "value": h.get("value"), "unit": h.get("unit"), "threshold": h.get("threshold"),
                            "text": _reason_text(h, lang)})
    if segment_level == Level.UNKNOWN:
        reasons.append({"segment_id": front.id if front else None, "hazard": "stale_data", "level": "unknown",
                        "value": None, "unit": None, "threshold": None, "text": _reason_text({"hazard": "stale_data"}, lang)})

    wall = None
    if front is not None:
        q = front_state.get("overtopping_lpsm")
        wall = {"segment_id": front.id, "structure": front.props.get("structure"),
                "crest_level_m": front.props.get("crest_level_m"), "freeboard_m": front_state.get("freeboard_m"),
                "overtopping_lpsm": q, "overtopping_class": overtopping_class(q if isinstance(q, (int, float)) else None)}

    zone = _zone(config, signed, lang) if signed is not None else None
    shelters = _nearest_open_shelters(geo, ops, p, lang)
    roads = _road_warnings(geo, ops, p, front_state)
    contact = _contact(geo, p)

    decided = _parse_ts(front_state.get("decided_at")) or _parse_ts(state.get("at"))
    inputs = [_parse_ts(h.get("input_ts")) for h in front_state.get("hazards") or []]
    inputs = [t for t in inputs if t is not None]
    newest_input = max(inputs) if inputs else decided
    return {
        "code": code.value, "level": code.value, "grade": code.official_grade, "lang": lang,
        "zone": zone, "segments": segments, "reasons": reasons, "advice": _advice(config, code, zone_id, lang), "segment_level": segment_level.value,
        "wall": wall, "time_to_threshold": front_state.get("time_to_threshold"),
        "shelters": shelters, "roads": roads, "contact": contact,
        "seq": state.get("seq", 0),
        "updated_at": decided.isoformat().replace("+00:00", "Z") if decided else None,
        "data_age_s": round((now - newest_input).total_seconds(), 1) if newest_input else None,
    }


def _nearest_open_shelters(geo: Geography, ops: OpsStatus, p: Any, lang: str) -> list[dict[str, Any]]:
    items = []
    for s in geo.shelters.values():
        is_open = ops.shelters_open.get(s.id, bool(s.props.get("open", True)))
        if not is_open:
            continue
        lon, lat = s.geometry["coordinates"][:2]
        items.append((geo.distance_m(s, p), s, lon, lat))
    items.sort(key=lambda t: t[0])
    return [{"id": s.id, "name": s.name, "name_en": s.name_en, "open": True, "capacity": s.props.get("capacity"),
             "address": s.props.get("address"), "lat": lat, "lon": lon, "distance_m": round(d, 1)}
            for d, s, lon, lat in items[:SHELTERS_SHOWN]]


def _road_warnings(geo: Geography, ops: OpsStatus, p: Any, front_state: dict[str, Any]) -> list[dict[str, Any]]:
    water = _still_water(front_state)
    freeboard = front_state.get("freeboard_m")
    q = front_state.get("overtopping_lpsm")
    sea_on_land = (isinstance(freeboard, (int, float)) and freeboard <= 0) or (isinstance(q, (int, float)) and q >= 1.0)
    out = []
    for r in geo.roads.values():
        d = geo.distance_m(r, p)
        if d > ROAD_RADIUS_M:
            continue
        closed = ops.roads_closed.get(r.id, bool(r.props.get("closed", False)))
        flooded = []
        if water is not None and sea_on_land:
            for lp in r.props.get("low_points") or []:
                g = lp.get("ground_level_m")
                if isinstance(g, (int, float)) and g < water:
                    flooded.append({"lat": lp.get("lat"), "lon": lp.get("lon"), "ground_level_m": g,
                                    "water_level_m": water})
        if closed or flooded:
            out.append({"id": r.id, "name": r.name, "name_en": r.name_en, "closed": closed,
                        "distance_m": round(d, 1), "flooded_low_points": flooded})
    out.sort(key=lambda x: x["distance_m"])
    return out


def _contact(geo: Geography, p: Any) -> dict[str, Any] | None:
    v: GeoFeature | None = geo.village_at(p)
    if v is None:
        return None
    town = geo.towns.get(str(v.props.get("town_id")))
    c = v.props.get("contact") or {}
    return {"village_id": v.id, "village": v.name, "village_en": v.name_en,
            "town_id": town.id if town else v.props.get("town_id"), "town": town.name if town else None,
            "name": c.get("name"), "phone": c.get("phone"), "role": c.get("role"), "sample": bool(c.get("sample", False))}


def risk_signature(r: dict[str, Any]) -> tuple[Any, ...]:
    """What must change for /ws/risk to push again."""
    ttt = r.get("time_to_threshold") or {}
    return (r["code"], r["level"], tuple(sorted((str(x.get("hazard")), str(x.get("level"))) for x in r["reasons"])),
            ttt.get("level") if isinstance(ttt, dict) else None)

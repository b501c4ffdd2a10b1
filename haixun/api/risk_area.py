"""The code for a point of the city outside the shoreline service area.

The seawall rules (``assess_location``) cover the served area (the coastal
towns and the foreshore, ``land_boundary``). A point elsewhere in a town of
the geography (e.g. inland 当湖街道) still gets a code: its town's rolled-up
level (docs/riskcode.md roll-ups), said plainly (``coverage``), with the
nearest open shelters and the community contact. A point in no town is
outside the city: ``OutsideServedArea``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.geometry import Point

from haixun.api.geo import ServedGeography
from haixun.api.risk import OpsStatus, OutsideServedArea, _contact, _nearest_open_shelters, level_of, parse_state_ts
from haixun.riskcode import Level, RiskConfig

_TITLES = {"zh": {"none": "无风险", "blue": "蓝色风险", "yellow": "黄色风险", "orange": "橙色风险", "red": "红色风险",
                  "unknown": "风险未知"},
           "en": {"none": "No risk", "blue": "Blue risk", "yellow": "Yellow risk", "orange": "Orange risk",
                  "red": "Red risk", "unknown": "Risk unknown"}}
_NOTE = {"zh": "此处不在沿海精确评估范围内，显示所在{town}的预警等级。",
         "en": "This place is outside the shoreline assessment area: the code is the level of {town}."}
_REASON = {"zh": "{town}整体预警等级", "en": "Level of {town} as a whole"}


def assess_town(served: ServedGeography, config: RiskConfig, state: dict[str, Any], ops: OpsStatus,
                lat: float, lon: float, lang: str, now: datetime) -> dict[str, Any]:
    p = Point(lon, lat)
    town = next((t for t in served.towns.values() if t.geometry.covers(p)), None)
    if town is None:
        raise OutsideServedArea()
    areas = state.get("areas") or {}
    entry = (areas.get("towns") or {}).get(town.id) or areas.get("city")
    level = level_of(entry)
    name = town.name if lang == "zh" else town.name_en
    base = config.advice.code[level]
    note = _NOTE[lang].format(town=name)
    actions = [base.zh if lang == "zh" else base.en, note]
    decided = parse_state_ts(state.get("at"))
    here = served.metric(lon, lat)
    return {
        "code": level.value, "level": level.value, "grade": level.official_grade, "lang": lang,
        "coverage": {"kind": "town", "id": town.id, "name": name, "note": note},
        "zone": None, "segments": [],
        "reasons": [] if level == Level.NONE else [
            {"segment_id": None, "hazard": "area_level", "level": level.value, "value": None, "unit": None,
             "threshold": None, "text": _REASON[lang].format(town=name)}],
        "advice": {"title": _TITLES[lang][level.value], "text": (" " if lang == "en" else "").join(actions),
                   "actions": actions},
        "segment_level": None, "wall": None, "time_to_threshold": None,
        "shelters": _nearest_open_shelters(served, ops, here), "roads": [],
        "contact": _contact(served, served.village_at(lon, lat)), "seq": state.get("seq", 0),
        "updated_at": decided.isoformat().replace("+00:00", "Z") if decided else None,
        "data_age_s": None,
    }

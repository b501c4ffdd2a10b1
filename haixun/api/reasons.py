"""Plain-language names of riskcode's hazard reasons for residents (zh, en).

riskcode names its reasons (``HazardReason.hazard``): the segment hazards
(``config.HazardName``), ``official:<feed kind>`` (``FEED_KINDS``),
``camera:<event type>`` (the ``[camera.types]`` of the active configuration,
drawn from the contract's camera event types) and ``override``; the API adds
``stale_data``. Every one of them has a text here
(tests/test_api_reasons.py walks riskcode's vocabularies); an unexpected name
still gets a readable generic text, never the raw identifier.
"""

from __future__ import annotations

from typing import Any

HAZARD_NAMES: dict[str, tuple[str, str]] = {
    "storm_tide": ("风暴潮水位", "Storm tide (sea level now)"),
    "storm_tide_forecast": ("未来12小时最高潮位预报", "Forecast high water (next 12 hours)"),
    "wave": ("海浪", "Waves"),
    "wind": ("大风", "Strong wind"),
    "overtopping": ("海浪越过海塘", "Waves over the seawall"),
    "override": ("值班人员人工设定", "Set by the duty officer"),
    "stale_data": ("监测数据缺失或过旧", "Monitoring data missing or too old"),
}
# A storm_tide reason whose value is the surge (blue by surge, no warning tide level reached;
# its detail starts with "surge") is named as the surge, not as the sea level.
SURGE_NAME = ("风暴增水（高于正常潮位）", "Storm surge (above the normal tide)")

OFFICIAL_NAMES: dict[str, tuple[str, str]] = {
    "surge_forecast": ("官方风暴潮预警", "Official storm surge warning"),
    "wave_forecast": ("官方海浪预警", "Official wave warning"),
    "typhoon_warning": ("官方台风预警", "Official typhoon warning"),
    "gale_warning": ("官方大风预警", "Official gale warning"),
    "red_tide": ("官方赤潮预警", "Official red tide warning"),
}

CAMERA_NAMES: dict[str, tuple[str, str]] = {
    "overtopping": ("监控摄像头看到海浪越过海塘", "Camera saw waves coming over the seawall"),
    "water_on_road": ("监控摄像头看到道路积水", "Camera saw water on the road"),
    "person_on_seawall": ("监控摄像头看到有人在海塘上", "Camera saw people on the seawall"),
    "vessel_adrift": ("监控摄像头看到船只漂流", "Camera saw a vessel adrift"),
    "wall_damage": ("监控摄像头看到海塘损坏", "Camera saw damage to the seawall"),
    "red_tide": ("监控摄像头看到赤潮", "Camera saw a red tide"),
}


def hazard_name(hazard: str, lang: str) -> str:
    """The plain-language name of a reason; a generic wording for names not listed."""
    i = 0 if lang == "zh" else 1
    kind, _, sub = hazard.partition(":")
    if kind == "official" and sub:
        known = OFFICIAL_NAMES.get(sub)
        return known[i] if known else ("官方预警" if lang == "zh" else "Official warning")
    if kind == "camera" and sub:
        known = CAMERA_NAMES.get(sub)
        return known[i] if known else ("监控摄像头发现异常" if lang == "zh" else "Camera saw a hazard")
    known = HAZARD_NAMES.get(hazard)
    if known:
        return known[i]
    return "其他风险因素" if lang == "zh" else "Other risk factor"


def is_named(hazard: str) -> bool:
    """True when ``hazard`` has its own text (not the generic fallback)."""
    kind, _, sub = hazard.partition(":")
    if kind == "official" and sub:
        return sub in OFFICIAL_NAMES
    if kind == "camera" and sub:
        return sub in CAMERA_NAMES
    return hazard in HAZARD_NAMES


def reason_text(h: dict[str, Any], lang: str) -> str:
    """One line for a reason: name, value and threshold when both are numbers; unavailable when unknown."""
    name = hazard_name(str(h.get("hazard")), lang)
    if h.get("hazard") == "storm_tide" and str(h.get("detail") or "").startswith("surge"):
        name = SURGE_NAME[0 if lang == "zh" else 1]
    if h.get("level") == "unknown" and h.get("hazard") != "stale_data":
        return f"{name}：暂无数据" if lang == "zh" else f"{name}: not available"
    value, unit, thr = h.get("value"), h.get("unit") or "", h.get("threshold")
    if unit == "confidence":  # camera events: the confidence is not for residents
        return name
    if isinstance(value, (int, float)) and isinstance(thr, (int, float)):
        return (f"{name} {value:g}{unit}（阈值 {thr:g}{unit}）" if lang == "zh"
                else f"{name} {value:g} {unit} (threshold {thr:g} {unit})")
    return name

"""Plain-language names of riskcode's hazard reasons for residents (zh, en).

riskcode names its reasons (``HazardReason.hazard``): the segment hazards
(``config.HazardName``), ``official:<feed kind>`` (``FEED_KINDS``),
``camera:<event type>`` (the ``[camera.types]`` of the active configuration,
drawn from the contract's camera event types) and ``override``; the API adds
``stale_data``. Every one of them has a text here
(tests/test_api_reasons.py walks riskcode's vocabularies); an unexpected name
still gets a readable generic text, never the raw identifier. The words
themselves live in haixun/web/vocabulary.py, which the pages read too.
"""

from __future__ import annotations

from typing import Any

from haixun.web.vocabulary import CAMERA_NAMES, GENERIC_NAMES, HAZARD_NAMES, OFFICIAL_NAMES, SURGE_NAME

__all__ = ["CAMERA_NAMES", "HAZARD_NAMES", "OFFICIAL_NAMES", "SURGE_NAME", "hazard_name", "is_named", "reason_text"]


def hazard_name(hazard: str, lang: str) -> str:
    """The plain-language name of a reason; a generic wording for names not listed."""
    i = 0 if lang == "zh" else 1
    kind, _, sub = hazard.partition(":")
    if kind == "official" and sub:
        known = OFFICIAL_NAMES.get(sub)
        return (known or GENERIC_NAMES["official"])[i]
    if kind == "camera" and sub:
        known = CAMERA_NAMES.get(sub)
        return (known or GENERIC_NAMES["camera"])[i]
    return HAZARD_NAMES.get(hazard, GENERIC_NAMES["other"])[i]


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

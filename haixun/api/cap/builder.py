"""Build CAP 1.2 alerts from the current warning situation and keep the
Alert -> Update -> Cancel chain in table ``cap_alerts``."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from haixun.api.cap import CAP_NS
from haixun.api.geo import ServedGeography, polygon_rings_latlon
from haixun.api.risk import status_of
from haixun.riskcode.levels import Level, Status, parse_level, worst
from haixun.store import cap_alerts
from haixun.store.cap_alerts import StoredAlert

SENDER = "haixun@pinghu.jiaxing.zj.cn"

# level -> (severity, urgency, responseType); docs/api.md
LEVEL_MAP: dict[Level, tuple[str, str, str]] = {
    Level.RED: ("Extreme", "Immediate", "Evacuate"),
    Level.ORANGE: ("Severe", "Expected", "Prepare"),
    Level.YELLOW: ("Moderate", "Expected", "Monitor"),
    Level.BLUE: ("Minor", "Future", "Monitor"),
}
_LEVEL_NAMES = {Level.RED: ("红色（I级）", "Red (I)"), Level.ORANGE: ("橙色（II级）", "Orange (II)"),
                Level.YELLOW: ("黄色（III级）", "Yellow (III)"), Level.BLUE: ("蓝色（IV级）", "Blue (IV)")}


@dataclass(frozen=True, slots=True)
class WarnedArea:
    kind: str            # village | town
    id: str
    level: Level
    observed: bool       # the hazards themselves reach the level now (raw_level)


def cap_time(ts: datetime) -> str:
    return ts.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def warned_areas(geo: ServedGeography, state: dict[str, Any]) -> list[WarnedArea]:
    """Villages at a warning level; towns when no village entry exists (towns
    from their segments when the engine publishes no area entries).

    An area that is "unknown, at least <floor>" is warned at its floor (the
    floor is known for certain): a red bulletin with offline sensors still
    gives a CAP red, never nothing (docs/riskcode.md "Unknown and its floor")."""
    areas = state.get("areas") or {}
    for kind, entries, known in (("village", areas.get("villages") or {}, geo.villages),
                                 ("town", areas.get("towns") or {}, geo.towns)):
        if not entries:
            continue
        out = []
        for aid, e in sorted(entries.items()):
            lv = status_of(e).floor
            if aid in known and lv.is_warning:
                out.append(WarnedArea(kind, aid, lv, _observed(e, lv)))
        return out
    segs = state.get("segments") or {}
    by_town: dict[str, list[tuple[Level, bool]]] = {}
    for sid, seg in geo.segments.items():
        lv = status_of(segs.get(sid)).floor
        if lv.is_warning:
            by_town.setdefault(seg.town_id, []).append((lv, _observed(segs[sid], lv)))
    out = []
    for tid, items in sorted(by_town.items()):
        if tid not in geo.towns:
            continue
        lv = worst(lv for lv, _ in items)
        out.append(WarnedArea("town", tid, lv, any(obs for l2, obs in items if l2 == lv)))
    return out


def _observed(entry: dict[str, Any], level: Level) -> bool:
    try:
        raw = parse_level(str(entry.get("raw_level", "none")))
        floor = parse_level(str(entry.get("raw_floor") or entry.get("floor") or "none")) if raw is Level.UNKNOWN else raw
        return floor is not Level.UNKNOWN and Status(floor).at_least(level)
    except ValueError:
        return False


def fingerprint(areas: list[WarnedArea]) -> str:
    return ";".join(f"{a.kind}:{a.id}={a.level.value}" for a in sorted(areas, key=lambda a: (a.kind, a.id)))


def build_alert_xml(geo: ServedGeography, *, identifier: str, sent: datetime, msg_type: str, references: str | None,
                    areas: list[WarnedArea]) -> str:
    ET.register_namespace("", CAP_NS)
    q = lambda tag: f"{{{CAP_NS}}}{tag}"  # noqa: E731
    alert = ET.Element(q("alert"))

    def sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
        el = ET.SubElement(parent, q(tag))
        el.text = text
        return el

    sub(alert, "identifier", identifier)
    sub(alert, "sender", SENDER)
    sub(alert, "sent", cap_time(sent))
    sub(alert, "status", "Actual")
    sub(alert, "msgType", msg_type)
    sub(alert, "source", "haixun Pinghu marine-hazard risk engine")
    sub(alert, "scope", "Public")
    if references:
        sub(alert, "references", references)
    by_level: dict[Level, list[WarnedArea]] = {}
    for a in areas:
        by_level.setdefault(a.level, []).append(a)
    for level in sorted(by_level, key=lambda lv: -lv.rank):
        group = by_level[level]
        severity, urgency, response = LEVEL_MAP[level]
        certainty = "Observed" if any(a.observed for a in group) else "Likely"
        for lang in ("zh-CN", "en-US"):
            zh = lang == "zh-CN"
            info = ET.SubElement(alert, q("info"))
            sub(info, "language", lang)
            sub(info, "category", "Met")
            sub(info, "event", "海洋灾害预警" if zh else "Marine hazard warning")
            sub(info, "responseType", response)
            sub(info, "urgency", urgency)
            sub(info, "severity", severity)
            sub(info, "certainty", certainty)
            code = ET.SubElement(info, q("eventCode"))
            sub(code, "valueName", "haixun:level")
            sub(code, "value", level.value)
            sub(info, "effective", cap_time(sent))
            sub(info, "senderName", "平湖市海洋灾害监测预警平台" if zh else "Pinghu marine hazard monitoring platform")
            names = [_area_name(geo, a, zh) for a in group]
            lname = _LEVEL_NAMES[level][0 if zh else 1]
            sub(info, "headline", f"平湖沿海{lname}海洋灾害预警" if zh else f"Pinghu coast: {lname} marine hazard warning")
            sub(info, "description", ("预警区域：" + "、".join(names)) if zh else ("Areas: " + ", ".join(names)))
            sub(info, "instruction", _instruction(level, zh))
            for a in group:
                area = ET.SubElement(info, q("area"))
                sub(area, "areaDesc", _area_name(geo, a, zh))
                feat = (geo.villages if a.kind == "village" else geo.towns)[a.id]
                for ring in polygon_rings_latlon(feat.geometry):
                    sub(area, "polygon", " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in ring))
                gc = ET.SubElement(area, q("geocode"))
                sub(gc, "valueName", f"haixun:{a.kind}")
                sub(gc, "value", a.id)
    return ET.tostring(alert, encoding="unicode", xml_declaration=False)


def _area_name(geo: ServedGeography, a: WarnedArea, zh: bool) -> str:
    f = (geo.villages if a.kind == "village" else geo.towns)[a.id]
    return f.name if zh else f.name_en


def _instruction(level: Level, zh: bool) -> str:
    texts = {
        Level.RED: ("立即撤离海堤附近区域，前往最近的避灾安置点。", "Evacuate the seawall area now and go to the nearest shelter."),
        Level.ORANGE: ("远离海堤，低洼地带人员做好转移准备。", "Keep away from the seawall; people in low areas prepare to evacuate."),
        Level.YELLOW: ("远离海堤和海滩，暂停涉海活动。", "Keep away from the seawall and beach; stop sea activities."),
        Level.BLUE: ("关注潮位和风浪变化。", "Watch tide and wave conditions."),
    }
    return texts[level][0 if zh else 1]


async def current_alert(conn: psycopg.AsyncConnection[Any], geo: ServedGeography, state: dict[str, Any],
                        now: datetime | None = None) -> StoredAlert | None:
    """The alert describing the current situation, issuing a new one (Alert,
    Update or Cancel) when the situation changed. None: nothing to say."""
    areas = warned_areas(geo, state)
    fp = fingerprint(areas)
    async with conn.transaction():
        await cap_alerts.lock_issuing(conn)
        last = await cap_alerts.last_alert(conn)
        if last is not None and last.fingerprint == fp:
            return last
        if not fp and (last is None or last.msg_type == "Cancel"):
            return None
        if last is None or last.msg_type == "Cancel":
            msg_type, refs = "Alert", None
        else:
            msg_type = "Cancel" if not fp else "Update"
            refs = f"{last.sender},{last.identifier},{cap_time(last.sent)}"
        sent = (now or datetime.now(UTC)).replace(microsecond=0)
        identifier = f"haixun-pinghu-{sent.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"
        xml = build_alert_xml(geo, identifier=identifier, sent=sent, msg_type=msg_type, references=refs,
                              areas=areas if msg_type != "Cancel" else [])
        return await cap_alerts.insert_alert(conn, StoredAlert(identifier=identifier, sender=SENDER, sent=sent,
                                                               msg_type=msg_type, refs=refs, fingerprint=fp, xml=xml))

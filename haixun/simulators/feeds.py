"""Official feed simulator: provincial storm-surge and typhoon warning bulletins.

``bulletins`` is a pure function of the model (the scenario seen ``horizon``
ahead, i.e. a perfect forecast) and the issue time; ``post_bulletin`` POSTs
one JSON document to the feed endpoint and never raises on network errors.
JSON form: docs/simulators.md ("Official feeds"); the body of POST
/api/v1/feeds/{source} (docs/api.md) with riskcode's feed kinds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from haixun.contract import format_ts
from haixun.simulators.geo import SimGeography
from haixun.simulators.source import ModelSource

log = logging.getLogger(__name__)

LEVELS = ("none", "blue", "yellow", "orange", "red")
LEVEL_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
# CMA typhoon signals (mean, gust) lower bounds in m/s: Beaufort 6/8, 8/10, 10/12, 12/14.
TYPHOON_SIGNALS = (("red", 32.7, 41.5), ("orange", 24.5, 32.7), ("yellow", 17.2, 24.5), ("blue", 10.8, 17.2))
SURGE_ISSUER = "浙江省海洋监测预报中心 (Zhejiang Marine Monitoring and Forecasting Center, simulated)"
TYPHOON_ISSUER = "浙江省气象台 (Zhejiang Meteorological Observatory, simulated)"
SURGE_SOURCE = "zj_marine"  # API source names: [a-z0-9_]{1,40}
TYPHOON_SOURCE = "zj_meteo"
_CST = timezone(timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class Bulletin:
    source: str  # path segment of the feed endpoint
    document: dict


def _rank(level: str) -> int:
    return LEVELS.index(level)


def _surge_level(peak_level: float, peak_surge: float, warning_levels: dict[str, float]) -> str:
    level = "none"
    for name in ("blue", "yellow", "orange", "red"):
        if name in warning_levels and peak_level >= warning_levels[name]:
            level = name
    if level == "none" and 0.3 <= peak_surge:
        level = "blue"  # forecast surge of 30-90 cm is a blue warning even below the warning tide levels
    return level


def _typhoon_level(mean: float, gust: float) -> str:
    for name, m, g in TYPHOON_SIGNALS:
        if mean >= m or gust >= g:
            return name
    return "none"


def bulletins(geo: SimGeography, source: ModelSource, issued_at: datetime, horizon: timedelta = timedelta(hours=24),
              step: timedelta = timedelta(minutes=30)) -> list[Bulletin]:
    """The bulletins the provincial services would issue at ``issued_at`` (sim time)."""
    times = [issued_at + step * i for i in range(int(horizon / step) + 1)]
    out: list[Bulletin] = []
    # Storm surge: per segment, forecast highest water and surge over the horizon.
    seg_levels: dict[str, str] = {}
    worst_peak = (-99.0, None, 0.0)
    for seg in geo.segments:
        states = [source.segment_state(seg.id, t) for t in times]
        levels = np.array([s.level for s in states])
        surges = np.array([s.surge for s in states])
        i = int(np.argmax(levels))
        lv = _surge_level(float(levels[i]), float(surges.max()), seg.warning_levels_m)
        seg_levels[seg.id] = lv
        if levels[i] > worst_peak[0]:
            worst_peak = (float(levels[i]), times[i], float(surges.max()))
    surge_level = max(seg_levels.values(), key=_rank, default="none")
    if surge_level != "none":
        area = sorted(s for s, lv in seg_levels.items() if _rank(lv) >= _rank("blue"))
        peak, peak_at, peak_surge = worst_peak
        at_local = peak_at.astimezone(_CST).strftime("%d日%H:%M") if peak_at else ""
        out.append(Bulletin(SURGE_SOURCE, {
            "issuer": SURGE_ISSUER, "kind": "surge_forecast", "level": surge_level,
            "area": {"segments": area}, "valid_from": format_ts(issued_at), "valid_to": format_ts(issued_at + horizon),
            "issued_at": format_ts(issued_at),
            "text_zh": f"风暴潮{LEVEL_ZH[surge_level]}警报：预计平湖沿岸最高潮位{peak:.2f}米（{at_local}前后），最大增水{peak_surge * 100:.0f}厘米。",
            "text_en": f"Storm surge {surge_level} warning: highest water {peak:.2f} m CN1985 on the Pinghu coast "
                       f"around {at_local.replace('日', ' ')} local, surge up to {peak_surge * 100:.0f} cm.",
            "forecast": {"peak_level_m": round(peak, 2), "peak_at": format_ts(peak_at) if peak_at else None,
                         "peak_surge_m": round(peak_surge, 2)},
        }))
    # Typhoon warning from the coastal weather stations.
    winds = [s for s in geo.stations if "wind_speed" in s.quantities]
    mean = gust = 0.0
    for st in winds:
        for t in times:
            ps = source.station_state(st.id, t)
            mean, gust = max(mean, ps.wind_speed), max(gust, ps.wind_gust)
    ty_level = _typhoon_level(mean, gust)
    if ty_level != "none" and source.track is not None:
        out.append(Bulletin(TYPHOON_SOURCE, {
            "issuer": TYPHOON_ISSUER, "kind": "typhoon_warning", "level": ty_level,
            "area": {"segments": sorted(s.id for s in geo.segments)}, "valid_from": format_ts(issued_at),
            "valid_to": format_ts(issued_at + horizon), "issued_at": format_ts(issued_at),
            "text_zh": f"台风{LEVEL_ZH[ty_level]}预警：台风“烟花”影响平湖，预计平均风力最大{mean:.0f}米/秒，阵风{gust:.0f}米/秒。",
            "text_en": f"Typhoon {ty_level} warning: Typhoon In-fa affects Pinghu; mean wind up to {mean:.0f} m/s, "
                       f"gusts {gust:.0f} m/s.",
            "forecast": {"max_wind_ms": round(mean, 1), "max_gust_ms": round(gust, 1)},
        }))
    return out


def _post(url: str, body: bytes, api_key: str | None, timeout: float) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    if api_key:
        req.add_header("X-API-Key", api_key)
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URL given by the operator
        return int(resp.status)


async def post_bulletin(api_url: str, bulletin: Bulletin, api_key: str | None = None, timeout: float = 5.0) -> int | None:
    """POST to ``api_url`` (``{source}`` replaced); returns the HTTP status or None if unreachable (logged)."""
    url = api_url.replace("{source}", bulletin.source)
    body = json.dumps(bulletin.document, ensure_ascii=False).encode()
    try:
        return await asyncio.to_thread(_post, url, body, api_key, timeout)
    except urllib.error.HTTPError as exc:
        log.warning("feed %s -> %s: HTTP %s", bulletin.source, url, exc.code)
        return exc.code
    except (urllib.error.URLError, OSError) as exc:
        log.warning("feed endpoint %s not reachable (%s); continuing", url, exc)
        return None

"""Official feed simulator: provincial storm-surge and typhoon warning bulletins, as series.

The provincial services issue warnings the CAP way: a first ``Alert``, then an
``Update`` that references the bulletin it replaces each time the forecast
level changes (or ``reissue`` has passed), and a ``Cancel`` (the all-clear)
when the hazard is over. ``FeedIssuer.step`` is that service: pure given the
model (the scenario seen ahead, i.e. a perfect forecast) and the issue time.

* Storm surge: one series per area = the segments that share a tide station
  and warning tide levels; the level is the highest of those warning levels
  that the modeled water at that tide station reaches within ``SURGE_HORIZON``
  (blue also for a forecast surge of 30 cm or more). So no red where the
  modeled water stays under the red level.
* Typhoon: one series for the whole coast, the CMA signal the typhoon's own
  modeled winds (Holland profile, no calm background) at the coastal wind
  stations reach within the signal's horizon (red 6 h, orange 12 h, yellow and
  blue 24 h, as the CMA signal definitions).

``post_bulletin`` POSTs one JSON document to the feed endpoint and never
raises on network errors. JSON form: docs/simulators.md ("Official feeds");
the body of POST /api/v1/feeds/{source} (docs/api.md) with riskcode's feed
kinds and the CAP-style fields ``identifier``, ``references``, ``msgType``,
``sent``.
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
from haixun.simulators import typhoon as ty
from haixun.simulators.geo import SimGeography
from haixun.simulators.source import ModelSource

log = logging.getLogger(__name__)

LEVELS = ("none", "blue", "yellow", "orange", "red")
LEVEL_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
# CMA typhoon signals: (level, mean, gust lower bounds in m/s: Beaufort 12/14, 10/12, 8/10, 6/8; horizon).
# Horizons: the CMA definitions (red 6 h, orange 12 h, blue 24 h); yellow 12 h instead of 24 h
# (ASSUMPTION: the observatory upgrades blue to yellow half a day ahead), so the replay's calm
# morning of 24 July is not held yellow by a signal for a wind that comes a day later.
TYPHOON_SIGNALS = (("red", 32.7, 41.5, timedelta(hours=6)), ("orange", 24.5, 32.7, timedelta(hours=12)),
                   ("yellow", 17.2, 24.5, timedelta(hours=12)), ("blue", 10.8, 17.2, timedelta(hours=24)))
# Storm-surge warnings: the forecast window they cover (ASSUMPTION: the provincial centre's
# 6-hourly storm-surge forecasts name the next high water(s)).
SURGE_HORIZON = timedelta(hours=13)  # the next two semidiurnal high waters (a 6 h horizon saw a passing HW only)
SURGE_BLUE_SURGE_M = 0.3  # forecast surge 30-90 cm: blue even below the warning tide levels (SOA rules)
# each bulletin's valid_to, at least the surge horizon: the forecast high water must lie inside it, or
# riskcode falls back to the local projection for it; the series is updated well before
VALIDITY = timedelta(hours=14)
REISSUE = timedelta(hours=6)  # an unchanged level is re-issued (Update) this often
SURGE_ISSUER = "浙江省海洋监测预报中心 (Zhejiang Marine Monitoring and Forecasting Center, simulated)"
TYPHOON_ISSUER = "浙江省气象台 (Zhejiang Meteorological Observatory, simulated)"
SURGE_SOURCE = "zj_marine"  # API source names: [a-z0-9_]{1,40}
TYPHOON_SOURCE = "zj_meteo"
_CST = timezone(timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class Bulletin:
    source: str  # path segment of the feed endpoint
    document: dict

    @property
    def identifier(self) -> str:
        return self.document["identifier"]

    @property
    def msg_type(self) -> str:
        return self.document["msgType"]


@dataclass(frozen=True, slots=True)
class Forecast:
    """What one series would say at an issue time."""

    source: str
    kind: str
    area_key: str
    segments: tuple[str, ...]
    level: str
    detail: dict


def _rank(level: str) -> int:
    return LEVELS.index(level)


def surge_level(peak_level: float, peak_surge: float, warning_levels: dict[str, float]) -> str:
    level = "none"
    for name in ("blue", "yellow", "orange", "red"):
        if name in warning_levels and peak_level >= warning_levels[name]:
            level = name
    if level == "none" and SURGE_BLUE_SURGE_M <= peak_surge:
        level = "blue"  # forecast surge of 30-90 cm is a blue warning even below the warning tide levels
    return level


def typhoon_level(mean_by_horizon: dict[timedelta, tuple[float, float]]) -> str:
    """The highest CMA signal whose (mean, gust) is reached within its horizon."""
    for name, m, g, horizon in TYPHOON_SIGNALS:
        mean, gust = mean_by_horizon[horizon]
        if mean >= m or gust >= g:
            return name
    return "none"


def surge_areas(geo: SimGeography) -> dict[str, tuple[str | None, tuple[str, ...], dict[str, float]]]:
    """area key -> (tide station, segments, warning levels): segments sharing a gauge and levels."""
    groups: dict[tuple, list[str]] = {}
    levels: dict[tuple, dict[str, float]] = {}
    for seg in geo.segments:
        key = (seg.tide_station, tuple(sorted(seg.warning_levels_m.items())))
        groups.setdefault(key, []).append(seg.id)
        levels[key] = dict(seg.warning_levels_m)
    out = {}
    for key, segs in groups.items():
        segs = sorted(segs)
        out[f"{key[0] or 'model'}-{segs[0]}"] = (key[0], tuple(segs), levels[key])
    return out


def forecasts(geo: SimGeography, source: ModelSource, issued_at: datetime,
              step: timedelta = timedelta(minutes=10)) -> list[Forecast]:
    """Every series' forecast level at ``issued_at`` (sim time); pure."""
    out: list[Forecast] = []
    n = int(SURGE_HORIZON / step)
    times = [issued_at + step * i for i in range(n + 1)]
    for area_key, (station, segs, warning) in surge_areas(geo).items():
        states = [source.station_state(station, t) if station else source.segment_state(segs[0], t) for t in times]
        water = np.array([s.level for s in states])
        surge = np.array([s.surge for s in states])
        i = int(np.argmax(water))
        level = surge_level(float(water[i]), float(surge.max()), warning)
        out.append(Forecast(SURGE_SOURCE, "surge_forecast", area_key, segs, level, {
            "station": station, "peak_level_m": round(float(water[i]), 2), "peak_at": times[i],
            "peak_surge_m": round(float(surge.max()), 2)}))
    winds = [s for s in geo.stations if "wind_speed" in s.quantities]
    longest = max(h for *_, h in TYPHOON_SIGNALS)
    wtimes = [issued_at + timedelta(minutes=30) * i for i in range(int(longest / timedelta(minutes=30)) + 1)]
    per_time = []
    holland = ty.HollandParams()
    for t in wtimes:
        # the tropical cyclone's own wind (the signal is for its influence, not a sea breeze)
        state = ty.storm_state(source.model_time(t), source.track) if source.track is not None else None
        speeds = [ty.storm_wind(state, st.lat, st.lon, holland).speed_ms for st in winds] if state else []
        mean = max(speeds, default=0.0)
        per_time.append((t, mean, mean * holland.gust_factor))
    by_horizon = {}
    for *_, horizon in TYPHOON_SIGNALS:
        inside = [(m, g) for t, m, g in per_time if t - issued_at <= horizon]
        by_horizon[horizon] = (max(m for m, _ in inside), max(g for _, g in inside))
    level = typhoon_level(by_horizon) if source.track is not None else "none"
    mean, gust = by_horizon[longest]
    out.append(Forecast(TYPHOON_SOURCE, "typhoon_warning", "coast", tuple(sorted(s.id for s in geo.segments)), level,
                        {"max_wind_ms": round(mean, 1), "max_gust_ms": round(gust, 1)}))
    return out


@dataclass
class _Series:
    identifier: str
    level: str
    sent: datetime
    count: int


class FeedIssuer:
    """The provincial services' bulletin series over one run (state: the newest bulletin per series)."""

    def __init__(self, run_id: str, reissue: timedelta = REISSUE, validity: timedelta = VALIDITY) -> None:
        self.run_id = "".join(c if c.isalnum() else "-" for c in run_id)
        self.reissue = reissue
        self.validity = validity
        self.active: dict[tuple[str, str, str], _Series] = {}
        self._n = 0

    def _identifier(self, f: Forecast) -> str:
        self._n += 1
        return f"haixun-sim.{f.source}.{self.run_id}.{f.kind}.{f.area_key}.{self._n}"

    def step(self, geo: SimGeography, source: ModelSource, issued_at: datetime) -> list[Bulletin]:
        return self.decide(forecasts(geo, source, issued_at), issued_at)

    def decide(self, fcs: list[Forecast], issued_at: datetime) -> list[Bulletin]:
        """Alerts, Updates and Cancels for these forecasts at ``issued_at``."""
        out: list[Bulletin] = []
        for f in fcs:
            key = (f.source, f.kind, f.area_key)
            prev = self.active.get(key)
            if prev is None:
                if f.level == "none":
                    continue
                msg_type, refs = "Alert", []
            elif f.level == "none":
                msg_type, refs = "Cancel", [prev.identifier]
            elif f.level != prev.level or issued_at - prev.sent >= self.reissue:
                msg_type, refs = "Update", [prev.identifier]
            else:
                continue
            ident = self._identifier(f)
            out.append(Bulletin(f.source, _document(f, ident, msg_type, refs, issued_at, self.validity)))
            if msg_type == "Cancel":
                del self.active[key]
            else:
                self.active[key] = _Series(ident, f.level, issued_at, (prev.count + 1) if prev else 1)
        return out


def _document(f: Forecast, identifier: str, msg_type: str, references: list[str], issued_at: datetime,
              validity: timedelta) -> dict:
    level = f.level
    d = f.detail
    if f.kind == "surge_forecast":
        issuer = SURGE_ISSUER
        if msg_type == "Cancel":
            zh, en = "风暴潮警报解除。", "Storm surge warning cancelled (all clear)."
        else:
            at_local = d["peak_at"].astimezone(_CST).strftime("%d日%H:%M")
            zh = (f"风暴潮{LEVEL_ZH[level]}警报：预计{d['station']}附近最高潮位{d['peak_level_m']:.2f}米"
                  f"（{at_local}前后），最大增水{d['peak_surge_m'] * 100:.0f}厘米。")
            en = (f"Storm surge {level} warning: highest water {d['peak_level_m']:.2f} m at {d['station']} around "
                  f"{at_local.replace('日', ' ')} local, surge up to {d['peak_surge_m'] * 100:.0f} cm.")
        forecast = {k: (format_ts(v) if isinstance(v, datetime) else v) for k, v in d.items()}
    else:
        issuer = TYPHOON_ISSUER
        if msg_type == "Cancel":
            zh, en = "台风预警解除。", "Typhoon warning cancelled (all clear)."
        else:
            zh = (f"台风{LEVEL_ZH[level]}预警：台风“烟花”影响平湖，预计平均风力最大{d['max_wind_ms']:.0f}米/秒，"
                  f"阵风{d['max_gust_ms']:.0f}米/秒。")
            en = (f"Typhoon {level} warning: Typhoon In-fa affects Pinghu; mean wind up to {d['max_wind_ms']:.0f} m/s, "
                  f"gusts {d['max_gust_ms']:.0f} m/s.")
        forecast = dict(d)
    return {
        "identifier": identifier, "external_id": identifier, "msgType": msg_type, "references": references,
        "sent": format_ts(issued_at),
        "issuer": issuer, "kind": f.kind, "level": level,
        "area": {"segments": list(f.segments)}, "valid_from": format_ts(issued_at),
        "valid_to": format_ts(issued_at + validity), "issued_at": format_ts(issued_at),
        "text_zh": zh, "text_en": en, "forecast": forecast,
    }


def bulletins(geo: SimGeography, source: ModelSource, issued_at: datetime) -> list[Bulletin]:
    """The Alerts a fresh issuer would send at ``issued_at`` (one per series with a warning)."""
    return FeedIssuer(format_ts(issued_at)).step(geo, source, issued_at)


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

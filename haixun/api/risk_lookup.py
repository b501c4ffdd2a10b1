"""The risk at a location as served by GET /api/v1/risk and /ws/risk: cached JSON bytes per cell."""

from __future__ import annotations

from typing import Any

import orjson

from haixun.api.context import ApiContext
from haixun.api.risk import OutsideServedArea, assess_location
from haixun.api.risk_area import assess_town


def pick_lang(lang: str | None, accept_language: str | None) -> str:
    if lang in ("zh", "en"):
        return lang
    if accept_language and accept_language.strip().lower().startswith("en"):
        return "en"
    return "zh"


def risk_json(ctx: ApiContext, lat: float, lon: float, lang: str) -> bytes:
    """The response body, cached as JSON bytes (LRU, ``ApiOptions.risk_cache_max`` entries) per rounded
    location, language, state seq, shelter/road status version and risk config version: a new state, a
    status change or another config makes a new key. Raises OutsideServedArea (not cached)."""
    lat4, lon4 = round(lat, 4), round(lon, 4)
    key = (lat4, lon4, lang, ctx.live.seq, ctx.ops_version, ctx.config_version)
    hit: bytes | None = ctx.risk_cache.get(key)
    if hit is not None:
        ctx.metrics.risk_cache.labels("hit").inc()
        return hit
    ctx.metrics.risk_cache.labels("miss").inc()
    now = ctx.settings.clock.now()
    try:
        result = assess_location(ctx.geo, ctx.seawall, ctx.risk_config, ctx.live.body, ctx.ops, lat4, lon4, lang, now=now)
    except OutsideServedArea:  # elsewhere in the city: the town's level, said so (risk_area.py)
        result = assess_town(ctx.geo, ctx.risk_config, ctx.live.body, ctx.ops, lat4, lon4, lang, now)
    # orjson: the JSON of json.dumps(ensure_ascii=False, separators=(",", ":")), several times faster (the
    # same bytes on 6,800 looked-up points; only tiny or huge floats are written in another notation)
    body = orjson.dumps(result)
    ctx.risk_cache.put(key, body)
    return body


def risk_for(ctx: ApiContext, lat: float, lon: float, lang: str) -> dict[str, Any]:
    """The risk at a location as a fresh dict (cached like GET /risk). Raises OutsideServedArea."""
    result: dict[str, Any] = orjson.loads(risk_json(ctx, lat, lon, lang))
    return result

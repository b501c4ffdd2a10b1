"""Public read endpoints: risk, segments, stations, readings, warnings, shelters, roads, alarms."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from shapely.geometry import mapping

from haixun.api.alarms import alarm_json
from haixun.api.context import ApiContext, get_ctx
from haixun.api.errors import check_ts
from haixun.api.feeds import list_feeds
from haixun.api.live import iso
from haixun.api.models import (
    AlarmsPage,
    Items,
    ReadingsOut,
    RiskOut,
    RoadOut,
    SegmentFeature,
    SegmentsOut,
    ShelterOut,
    StationsOut,
    WarningsOut,
)
from haixun.api.places import road_items, shelter_items
from haixun.api.risk import status_of
from haixun.api.risk_lookup import pick_lang, risk_json
from haixun.api.rows import row_json
from haixun.data.geography import Segment
from haixun.errors import InvalidInput, NotFound
from haixun.riskcode.levels import Level, Status, combine
from haixun.store import alarms as store_alarms
from haixun.store import overrides as store_overrides
from haixun.store import readings as store_readings
from haixun.store import stations as store_stations
from haixun.store.history import decision_history

router = APIRouter(prefix="/api/v1", tags=["public"])

RAW_POINTS_MAX = 200_000  # raw readings in one answer
LEVEL_KEYS = ("none", "unknown", "blue", "yellow", "orange", "red")
Lat = Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude")]
Lon = Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude")]


@router.get("/risk", summary="Risk code at a location (never stored or logged)", response_model=RiskOut)
async def get_risk(request: Request, lat: Lat, lon: Lon, lang: Literal["zh", "en"] | None = None) -> Response:
    ctx: ApiContext = request.app.state.ctx  # not Depends(get_ctx): the hottest route, a dependency costs ~8 us
    language = pick_lang(lang, request.headers.get("accept-language"))
    # pre-serialised bytes: no response-model validation and no JSON encoding per request.
    # Outside the served area: OutsideServedArea, the 404 of the domain-error handler (api/errors.py).
    return Response(risk_json(ctx, lat, lon, language), media_type="application/json")


def segment_feature(ctx: ApiContext, seg: Segment, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    st = (ctx.live.body.get("segments") or {}).get(seg.id) or {}
    status = status_of(st)
    lv = status.level
    props: dict[str, Any] = {"id": seg.id, "name": seg.name, "name_en": seg.name_en, "town_id": seg.town_id,
                             "structure": seg.structure, "crest_level_m": seg.crest_level_m,
                             "warning_levels_m": seg.warning_levels.as_dict(), "tide_station": seg.tide_station,
                             "wind_station": seg.wind_station, "wave_station": seg.wave_station}
    props.update(level=lv.value, floor=status.floor.value, label=status.label,
                 unknown_hazards=st.get("unknown_hazards", []), sensors_offline=bool(st.get("sensors_offline")),
                 sensors_offline_since=st.get("sensors_offline_since"), official_only=bool(st.get("official_only")),
                 raw_level=st.get("raw_level", lv.value), raw_floor=st.get("raw_floor", status.floor.value),
                 grade=lv.official_grade, floor_grade=status.floor.official_grade,
                 since=st.get("since"), decided_at=st.get("decided_at"), hazards=st.get("hazards", []),
                 overtopping_lpsm=st.get("overtopping_lpsm"), freeboard_m=st.get("freeboard_m"),
                 next_high_water=st.get("next_high_water"), time_to_threshold=st.get("time_to_threshold"),
                 override=overrides.get(seg.id))
    return {"type": "Feature", "id": seg.id, "geometry": mapping(seg.geometry), "properties": props}


async def active_overrides(ctx: ApiContext) -> dict[str, dict[str, Any]]:
    async with ctx.db().connection() as conn:
        found = await store_overrides.newest_per_segment(conn, ctx.settings.clock.now())
    return {sid: row_json(r) for sid, r in found.items()}


@router.get("/segments", summary="Seawall segments with current levels (GeoJSON)", response_model=SegmentsOut,
            response_model_exclude_unset=True)
async def get_segments(ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    ov = await active_overrides(ctx)
    feats = [segment_feature(ctx, ctx.geo.segments[i], ov) for i in sorted(ctx.geo.segments)]
    return {"type": "FeatureCollection", "seq": ctx.live.seq, "updated_at": iso(ctx.live.at), "features": feats}


@router.get("/segments/{segment_id}", summary="One segment with its decision history", response_model=SegmentFeature,
            response_model_exclude_unset=True)
async def get_segment(segment_id: str, ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    seg = ctx.geo.segments.get(segment_id)
    if seg is None:
        raise NotFound(f"unknown segment {segment_id!r}")
    feat = segment_feature(ctx, seg, await active_overrides(ctx))
    async with ctx.db().connection() as conn:
        feat["properties"]["history"] = [row_json(r) for r in await decision_history(conn, "segment", segment_id)]
        feat["properties"]["alarms"] = [alarm_json(r) for r in await store_alarms.subject_alarms(conn, "segment",
                                                                                              segment_id)]
    return feat


@router.get("/stations", summary="Stations with latest values and data age", response_model=StationsOut)
async def get_stations(ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    now = ctx.settings.clock.now()  # readings carry data time: ages on the system clock (a replay's clock)
    async with ctx.db().connection() as conn:
        stations = await store_stations.station_listing(conn)
        latest: dict[str, dict[str, Any]] = {}
        for r in await store_readings.latest(conn):
            latest.setdefault(r.station_id, {})[r.quantity] = {
                "value": r.value, "ts": iso(r.ts), "qc": r.qc, "age_s": round((now - r.ts).total_seconds(), 1)}
    items = []
    for s in stations:
        lat_ = latest.get(s.id, {})
        ages = [v["age_s"] for v in lat_.values()]
        items.append({**row_json(s), "latest": lat_, "age_s": min(ages) if ages else None})
    return {"items": items, "server_now": iso(now)}


@router.get("/stations/{station_id}/readings", summary="Readings of one station (raw or rolled up)",
            response_model=ReadingsOut, response_model_exclude_unset=True)
async def get_readings(station_id: str, quantity: Annotated[str, Query(min_length=1, max_length=64)],
                       from_: Annotated[datetime | None, Query(alias="from")] = None,
                       to: datetime | None = None,
                       resolution: Literal["raw", "1m", "1h"] = "raw",
                       ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    to = _aware(to) or ctx.settings.clock.now()
    start = _aware(from_) or to - timedelta(hours=24)
    if start >= to:
        raise InvalidInput("'from' must be before 'to'")
    if to - start > timedelta(days=7 if resolution == "raw" else 31):
        raise InvalidInput("time span too long (raw: 7 days, rollups: 31 days)")
    async with ctx.db().connection() as conn:
        if not await store_stations.station_exists(conn, station_id):
            raise NotFound(f"unknown station {station_id!r}")
        if resolution == "raw":
            raw = await store_readings.raw_series(conn, station_id, quantity, start, to, RAW_POINTS_MAX)
            points = [{"ts": iso(r.ts), "value": r.value, "qc": r.qc} for r in raw]
        else:
            rows = await store_readings.rollup(conn, station_id, quantity, start, to,
                                               "1 minute" if resolution == "1m" else "1 hour")
            points = [{"ts": iso(r.bucket), "value": r.avg, "min": r.min, "max": r.max, "n": r.count}
                      for r in rows]
    return {"station_id": station_id, "quantity": quantity, "resolution": resolution, "from": iso(start),
            "to": iso(to), "points": points}


def _aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        raise InvalidInput("timestamps need a UTC offset (e.g. 2021-07-26T00:00:00Z)")
    return check_ts(ts)


def _counts(levels: list[Status]) -> dict[str, int]:
    out = dict.fromkeys(LEVEL_KEYS, 0)
    for st in levels:
        out[st.level.value] += 1
    return out


def _floor_counts(levels: list[Status]) -> dict[str, int]:
    """Each subject under its floor colour ("unknown, at least orange" counts as orange)."""
    out = dict.fromkeys((k for k in LEVEL_KEYS if k != "unknown"), 0)
    for st in levels:
        out[st.floor.value] += 1
    return out


def _area_json(st: Status) -> dict[str, Any]:
    return {"level": st.level.value, "floor": st.floor.value, "label": st.label, "grade": st.level.official_grade,
            "floor_grade": st.floor.official_grade}


@router.get("/warnings", summary="Tiered warnings: city -> town -> village", response_model=WarningsOut)
async def get_warnings(ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    body = ctx.live.body
    areas = body.get("areas") or {}
    vstate, tstate = areas.get("villages") or {}, areas.get("towns") or {}
    seg_levels = {sid: status_of((body.get("segments") or {}).get(sid)) for sid in ctx.geo.segments}
    towns = []
    all_village_levels: list[Status] = []
    for tid in sorted(ctx.geo.towns):
        town = ctx.geo.towns[tid]
        villages = []
        vlevels: list[Status] = []
        for vid in sorted(v for v, f in ctx.geo.villages.items() if f.town_id == tid):
            vf = ctx.geo.villages[vid]
            vs = vstate.get(vid) or {}
            vst = status_of(vs)
            vlevels.append(vst)
            villages.append({"id": vid, "name": vf.name, "name_en": vf.name_en, **_area_json(vst),
                             "since": vs.get("since"), "population": vf.population,
                             "contact": vf.contact.as_dict() if vf.contact else None})
        all_village_levels += vlevels
        ts_ = tstate.get(tid) or {}
        tst = status_of(ts_) if ts_ else (combine(vlevels) if vlevels else Status(Level.UNKNOWN))
        tsegs = [lv for s, lv in seg_levels.items() if ctx.geo.segments[s].town_id == tid]
        towns.append({"id": tid, "name": town.name, "name_en": town.name_en, **_area_json(tst),
                      "counts": _counts(vlevels), "floor_counts": _floor_counts(vlevels),
                      "segment_counts": _counts(tsegs), "segment_floor_counts": _floor_counts(tsegs),
                      "population": ts_.get("population") or _population(villages), "villages": villages})
    cs = areas.get("city") or {}
    cst = status_of(cs) if cs else (combine(all_village_levels) if all_village_levels else Status(Level.UNKNOWN))
    city = {"id": "pinghu", "name": "平湖市", "name_en": "Pinghu", **_area_json(cst),
            "counts": _counts(all_village_levels), "floor_counts": _floor_counts(all_village_levels),
            "segment_counts": _counts(list(seg_levels.values())),
            "segment_floor_counts": _floor_counts(list(seg_levels.values())),
            "population": cs.get("population") or _population([v for t in towns for v in t["villages"]]),
            "towns": towns}
    return {"seq": ctx.live.seq, "updated_at": iso(ctx.live.at), "city": city,
            "official": await list_feeds(ctx, active_only=True)}


def _population(villages: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in villages:
        lv = v.get("floor") if v["level"] == "unknown" else v["level"]  # unknown counts under its floor
        if lv in ("blue", "yellow", "orange", "red") and isinstance(v.get("population"), int):
            out[lv] = out.get(lv, 0) + v["population"]
    return out


@router.get("/shelters", summary="Emergency shelters with open/closed status", response_model=Items[ShelterOut])
async def get_shelters(ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    return {"items": await shelter_items(ctx)}


@router.get("/roads", summary="Roads with closure status and low points", response_model=Items[RoadOut])
async def get_roads(ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    return {"items": await road_items(ctx)}


@router.get("/alarms", summary="Level changes (alarms), newest first", response_model=AlarmsPage)
async def get_alarms(unacked: bool | None = None, level: Literal["none", "unknown", "blue", "yellow", "orange", "red"] | None = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100, before_id: int | None = None,
                     alarm_type: Literal["level", "data_outage"] | None = None,
                     is_open: Annotated[bool | None, Query(alias="open")] = None,
                     ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    async with ctx.db().connection() as conn:
        found = await store_alarms.alarms(conn, limit=limit, alarm_type=alarm_type, is_open=is_open, unacked=unacked,
                                          to_level=level, before_id=before_id)
    rows = [alarm_json(r) for r in found]
    rows.sort(key=lambda r: (r["at"], r["id"]), reverse=True)
    return {"items": rows, "next_before_id": min(r["id"] for r in rows) if len(rows) == limit else None}

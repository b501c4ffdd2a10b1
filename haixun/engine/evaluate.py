"""The engine's one integration point with riskcode.

``load_evaluator(conn)`` loads the active risk configuration (the API's
``threshold_versions`` row marked active, else the packaged riskcode.toml) and
the seawall segments (geography), and returns a :class:`RiskEvaluator`.
``RiskEvaluator.evaluate`` converts the store rows into riskcode's input
types, calls riskcode, and turns the result into :class:`Evaluation`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg

from haixun.engine.inputs import RawInputs
from haixun.engine.model import CurrentRow, Evaluation, SubjectDecision
from haixun.riskcode import (
    AreaIndex,
    AreaSpec,
    CameraEventInput,
    FeedItem,
    LevelState,
    Observation,
    Override,
    RiskConfig,
    SeawallIndex,
    SegmentSpec,
    ShorelineInputs,
    ShorelineResult,
    ShorelineState,
    TidePrediction,
    evaluate_shoreline,
    load_config,
)
from haixun.riskcode.levels import Level, Status
from haixun.riskcode.rollup import lowest_ground
from haixun.riskcode.shoreline import SegmentState
from haixun.store import geography, thresholds
from haixun.store.db import table_exists
from haixun.store.feeds import feed_item

log = logging.getLogger(__name__)

# Per-cycle fields left out of the state body entry (they would make every
# subject "changed" every cycle); kept in the stored decision record.
VOLATILE_KEYS = frozenset({"decided_at"})


class Evaluator(Protocol):
    config_version: str

    async def refreshed(self, conn: psycopg.AsyncConnection) -> Evaluator: ...
    def restore_state(self, restored: Mapping[tuple[str, str], tuple[CurrentRow, dict]]) -> Any: ...
    def evaluate(self, raw: RawInputs, tide: Mapping[str, TidePrediction], prev: Any, now: datetime) -> Evaluation: ...
    def station_max_age_s(self, quantities: tuple[str, ...]) -> float: ...


# ---------------------------------------------------------------- configuration and geography
async def active_config(conn: psycopg.AsyncConnection) -> tuple[RiskConfig, str]:
    """(config, fingerprint): the active threshold version, else the packaged file."""
    if await table_exists(conn, "threshold_versions"):
        tv = await thresholds.active_text(conn)
        if tv is not None:
            try:
                cfg = (RiskConfig.from_toml(tv.text) if tv.format == "toml"
                       else RiskConfig.from_dict(json.loads(tv.text)))
                return cfg, f"db:{tv.id}:{tv.sha256}"
            except ValueError as exc:
                log.error("active threshold version %s is invalid (%s); using the packaged configuration", tv.id, exc)
    cfg = load_config()
    return cfg, "file:" + hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16]


async def config_fingerprint(conn: psycopg.AsyncConnection) -> str | None:
    """Cheap check: the active threshold version's fingerprint, None when none is active."""
    if not await table_exists(conn, "threshold_versions"):
        return None
    fp = await thresholds.active_mark(conn)
    return f"db:{fp[0]}:{fp[1]}" if fp else None


@dataclass(frozen=True)
class Geography:
    """What the engine needs of the geography: segments and area polygons."""

    segments: list[SegmentSpec]
    villages: list[AreaSpec]
    towns: list[AreaSpec]
    source: str


def _ring(geometry: dict[str, Any]) -> tuple[tuple[float, float], ...]:
    return tuple((float(c[0]), float(c[1])) for c in geometry["coordinates"][0])


async def load_geography_from_db(conn: psycopg.AsyncConnection) -> Geography | None:
    """The geography loaded by ``haixun load-geo`` (tables of migration 010), or None if empty/absent."""
    if not await table_exists(conn, "segments"):
        return None
    segs = [SegmentSpec.from_feature({"properties": r.props, "geometry": r.geometry})
            for r in await geography.segments(conn)]
    if not segs:
        return None
    lows: list[tuple[float, float, float, str]] = []
    if await table_exists(conn, "roads"):
        lows = [(p.lon, p.lat, p.ground_level_m, f"road {p.road_id} low point")
                for p in await geography.road_low_points(conn)]
    villages = [AreaSpec(a.id, "village", ring := _ring(a.geometry), a.town_id, a.population,
                         lowest_ground(a.id, ring, a.ground_level_m, lows))
                for a in await geography.villages(conn)]
    towns = [AreaSpec(a.id, "town", _ring(a.geometry), None, a.population) for a in await geography.towns(conn)]
    return Geography(segs, villages, towns, "database")


def load_geography_from_file() -> Geography:
    """The packaged geography file (haixun/data/pinghu.geojson), validated by haixun.data."""
    from haixun.data.geography import load_geography
    from haixun.data.riskspecs import area_specs, segment_specs

    geo = load_geography()
    villages, towns = area_specs(geo)
    return Geography(list(segment_specs(geo)), list(villages), list(towns), f"file {geo.version}")


async def load_evaluator(conn: psycopg.AsyncConnection) -> RiskEvaluator:
    cfg, fp = await active_config(conn)
    geo = await load_geography_from_db(conn) or load_geography_from_file()
    log.info("risk engine: config %s (%s), geography from %s: %d segments, %d villages, %d towns",
             cfg.version, fp, geo.source, len(geo.segments), len(geo.villages), len(geo.towns))
    return RiskEvaluator(cfg, fp, geo)


# ---------------------------------------------------------------- conversion
def observations(raw: RawInputs) -> dict[str, dict[str, Observation]]:
    return {sid: {q: Observation(v.value, v.ts, v.qc) for q, v in qs.items()} for sid, qs in raw.latest.items()}


def camera_events(raw: RawInputs) -> list[CameraEventInput]:
    out = []
    for e in (row.event for row in raw.camera_events):
        segs = (e.segment_id,) if e.segment_id else raw.camera_segments.get(e.camera_id, ())
        out.append(CameraEventInput(e.camera_id, e.ts, e.type, float(e.confidence), tuple(segs),
                                    raw.camera_kinds.get(e.camera_id, "")))
    return out


def feed_items(raw: RawInputs) -> list[FeedItem]:
    return [feed_item(f) for f in raw.official_feeds]


def overrides(raw: RawInputs) -> list[Override]:
    return [Override(o.segment_id, Level(o.level), o.reason, o.expires_at, o.created_by, o.created_at)
            for o in raw.overrides]


# ---------------------------------------------------------------- the evaluator
class RiskEvaluator:
    """Config + geography (segments, area index) and the riskcode call."""

    def __init__(self, config: RiskConfig, fingerprint: str, geography: Geography) -> None:
        self.config = config
        self.fingerprint = fingerprint
        self.geography = geography
        self.config_version = config.version
        self.areas: AreaIndex | None = None
        if geography.villages or geography.towns:
            seawall = SeawallIndex(config, geography.segments)
            self.areas = AreaIndex.build(config, seawall, geography.villages, geography.towns)

    async def refreshed(self, conn: psycopg.AsyncConnection) -> RiskEvaluator:
        """Itself, or a new evaluator when the active threshold version changed."""
        fp = await config_fingerprint(conn)
        if fp == self.fingerprint or (fp is None and self.fingerprint.startswith("file:")):
            return self
        cfg, fp2 = await active_config(conn)
        log.info("risk configuration changed: %s -> %s (version %s)", self.fingerprint, fp2, cfg.version)
        return RiskEvaluator(cfg, fp2, self.geography)

    def station_max_age_s(self, quantities: tuple[str, ...]) -> float:
        ages = self.config.staleness.max_age_s
        known = [ages[q] for q in quantities if q in ages]
        return max(known) if known else max(ages.values())

    def restore_state(self, restored: Mapping[tuple[str, str], tuple[CurrentRow, dict]]) -> ShorelineState:
        """The hysteresis state from current_levels, so that a new leader keeps
        the previous leader's levels, ``since`` and downgrade timers. Segment
        decisions carry riskcode's full ``SegmentState`` under ``"state"``;
        rows without it fall back to level / raw_level / since."""
        segments: dict[str, SegmentState] = {}
        areas: dict[str, tuple[Status, datetime]] = {}
        for (kind, sid), (row, decision) in restored.items():
            try:
                if kind == "segment":
                    st = decision.get("state") if isinstance(decision, dict) else None
                    segments[sid] = SegmentState.from_dict(st) if st else SegmentState(
                        LevelState(Level(row.level), row.since, Level(row.raw_level)), Level(row.level), row.since)
                else:
                    floor = decision.get("floor") if isinstance(decision, dict) else None
                    areas[f"{kind}:{sid}"] = (Status(Level(row.level), Level(floor or "none")), row.since)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("cannot restore the state of %s/%s (%s); it starts afresh", kind, sid, exc)
        return ShorelineState(segments, areas)

    def evaluate(self, raw: RawInputs, tide: Mapping[str, TidePrediction], prev: ShorelineState | None,
                 now: datetime) -> Evaluation:
        inputs = ShorelineInputs(observations=observations(raw), tide_predictions=dict(tide),
                                 camera_events=camera_events(raw), feeds=feed_items(raw), overrides=overrides(raw),
                                 wave_period_kinds={sid: s.wave_period_kind for sid, s in raw.stations.items()
                                                    if s.wave_period_kind},
                                 recent=_recent(raw))
        result = evaluate_shoreline(self.config, self.geography.segments, inputs, prev, now, self.areas)
        return to_evaluation(result)


def _recent(raw: RawInputs) -> dict[str, dict[str, list[Observation]]]:
    """station -> quantity -> recent readings: wind gusts (persistence rule), tide levels (surge projection)."""
    out: dict[str, dict[str, list[Observation]]] = {}
    for sid, rows in raw.recent_gusts.items():
        out.setdefault(sid, {})["wind_gust"] = [Observation(v, ts, qc) for v, ts, qc in rows]
    for sid, rows in raw.recent_tide.items():
        out.setdefault(sid, {})["tide_level"] = [Observation(v, ts, qc) for v, ts, qc in rows]
    return out


def to_evaluation(result: ShorelineResult) -> Evaluation:
    """riskcode's ShorelineResult -> the engine's subjects (entries, decisions, reasons)."""
    change_reasons = {(c.subject_kind, c.subject_id): [r.to_dict() for r in c.reasons] for c in result.changes}
    body = result.to_dict()
    subjects: list[SubjectDecision] = []
    for sid, seg in result.segments.items():
        record = seg.to_dict()
        entry = {k: v for k, v in record.items() if k not in VOLATILE_KEYS}
        decision = {**record, "segment_id": sid, "state": result.state.segments[sid].to_dict()}
        reasons = change_reasons.get(("segment", sid)) or record["hazards"]
        subjects.append(SubjectDecision("segment", sid, seg.level.value, seg.decision.raw_level.value, seg.since,
                                        entry, decision, reasons))
    areas = body.get("areas") or {}
    rows: list[tuple[str, str, dict[str, Any]]] = []
    if "city" in areas:
        rows.append(("city", "city", areas["city"]))
    rows += [("town", k, v) for k, v in areas.get("towns", {}).items()]
    rows += [("village", k, v) for k, v in areas.get("villages", {}).items()]
    for kind, sid, entry in rows:
        since = result.area_since.get(f"{kind}:{sid}", result.at)
        subjects.append(SubjectDecision(kind, sid, entry["level"], entry["level"], since, entry,
                                        {**entry, "subject_kind": kind, "subject_id": sid,
                                         "config_version": result.config_version},
                                        change_reasons.get((kind, sid), [])))
    return Evaluation(result.config_version, subjects, result.state)

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
from datetime import datetime
from typing import Any, Protocol

import psycopg

from haixun.engine.inputs import RawInputs, table_exists
from haixun.engine.model import CurrentRow, Evaluation, SubjectDecision
from haixun.riskcode import dynamics
from haixun.riskcode.config import RiskConfig, load_config
from haixun.riskcode.levels import Level
from haixun.riskcode.model import CameraEventInput, FeedItem, Observation, Override, SegmentSpec
from haixun.riskcode.segment import evaluate_segment
from haixun.riskcode.tides import TidePrediction

log = logging.getLogger(__name__)

# API feed kinds (docs/api.md) -> riskcode FeedItem kinds.
FEED_KIND = {"storm_surge_forecast": "surge_forecast", "surge_forecast": "surge_forecast",
             "wave_warning": "wave_forecast", "wave_forecast": "wave_forecast",
             "typhoon_warning": "typhoon_warning", "gale_warning": "gale_warning", "red_tide": "red_tide"}


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
        cur = await conn.execute("SELECT id, format, body, sha256 FROM threshold_versions WHERE active")
        row = await cur.fetchone()
        if row is not None:
            vid, fmt, body, sha = row
            try:
                cfg = RiskConfig.from_toml(body) if fmt == "toml" else RiskConfig.from_dict(json.loads(body))
                return cfg, f"db:{vid}:{sha}"
            except ValueError as exc:
                log.error("active threshold version %s is invalid (%s); using the packaged configuration", vid, exc)
    cfg = load_config()
    return cfg, "file:" + hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16]


async def config_fingerprint(conn: psycopg.AsyncConnection) -> str | None:
    """Cheap check: the active threshold version's fingerprint, None when none is active."""
    if not await table_exists(conn, "threshold_versions"):
        return None
    cur = await conn.execute("SELECT id, sha256 FROM threshold_versions WHERE active")
    row = await cur.fetchone()
    return f"db:{row[0]}:{row[1]}" if row else None


def load_segments() -> list[SegmentSpec]:
    """Seawall segments from the packaged geography (haixun/data/pinghu.geojson)."""
    from importlib import resources

    text = (resources.files("haixun.data") / "pinghu.geojson").read_text(encoding="utf-8")
    features = json.loads(text)["features"]
    return [SegmentSpec.from_feature(f) for f in features if f["properties"].get("layer") == "seawall_segment"]


async def load_evaluator(conn: psycopg.AsyncConnection) -> RiskEvaluator:
    cfg, fp = await active_config(conn)
    return RiskEvaluator(cfg, fp, load_segments())


# ---------------------------------------------------------------- conversion
def observations(raw: RawInputs) -> dict[str, dict[str, Observation]]:
    return {sid: {q: Observation(v.value, v.ts, v.qc) for q, v in qs.items()} for sid, qs in raw.latest.items()}


def camera_events(raw: RawInputs) -> list[CameraEventInput]:
    out = []
    for e in raw.camera_events:
        segs = (e["segment_id"],) if e.get("segment_id") else raw.camera_segments.get(e["camera_id"], ())
        out.append(CameraEventInput(e["camera_id"], e["ts"], e["type"], float(e["confidence"]), tuple(segs)))
    return out


def feed_items(raw: RawInputs) -> list[FeedItem]:
    out = []
    for f in raw.official_feeds:
        kind = FEED_KIND.get(f["kind"])
        if kind is None:
            continue  # stored for the record, not an input of the risk code
        area = f.get("area") or {}
        out.append(FeedItem(
            id=f"{f['source']}:{f['id']}", issuer=f["issuer"], kind=kind, level=Level(f["level"]),  # type: ignore[arg-type]
            valid_from=f["valid_from"], valid_to=f["valid_to"], text="",
            segment_ids=tuple(area.get("segments") or ()),
            polygon=tuple(tuple(p[:2]) for p in area.get("polygon") or ())))
    return out


def overrides(raw: RawInputs) -> list[Override]:
    return [Override(o["segment_id"], Level(o["level"]), o["reason"], o["expires_at"], o["created_by"],
                     o["created_at"]) for o in raw.overrides]


def _feeds_for(segment: SegmentSpec, feeds: list[FeedItem]) -> list[FeedItem]:
    """Feeds whose area names the segment (polygon areas apply to the whole shoreline
    until riskcode offers a geometric test)."""
    return [f for f in feeds if not f.segment_ids or segment.id in f.segment_ids]


# ---------------------------------------------------------------- the evaluator
class RiskEvaluator:
    def __init__(self, config: RiskConfig, fingerprint: str, segments: list[SegmentSpec]) -> None:
        self.config = config
        self.fingerprint = fingerprint
        self.segments = segments
        self.config_version = config.version

    async def refreshed(self, conn: psycopg.AsyncConnection) -> RiskEvaluator:
        """Itself, or a new evaluator when the active threshold version changed."""
        fp = await config_fingerprint(conn)
        if fp == self.fingerprint or (fp is None and self.fingerprint.startswith("file:")):
            return self
        cfg, fp2 = await active_config(conn)
        log.info("risk configuration changed: %s -> %s (version %s)", self.fingerprint, fp2, cfg.version)
        return RiskEvaluator(cfg, fp2, self.segments)

    def station_max_age_s(self, quantities: tuple[str, ...]) -> float:
        ages = self.config.staleness.max_age_s
        known = [ages[q] for q in quantities if q in ages]
        return max(known) if known else max(ages.values())

    def restore_state(self, restored: Mapping[tuple[str, str], tuple[CurrentRow, dict]]) -> dict[str, Any]:
        """Hysteresis states from current_levels (the full state when the stored
        decision carries it, else level/raw_level/since), so a new leader keeps
        the dwell timers of the previous one."""
        out: dict[str, dynamics.LevelState] = {}
        for (kind, sid), (row, decision) in restored.items():
            if kind != "segment":
                continue
            hyst = decision.get("hysteresis") if isinstance(decision, dict) else None
            try:
                out[sid] = dynamics.LevelState.from_dict(hyst) if hyst else dynamics.LevelState(
                    Level(row.level), row.since, Level(row.raw_level))
            except (ValueError, KeyError) as exc:
                log.warning("cannot restore hysteresis of %s/%s (%s)", kind, sid, exc)
        return out

    def evaluate(self, raw: RawInputs, tide: Mapping[str, TidePrediction], prev: Any,
                 now: datetime) -> Evaluation:
        cfg = self.config
        obs, events, feeds, ovr = observations(raw), camera_events(raw), feed_items(raw), overrides(raw)
        prev_states: dict[str, dynamics.LevelState] = dict(prev or {})
        new_states: dict[str, dynamics.LevelState] = {}
        subjects: list[SubjectDecision] = []
        for seg in self.segments:
            d = evaluate_segment(cfg, seg, obs, tide.get(seg.tide_station), events, _feeds_for(seg, feeds), now)
            state, _changed = dynamics.step(prev_states.get(seg.id), d.raw_level, now, cfg.hysteresis.dwell_s)
            new_states[seg.id] = state
            o = dynamics.active_override(ovr, seg.id, now)
            level = dynamics.shown_level(state, o)
            reasons = [h.to_dict() for h in d.hazards]
            entry: dict[str, Any] = {
                "level": level.value, "raw_level": d.raw_level.value, "since": state.since,
                "hazards": reasons,
                "overtopping_lpsm": d.overtopping_lpsm, "freeboard_m": d.freeboard_m,
                "next_high_water": d.next_high_water.to_dict() if d.next_high_water else None,
                "time_to_threshold": d.time_to_threshold.to_dict() if d.time_to_threshold else None,
            }
            if o is not None:
                entry["override"] = {"level": o.level.value, "reason": o.reason, "by": o.by,
                                     "expires_at": o.expires_at}
            decision = {**entry, "segment_id": seg.id, "local_level": d.local_level.value,
                        "overtopping_equation": d.overtopping_equation, "decided_at": now,
                        "config_version": d.config_version, "extra": d.extra, "hysteresis": state.to_dict()}
            subjects.append(SubjectDecision("segment", seg.id, level.value, d.raw_level.value, state.since,
                                            entry, decision, reasons))
        return Evaluation(cfg.version, subjects, new_states)

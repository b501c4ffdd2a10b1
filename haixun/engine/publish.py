"""Diff a cycle's decisions against what was last written, build the
state_log body (docs/state.md), and write everything in ONE transaction that
ends with ``NOTIFY haixun_state, '<seq>'``.

Rules (docs/engine.md):

* a subject is *changed* when its level, raw level, ``since`` or state entry
  (values, reasons, forecasts) differ from the last written one; changed
  subjects are upserted in ``current_levels`` and get a ``decisions`` row;
  unchanged subjects get a ``decisions`` row every ``history_every`` (history);
* a *level* change also inserts a ``level_changes`` row (the alarm list) and
  ``NOTIFY haixun_alarm '{"event": "new", "id": ...}'``; the first decision of
  a subject with no previous level only makes a level change when it warns;
* a delta carries only changed subjects, plus stations whose latest values
  changed; every ``station_refresh`` all stations' ages are included. With
  nothing to say, no row is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg

from haixun.engine.model import CurrentRow, Evaluation, StationEntry, SubjectDecision
from haixun.store import leader, levels
from haixun.store.channels import ALARM_CHANNEL, STATE_CHANNEL
from haixun.store.engine_inputs import LatencyMark, StationInfo
from haixun.store.notify import notify

WARNING_LEVELS = ("blue", "yellow", "orange", "red")


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime):
        return iso(o)
    if hasattr(o, "value"):  # enums (Level)
        return o.value
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if isinstance(o, float):  # float subclasses (numpy float64): the json module wrote them as floats
        return float(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# datetimes and dataclasses through _json_default (iso(), .value / .to_dict()), int keys as text: as json.dumps
_AS_JSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


def jsonable(obj: Any) -> Any:
    """Round-trip through JSON so stored and compared values are plain JSON (orjson: at 10,000 stations the
    station entries of a cycle are megabytes). A NaN becomes null (unknown), never a body jsonb refuses."""
    return orjson.loads(orjson.dumps(obj, default=_json_default, option=_AS_JSON))


@dataclass(slots=True)
class CyclePlan:
    """What one cycle will write."""

    changed: list[SubjectDecision] = field(default_factory=list)
    history: list[SubjectDecision] = field(default_factory=list)   # unchanged, due for a history row
    level_changes: list[tuple[SubjectDecision, str, str | None]] = field(default_factory=list)  # (decision, from_level, from_floor)
    stations: dict[str, StationEntry] = field(default_factory=dict)
    snapshot: bool = False
    outages_new: list[Outage] = field(default_factory=list)     # data-outage alarms to raise
    outages_cleared: list[tuple[str, str]] = field(default_factory=list)  # (kind, id) whose data came back

    @property
    def empty(self) -> bool:
        return not (self.changed or self.stations or self.snapshot or self.history or self.outages_new
                    or self.outages_cleared)


@dataclass(frozen=True, slots=True)
class Outage:
    """A station or gateway silent past its staleness limit (or reported offline)."""

    kind: str  # station | gateway
    id: str
    since: datetime | None  # newest reading (data time); None: reported offline without a reading
    detail: str


def outages(stations: Mapping[str, StationEntry], infos: Mapping[str, StationInfo], gateways_offline: dict[str, datetime | None],
            max_age: dict[str, float]) -> dict[tuple[str, str], Outage]:
    """Stations and gateways in a data outage now (docs/engine.md "Data-outage alarms").

    A station is out when it has delivered before and its station entry is not online (newest
    reading older than its staleness limit, riskcode.toml ``staleness.max_age_s``, or its gateway
    reported offline). A station that never delivered is not an outage (its segments are unknown
    anyway). A gateway is out when it reported offline (gateway status) and none of its stations
    delivers, or when every station of it that delivered before is silent."""
    out: dict[tuple[str, str], Outage] = {}
    by_gw: dict[str, list[tuple[str, bool]]] = {}
    for sid, st in stations.items():
        newest = max((v["ts"] for v in (st.get("latest") or {}).values()), default=None)
        gw = getattr(infos.get(sid), "gateway_id", None)
        if gw:
            by_gw.setdefault(gw, []).append((sid, bool(st.get("online"))))
        if newest is None or st.get("online"):
            continue
        age = st.get("age_s")
        why = (f"gateway {gw} reported offline" if gw in gateways_offline and age is not None
               and age <= max_age.get(sid, float("inf")) else
               f"no reading for {age:.0f} s (limit {max_age.get(sid, 0):.0f} s, riskcode.toml staleness)")
        out[("station", sid)] = Outage("station", sid, newest, f"station {sid} silent since {iso(newest)}: {why}")
    for gw, members in by_gw.items():
        delivered = [sid for sid, _ in members if ("station", sid) in out or stations[sid].get("online")]
        any_online = any(online for _, online in members)
        if any_online:
            continue
        if gw in gateways_offline or delivered:
            since = max((o.since for k, o in out.items() if k[0] == "station" and o.since is not None
                         and getattr(infos.get(k[1]), "gateway_id", None) == gw), default=None)
            why = "reported offline (gateway status)" if gw in gateways_offline else "all its stations silent"
            out[("gateway", gw)] = Outage("gateway", gw, since,
                                          f"gateway {gw} {why}" + (f"; newest reading {iso(since)}" if since else ""))
    for gw in gateways_offline:
        if gw not in by_gw and ("gateway", gw) not in out:
            out[("gateway", gw)] = Outage("gateway", gw, None, f"gateway {gw} reported offline (gateway status)")
    return out


def plan_outages(plan: CyclePlan, now_out: dict[tuple[str, str], Outage], open_alarms: dict[tuple[str, str], int]) -> None:
    """New outages to raise, returned ones to clear (against the open data-outage alarms)."""
    plan.outages_new = [o for k, o in sorted(now_out.items()) if k not in open_alarms]
    plan.outages_cleared = sorted(k for k in open_alarms if k not in now_out)


def plan_cycle(evaluation: Evaluation, current: dict[tuple[str, str], CurrentRow], stations: dict[str, StationEntry],
               last_stations: Mapping[str, StationEntry], *, wall_now: datetime, snapshot: bool, refresh_stations: bool,
               history_every: timedelta) -> CyclePlan:
    """What to write this cycle. ``wall_now``: the decision-history cadence is
    wall time (``decisions.decided_at`` is a latency mark, wall clock)."""
    plan = CyclePlan(snapshot=snapshot)
    for d in evaluation.subjects:
        prev = current.get(d.key)
        entry = jsonable(d.entry)
        if prev is None or prev.level != d.level or prev.raw_level != d.raw_level or prev.since != d.since \
                or prev.entry != entry:
            plan.changed.append(d)
            floor = entry.get("floor") if isinstance(entry, dict) else None
            if prev is None:
                if d.level in WARNING_LEVELS or floor in WARNING_LEVELS:
                    plan.level_changes.append((d, "unknown", None))
            else:
                prev_floor = prev.entry.get("floor") if prev.entry else None
                # a level change, or the floor of an unknown moving ("unknown, at least blue" -> "... red")
                if prev.level != d.level or (prev_floor is not None and floor is not None and prev_floor != floor):
                    plan.level_changes.append((d, prev.level, prev_floor))
        elif prev.last_history_at is None or wall_now - prev.last_history_at >= history_every:
            plan.history.append(d)
    if snapshot or refresh_stations:
        plan.stations = stations
    else:
        plan.stations = {sid: s for sid, s in stations.items()
                         if (last := last_stations.get(sid)) is None
                         or last["latest"] != s["latest"] or last["online"] != s["online"]}
    return plan


def build_body(seq: int, at: datetime, config_version: str, evaluation: Evaluation, plan: CyclePlan,
               latency: LatencyMark | None, decided_at: datetime) -> dict[str, Any]:
    subjects = evaluation.subjects if plan.snapshot else plan.changed
    segments: dict[str, Any] = {}
    areas: dict[str, Any] = {}
    for d in subjects:
        entry = jsonable(d.entry)
        if d.kind == "segment":
            segments[d.id] = entry
        elif d.kind == "city":
            areas["city"] = entry
        else:
            areas.setdefault(d.kind + "s", {})[d.id] = entry
    body: dict[str, Any] = {"seq": seq, "at": iso(at), "config_version": config_version,
                            "segments": segments, "areas": areas, "stations": jsonable(plan.stations)}
    lat: dict[str, Any] = {"decided_at": iso(decided_at)}
    if latency is not None:
        lat.update(sensor_ts=iso(latency.sensor_ts), received_at=iso(latency.received_at),
                   stored_at=iso(latency.stored_at))
    body["latency"] = lat
    return body


async def write_cycle(conn: psycopg.AsyncConnection, *, evaluation: Evaluation, plan: CyclePlan, now: datetime,
                      decided_at: datetime, latency: LatencyMark | None, instance_id: str,
                      outage_ids: dict[tuple[str, str], int] | None = None) -> tuple[int, dict]:
    """The single write transaction of a cycle. Returns (seq, body).

    ``now`` (the clock's data time) is the state's ``at``; ``decided_at``
    (wall) stamps decisions, alarms and the leader's ``last_cycle_at``. ``outage_ids``: the open
    data-outage alarms (kind, id) -> alarm id, updated in place."""
    if outage_ids is None:
        outage_ids = {}
    async with conn.transaction():
        seq = await levels.next_state_seq(conn)
        body = build_body(seq, now, evaluation.config_version, evaluation, plan, latency, decided_at)
        if plan.changed:
            await levels.upsert_current(conn, [_level_write(d) for d in plan.changed], decided_at=decided_at, seq=seq)
        rows = plan.changed + plan.history
        if rows:
            await levels.insert_decisions(conn, [_level_write(d) for d in rows], decided_at=decided_at,
                                          config_version=evaluation.config_version)
        for d, from_level, from_floor in plan.level_changes:
            to_floor = d.entry.get("floor") if isinstance(d.entry, dict) else None
            lc_id = await levels.insert_level_change(conn, kind=d.kind, id=d.id, at=decided_at, from_level=from_level,
                                                     to_level=d.level, from_floor=from_floor,
                                                     to_floor=_floor_value(to_floor), reasons=jsonable(d.reasons))
            await notify(conn, ALARM_CHANNEL, json.dumps({"event": "new", "id": lc_id}))
        for o in plan.outages_new:
            reasons = [{"hazard": "data_outage", "level": "unknown", "value": None, "unit": "", "threshold": None,
                        "source": "riskcode.toml [staleness]", "threshold_source": "riskcode.toml [staleness]",
                        "input_ts": iso(o.since) if o.since else None, "detail": o.detail}]
            oid = await levels.insert_outage_alarm(conn, kind=o.kind, id=o.id, at=decided_at, detail=o.detail,
                                                   reasons=reasons)
            outage_ids[(o.kind, o.id)] = oid
            await notify(conn, ALARM_CHANNEL, json.dumps({"event": "new", "id": oid}))
        for kind, sid in plan.outages_cleared:
            for cid in await levels.clear_outage_alarms(conn, kind=kind, id=sid, at=decided_at):
                await notify(conn, ALARM_CHANNEL, json.dumps({"event": "cleared", "id": cid}))
            outage_ids.pop((kind, sid), None)
        await levels.insert_state(conn, seq=seq, at=now, snapshot=plan.snapshot, body=body)
        await leader.mark_cycle(conn, instance_id=instance_id, at=decided_at, seq=seq)
        await notify(conn, STATE_CHANNEL, str(seq))
    return seq, body


def _floor_value(v: Any) -> str | None:
    return getattr(v, "value", v) if v is not None else None


def _level_write(d: SubjectDecision) -> levels.LevelRow:
    return levels.LevelRow(d.kind, d.id, d.level, d.raw_level, d.since, jsonable(d.decision))


async def restore_current(conn: psycopg.AsyncConnection) -> dict[tuple[str, str], tuple[CurrentRow, dict[str, Any]]]:
    """current_levels as written by the previous leader: (row, stored decision)."""
    # entry {}: the first cycle of a new leader re-writes every subject (a snapshot anyway)
    return {(r.kind, r.id): (CurrentRow(r.level, r.raw_level, r.since, {}, last_history_at), r.decision)
            for r, last_history_at in await levels.stored_levels(conn)}


async def open_outages(conn: psycopg.AsyncConnection) -> dict[tuple[str, str], int]:
    """Data-outage alarms not cleared yet (a new leader continues them, never raises them twice)."""
    return await levels.open_outage_alarms(conn)


async def prune_state_log(conn: psycopg.AsyncConnection, keep: timedelta, now: datetime) -> int:
    """Delete state_log rows older than ``keep``, always keeping the newest snapshot."""
    return await levels.prune_state_log(conn, now - keep)

"""``haixun demo --check``: did the storm raise the codes and did they come back down?

Two independent witnesses must each see one subject (a seawall segment or the
city) go up to **orange or red** and later back down to a known level below
orange (``none``/``blue``/``yellow``; ``unknown`` does not count as "down"):

* the database: ``level_changes`` rows written by the engine;
* a websocket client on ``/ws/live`` (``websockets`` library), reading the
  ``snapshot``/``delta`` messages of docs/api.md with bodies as in docs/state.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg

from haixun.riskcode.levels import Level

log = logging.getLogger(__name__)

HIGH = (Level.ORANGE, Level.RED)
LOW = (Level.NONE, Level.BLUE, Level.YELLOW)


def _level(value: object) -> Level | None:
    if not isinstance(value, str):
        return None
    try:
        return Level(value.strip().lower())
    except ValueError:
        return None


@dataclass
class RiseAndFall:
    """Per subject: seen at orange/red, then seen again below orange."""

    peak: dict[str, Level] = field(default_factory=dict)      # subjects that reached orange/red -> highest level
    fell: dict[str, Level] = field(default_factory=dict)      # subjects that then came down -> level reached
    observations: int = 0

    def observe(self, subject: str, level: Level) -> None:
        self.observations += 1
        if level in HIGH:
            if subject not in self.peak or level.rank > self.peak[subject].rank:
                self.peak[subject] = level
        elif level in LOW and subject in self.peak and subject not in self.fell:
            self.fell[subject] = level

    @property
    def rose(self) -> bool:
        return bool(self.peak)

    @property
    def passed(self) -> bool:
        return bool(self.fell)

    def summary(self) -> str:
        if not self.peak:
            return f"never orange/red ({self.observations} level observations)"
        ups = ", ".join(f"{s}:{lv.value}" for s, lv in sorted(self.peak.items())[:6])
        if not self.fell:
            return f"rose ({ups}) but did not come back below orange"
        downs = ", ".join(f"{s}->{lv.value}" for s, lv in sorted(self.fell.items())[:6])
        return f"rose ({ups}) and fell ({downs})"


class DatabaseWitness:
    """Reads new ``level_changes`` rows (segments and city) since the last call,
    and counts the fitted tide models (the replay's 30-day backfill) and the
    official bulletins the replay posted through the API (its feed key)."""

    def __init__(self, clock: Any = None) -> None:
        self.clock = clock  # level_changes.at is the decision's wall time: judged on clock.at_wall(at)
        self.track = RiseAndFall()
        self.tide_models = 0
        self.bulletins = 0
        self._last_id = 0
        self.segment_changes: dict[str, list[tuple[Any, Level]]] = {}  # segment -> [(at, to_level)]
        self.segment_initial: dict[str, Level] = {}  # segment -> from_level of its first change
        # segment -> hazard -> [(sim time, level)] on change, from the ``decisions`` rows (the story's
        # record checks: the storm tide itself, not the segment's worst hazard)
        self.segment_hazards: dict[str, dict[str, list[tuple[Any, Level]]]] = {}
        self._last_decision_id = 0
        self.segment_reds: dict[str, list[tuple[Any, tuple[str, ...]]]] = {}  # segment -> [(at, hazards at red)]

    @property
    def passed(self) -> bool:
        return self.track.passed and self.tide_models > 0 and self.bulletins > 0

    def summary_lines(self) -> list[str]:
        return [f"database level_changes: {self.track.summary()}",
                f"tide models fitted: {self.tide_models}" + ("" if self.tide_models else " (none yet)"),
                f"official bulletins stored: {self.bulletins}" + ("" if self.bulletins else " (none reached the API)")]

    async def _count(self, conn: psycopg.AsyncConnection, table: str) -> int:
        try:
            cur = await conn.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
            row = await cur.fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
        return int(row[0]) if row else 0

    async def poll(self, conn: psycopg.AsyncConnection) -> None:
        try:
            cur = await conn.execute(
                "SELECT id, subject_kind, subject_id, to_level, at, from_level, reasons FROM level_changes "
                "WHERE id > %s AND subject_kind IN ('segment', 'city') ORDER BY id",
                (self._last_id,),
            )
            rows = await cur.fetchall()
        except psycopg.errors.UndefinedTable:
            return
        await self._poll_hazards(conn)
        self.tide_models = await self._count(conn, "tide_models")
        self.bulletins = await self._count(conn, "official_feeds")
        for row_id, kind, subject_id, to_level, at, from_level, reasons in rows:
            self._last_id = max(self._last_id, int(row_id))
            level = _level(to_level)
            if level is not None:
                self.track.observe(f"{kind}:{subject_id}", level)
                if kind == "segment":
                    if subject_id not in self.segment_changes and _level(from_level) is not None:
                        self.segment_initial[subject_id] = _level(from_level)  # type: ignore[assignment]
                    when = self.clock.at_wall(at.timestamp()) if self.clock is not None else at
                    self.segment_changes.setdefault(subject_id, []).append((when, level))
                    if level is Level.RED:
                        self.segment_reds.setdefault(subject_id, []).append((when, _red_hazards(reasons)))


    async def _poll_hazards(self, conn: psycopg.AsyncConnection) -> None:
        try:
            cur = await conn.execute(
                "SELECT id, subject_id, decided_at, h->>'hazard', h->>'level' FROM decisions d, "
                "jsonb_array_elements(CASE WHEN jsonb_typeof(d.decision->'hazards') = 'array' "
                "THEN d.decision->'hazards' ELSE '[]'::jsonb END) h "
                "WHERE d.id > %s AND d.subject_kind = 'segment' AND h->>'hazard' = ANY(%s) ORDER BY d.id",
                (self._last_decision_id, list(STORY_HAZARDS)))
            rows = await cur.fetchall()
        except psycopg.errors.UndefinedTable:
            return
        for row_id, subject_id, at, hazard, level_text in rows:
            self._last_decision_id = max(self._last_decision_id, int(row_id))
            level = _level(level_text)
            if level is None:
                continue
            when = self.clock.at_wall(at.timestamp()) if self.clock is not None else at
            seq = self.segment_hazards.setdefault(str(subject_id), {}).setdefault(str(hazard), [])
            if not seq or seq[-1][1] is not level:
                seq.append((when, level))


STORY_HAZARDS = ("storm_tide", "storm_tide_forecast")


def _red_hazards(reasons: object) -> tuple[str, ...]:
    """The hazards a level change's reasons give at red (``level_changes.reasons``, docs/state.md)."""
    if not isinstance(reasons, list):
        return ()
    return tuple(dict.fromkeys(str(r.get("hazard")) for r in reasons
                               if isinstance(r, dict) and _level(r.get("level")) is Level.RED))


class WebsocketWitness:
    """A ``/ws/live`` client that reconnects (with ``?since=``) until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.track = RiseAndFall()
        self.messages = 0
        self.connected_once = False
        self.last_seq: int | None = None
        self.last_error: str | None = None
        self.segment_changes: dict[str, list[tuple[Any, Level]]] = {}  # segment -> [(server_now, level)] on change

    def handle(self, message: dict[str, Any]) -> None:
        self.messages += 1
        if message.get("type") not in ("snapshot", "delta"):
            return
        seq = message.get("seq")
        if isinstance(seq, int):
            self.last_seq = seq
        body = message.get("body")
        if not isinstance(body, dict):
            return
        when = _state_time(body) or _server_now(message)
        segments = body.get("segments")
        if isinstance(segments, dict):
            for segment_id, entry in segments.items():
                level = _level(entry.get("level")) if isinstance(entry, dict) else None
                if level is not None:
                    self.track.observe(f"segment:{segment_id}", level)
                    seq = self.segment_changes.setdefault(str(segment_id), [])
                    if when is not None and (not seq or seq[-1][1] is not level):
                        seq.append((when, level))
        areas = body.get("areas")
        city = areas.get("city") if isinstance(areas, dict) else None
        if isinstance(city, dict):
            level = _level(city.get("level"))
            if level is not None:
                self.track.observe("city:city", level)

    async def run(self, stop: asyncio.Event) -> None:
        import websockets

        while not stop.is_set():
            url = self.url if self.last_seq is None else f"{self.url}?since={self.last_seq}"
            try:
                async with websockets.connect(url, open_timeout=5, max_size=16 * 1024 * 1024) as ws:
                    self.connected_once = True
                    self.last_error = None
                    while not stop.is_set():
                        recv = asyncio.ensure_future(ws.recv())
                        halt = asyncio.ensure_future(stop.wait())
                        done, _ = await asyncio.wait({recv, halt}, return_when=asyncio.FIRST_COMPLETED)
                        if halt in done:
                            recv.cancel()
                            return
                        halt.cancel()
                        raw = recv.result()
                        try:
                            message = json.loads(raw)
                        except (TypeError, ValueError):
                            continue
                        if isinstance(message, dict):
                            self.handle(message)
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, websockets.exceptions.ConnectionClosed) and exc.rcvd and exc.rcvd.code == 4400:
                    self.last_seq = None  # bad since: start over with a snapshot
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass


def _state_time(body: dict[str, Any]):
    """The state's data time (``at``, on the system clock): the time the levels were decided."""
    return _server_now({"server_now": body.get("at")})


def _server_now(message: dict[str, Any]):
    """The replay-clock time of a websocket message (``server_now``), None if absent or bad."""
    from datetime import datetime

    raw = message.get("server_now")
    if not isinstance(raw, str):
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    ok: bool
    lines: list[str]


def verdict(db: DatabaseWitness, ws: WebsocketWitness | None, missing: list[str], crashed: list[str]) -> CheckVerdict:
    lines = db.summary_lines()
    if ws is None:
        lines.append("websocket /ws/live: not checked (no API)")
    else:
        state = "connected" if ws.connected_once else f"never connected ({ws.last_error or 'no answer'})"
        lines.append(f"websocket /ws/live ({state}, {ws.messages} messages): {ws.track.summary()}")
    if missing:
        lines.append("missing components: " + ", ".join(missing))
    if crashed:
        lines.append("components that exited with an error: " + ", ".join(crashed))
    ok = db.passed and ws is not None and ws.track.passed and not missing
    return CheckVerdict(ok, lines)

"""The demo's progress line, read from the database every few seconds.

* simulated time: the newest reading timestamp in ``latest_readings``;
* readings/s: growth of the insert counter of ``readings`` and all its
  partitions / chunks (``pg_stat_user_tables.n_tup_ins``; duplicates skipped by
  ``ON CONFLICT`` are not counted), divided by the wall-clock interval;
* worst level: the most severe ``current_levels`` entry of a segment (with the
  segment id) and the city level, as the engine decided them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg

from haixun.riskcode.levels import Level, Status, parse_level

CST = timezone(timedelta(hours=8))

READINGS_INSERTED_SQL = """
WITH RECURSIVE tree(oid) AS (
    SELECT c.oid FROM pg_class c WHERE c.relname = 'readings' AND c.relnamespace = 'public'::regnamespace
    UNION ALL
    SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid
)
SELECT coalesce(sum(s.n_tup_ins), 0)::bigint FROM pg_stat_user_tables s JOIN tree t ON s.relid = t.oid
"""


@dataclass(frozen=True, slots=True)
class Progress:
    sim_time: datetime | None
    readings_per_s: float | None
    readings_total: int | None
    worst_segment: tuple[str, Level] | None   # (segment id, level)
    city_level: Level | None
    subjects: int
    worst_floor: Level = Level.NONE  # floor of an unknown worst segment ("unknown, at least <floor>")
    city_floor: Level = Level.NONE

    def line(self) -> str:
        sim = self.sim_time.astimezone(CST).strftime("%Y-%m-%d %H:%M CST") if self.sim_time else "no readings yet"
        rate = f"{self.readings_per_s:,.0f} readings/s" if self.readings_per_s is not None else "- readings/s"
        if self.worst_segment:
            worst = f"worst {Status(self.worst_segment[1], self.worst_floor).label} ({self.worst_segment[0]})"
        elif self.subjects:
            worst = "worst -"
        else:
            worst = "no risk codes yet"
        city = f", city {Status(self.city_level, self.city_floor).label}" if self.city_level else ""
        return f"sim {sim} | {rate} | {worst}{city}"


class ProgressSampler:
    """Keeps the previous counter sample to turn it into a rate."""

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None

    async def sample(self, conn: psycopg.AsyncConnection) -> Progress:
        sim_time = await _scalar(conn, "SELECT max(ts) FROM latest_readings")
        total = await _scalar(conn, READINGS_INSERTED_SQL)
        now = time.monotonic()
        rate: float | None = None
        if total is not None:
            if self._last is not None and now > self._last[0]:
                rate = max(0.0, (int(total) - self._last[1]) / (now - self._last[0]))
            self._last = (now, int(total))
        rows = await _rows(conn, "SELECT subject_kind, subject_id, level, coalesce(decision->>'floor', 'none')"
                                 " FROM current_levels WHERE subject_kind IN ('segment', 'city')")
        worst: tuple[str, Status] | None = None
        city: Status | None = None
        for kind, subject_id, level_text, floor_text in rows:
            try:
                status = Status(parse_level(level_text), parse_level(floor_text))
            except ValueError:
                continue
            if kind == "city":
                city = status
            elif worst is None or status.severity > worst[1].severity:  # "unknown, at least orange" > orange
                worst = (subject_id, status)
        return Progress(sim_time, rate, int(total) if total is not None else None,
                        (worst[0], worst[1].level) if worst else None, city.level if city else None, len(rows),
                        worst[1].floor if worst else Level.NONE, city.floor if city else Level.NONE)


async def _scalar(conn: psycopg.AsyncConnection, query: str) -> object | None:
    try:
        cur = await conn.execute(query)
        row = await cur.fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return row[0] if row else None


async def _rows(conn: psycopg.AsyncConnection, query: str) -> list[tuple[str, str, str]]:
    try:
        cur = await conn.execute(query)
        return list(await cur.fetchall())
    except psycopg.errors.UndefinedTable:
        return []

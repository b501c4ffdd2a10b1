"""A second demo run never mixes with the first: the earlier run's replay data is removed.

Each run records its replay window (backfill start .. end, simulated time) and
the last ``state_log`` sequence number before it in ``<state_dir>/demo-replay.json``.
The next run on the same database (without ``--fresh``) deletes, before it
starts, every row of that window and after it: readings (all partitions /
chunks), latest readings, camera events, gateway status, level changes,
decisions, current levels, the state log written since, official bulletins
issued in it, CAP alerts sent in it, and tide models fitted on it. Without a
record (a run of an older version) only future-dated rows (later than now +
5 min: no real gauge reports the future) are treated as replay data.
Configuration (geography, thresholds, API keys and users, audit log) stays.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

MARKER = "demo-replay.json"

# (table, time column) deleted from the window start on
TIMED = (
    ("readings", "ts"), ("latest_readings", "ts"), ("camera_events", "ts"), ("gateway_status", "ts"),
    ("gateway_status_history", "ts"), ("level_changes", "at"), ("decisions", "decided_at"),
    ("official_feeds", "issued_at"), ("cap_alerts", "sent"), ("tide_models", "data_end"),
)


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    database_url: str
    window_start: datetime
    window_end: datetime
    state_seq: int

    def to_json(self) -> str:
        return json.dumps({"database_url": self.database_url, "window_start": self.window_start.isoformat(),
                           "window_end": self.window_end.isoformat(), "state_seq": self.state_seq})

    @classmethod
    def from_json(cls, text: str) -> ReplayRecord:
        d = json.loads(text)
        return cls(str(d["database_url"]), datetime.fromisoformat(d["window_start"]),
                   datetime.fromisoformat(d["window_end"]), int(d["state_seq"]))


def _max_seq(conn: psycopg.Connection) -> int:
    try:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM state_log").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def record_run(state_dir: Path, database_url: str, window_start: datetime, window_end: datetime) -> ReplayRecord:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rec = ReplayRecord(database_url, window_start, window_end, _max_seq(conn))
    path = state_dir / MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rec.to_json())
    return rec


def previous_run(state_dir: Path, database_url: str) -> ReplayRecord | None:
    path = state_dir / MARKER
    try:
        rec = ReplayRecord.from_json(path.read_text())
    except (OSError, ValueError, KeyError):
        return None
    return rec if rec.database_url == database_url else None


def remove_previous_run(state_dir: Path, database_url: str, now: datetime | None = None) -> dict[str, int]:
    """Delete the earlier run's replay data (see the module docstring); rows deleted per table."""
    rec = previous_run(state_dir, database_url)
    since = rec.window_start if rec else (now or datetime.now(UTC)) + timedelta(minutes=5)
    removed: dict[str, int] = {}
    with psycopg.connect(database_url) as conn:
        for table, col in TIMED:
            try:
                with conn.transaction():
                    cur = conn.execute(f"DELETE FROM {table} WHERE {col} >= %s", (since,))  # noqa: S608 - fixed names
                    removed[table] = cur.rowcount
            except psycopg.errors.UndefinedTable:
                continue
        if rec is not None:
            for sql, name in (("DELETE FROM state_log WHERE seq > %s", "state_log"),):
                try:
                    with conn.transaction():
                        removed[name] = conn.execute(sql, (rec.state_seq,)).rowcount
                except psycopg.errors.UndefinedTable:
                    pass
            try:
                with conn.transaction():
                    removed["current_levels"] = conn.execute("DELETE FROM current_levels").rowcount
            except psycopg.errors.UndefinedTable:
                pass
        conn.commit()
    return {k: v for k, v in removed.items() if v}

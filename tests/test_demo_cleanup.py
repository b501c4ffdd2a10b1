"""A second demo run never mixes with the first (issue 12): the earlier run's replay data is removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from haixun.demo.cleanup import previous_run, record_run, remove_previous_run

NOW = datetime(2030, 3, 1, tzinfo=UTC)


def _reading(conn: psycopg.Connection, station: str, ts: datetime) -> None:
    conn.execute("INSERT INTO readings (station_id, quantity, ts, value, qc, received_at) VALUES (%s, 'tide_level', %s, 1.0, 1, %s)",
                 (station, ts, ts))


def _count(conn: psycopg.Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def test_the_earlier_runs_window_is_removed_and_nothing_else(db_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first_start = NOW
    with psycopg.connect(db_url, autocommit=True) as conn:
        _reading(conn, "ZP-T01", NOW - timedelta(days=60))  # older than the run: real history stays
        rec = record_run(state, db_url, NOW - timedelta(days=30), NOW + timedelta(hours=70))
        assert previous_run(state, db_url) == rec and previous_run(state, "postgresql://other/db") is None
        for h in range(-24 * 30, 70, 6):  # the first run: backfill and the future-dated storm
            _reading(conn, "ZP-T01", first_start + timedelta(hours=h))
        conn.execute("INSERT INTO level_changes (subject_kind, subject_id, at, from_level, to_level) "
                     "VALUES ('segment', 'PH05', %s, 'none', 'red')", (NOW + timedelta(hours=30),))
        conn.execute("INSERT INTO official_feeds (source, issuer, kind, level, area, valid_from, valid_to, issued_at, "
                     "received_by) VALUES ('zj_marine', 'sim', 'surge_forecast', 'red', %s, %s, %s, %s, 'test')",
                     (Jsonb({"segments": ["PH05"]}), NOW + timedelta(hours=1), NOW + timedelta(hours=25),
                      NOW + timedelta(hours=1)))
        conn.execute("INSERT INTO state_log (kind, body) VALUES ('snapshot', '{}')")
        before = _count(conn, "SELECT count(*) FROM readings")
    removed = remove_previous_run(state, db_url)
    with psycopg.connect(db_url) as conn:
        assert _count(conn, "SELECT count(*) FROM readings") == 1, "only the older history is left"
        assert _count(conn, "SELECT count(*) FROM level_changes") == 0
        assert _count(conn, "SELECT count(*) FROM official_feeds") == 0, "the still-valid red bulletin is gone"
        assert _count(conn, "SELECT count(*) FROM state_log") == 0
    assert removed["readings"] == before - 1 and removed["official_feeds"] == 1


def test_without_a_record_only_future_dated_rows_go(db_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        _reading(conn, "ZP-T01", now - timedelta(hours=1))
        _reading(conn, "ZP-T01", now + timedelta(hours=10))  # an old version's replay ran ahead of the wall clock
    removed = remove_previous_run(tmp_path / "nothing-recorded", db_url)
    assert removed == {"readings": 1}
    with psycopg.connect(db_url) as conn:
        assert _count(conn, "SELECT count(*) FROM readings") == 1

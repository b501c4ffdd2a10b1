"""Migrations in both storage modes, the fallbacks (not preloaded, Apache licence), an all-or-nothing
first migrate, and retention on data time.

``db_url`` tests run in whichever mode this session's server gives (scripts/test.sh runs them on
plain PostgreSQL and again on TimescaleDB). The ``timescale_pg`` / ``timescale_variant`` tests
start private servers from shared/timescaledb (skipped, with the reason, where it is absent).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from haixun.store import migrate as migrate_mod
from haixun.store.migrate import Migration, migrate, probe_timescale, readings_mode
from tests.support.db import PG_SERVER, drop_database_on, fill_days, new_database, reading_days


@pytest.fixture
def fresh_db(request: pytest.FixtureRequest):
    """``fresh_db(server)``: an empty database, dropped after the test."""
    made: list[str] = []

    def make(server: str = PG_SERVER) -> str:
        made.append(new_database(server))
        return made[-1]

    yield make
    for url in made:
        drop_database_on(url)


def _mode_row(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('store_info')").fetchone()[0] is None:
            return None
        row = conn.execute("SELECT value FROM store_info WHERE key = 'readings_mode'").fetchone()
        return row[0] if row else None


def test_migrate_is_idempotent_and_records_mode(db_url, template_mode):
    assert migrate(db_url) == template_mode
    assert migrate(db_url) == template_mode
    other = "partitioned" if template_mode == "timescale" else "timescale"
    with psycopg.connect(db_url) as conn:
        assert readings_mode(conn) == template_mode
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        assert "001_core.sql" in names and f"002_readings_{template_mode}.sql" in names
        assert f"002_readings_{other}.sql" not in names
        assert f"071_rollups_{template_mode}.sql" in names
    with pytest.raises(RuntimeError, match="never changes"):
        migrate(db_url, mode=other)


@pytest.mark.mode("partitioned")
def test_reading_outside_partitions_is_kept_and_moved(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO readings VALUES ('S','tide_level','2021-07-26T01:00Z',4.2,1,now())")
        assert conn.execute("SELECT tableoid::regclass::text FROM readings").fetchone()[0] == "readings_default"
        conn.execute("SELECT haixun_ensure_readings_partition('2021-07-26')")
        assert conn.execute("SELECT tableoid::regclass::text FROM readings").fetchone()[0] == "readings_20210726"
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 1
        # the move does not count the reading twice in the rollups
        assert conn.execute("SELECT n FROM readings_1m").fetchall() == [(1,)]
        assert conn.execute("SELECT n FROM readings_1h").fetchall() == [(1,)]


def test_timescale_mode_creates_hypertable_aggregates_and_jobs(timescale_pg, fresh_db):
    url = fresh_db(timescale_pg)
    assert probe_timescale(url).usable
    assert migrate(url) == "timescale"
    assert migrate(url) == "timescale"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM timescaledb_information.hypertables"
                            " WHERE hypertable_name = 'readings' AND compression_enabled").fetchone()[0] == 1
        caggs = conn.execute("SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
                             " ORDER BY view_name").fetchall()
        assert caggs == [("readings_1h", False), ("readings_1m", False)]  # real-time aggregation on
        jobs = sorted(r[0] for r in conn.execute("SELECT proc_name FROM timescaledb_information.jobs"
                                                 " WHERE hypertable_name IS DISTINCT FROM NULL OR proc_name LIKE 'haixun%'"))
        assert jobs == ["haixun_retention_job", "policy_compression", "policy_refresh_continuous_aggregate",
                        "policy_refresh_continuous_aggregate"]
        assert conn.execute("SELECT count(*) FROM timescaledb_information.jobs"
                            " WHERE proc_name = 'policy_retention'").fetchone()[0] == 0  # no wall-clock retention


def test_installed_but_not_preloaded_falls_back_to_partitioned(timescale_variant, fresh_db, caplog):
    url = fresh_db(timescale_variant("nopreload"))
    with caplog.at_level(logging.INFO, logger="haixun.store.migrate"):
        assert migrate(url) == "partitioned"
    assert any("not preloaded" in r.message and r.levelno == logging.WARNING for r in caplog.records)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()[0] == 0
        assert conn.execute("SELECT relkind FROM pg_class WHERE relname = 'readings'").fetchone()[0] == "p"
    with pytest.raises(RuntimeError, match="not preloaded"):
        migrate(fresh_db(timescale_variant("nopreload")), mode="timescale")


def test_apache_licence_falls_back_and_a_failed_first_migrate_commits_nothing(timescale_variant, fresh_db, caplog):
    server = timescale_variant("apache")
    url = fresh_db(server)
    probe = probe_timescale(url)
    assert not probe.usable and "'apache'" in probe.reason
    with pytest.raises(RuntimeError, match="apache"):
        migrate(url, mode="timescale")
    assert _mode_row(url) is None
    with caplog.at_level(logging.INFO, logger="haixun.store.migrate"):
        assert migrate(url) == "partitioned"
    assert any("license is 'apache'" in r.message for r in caplog.records)
    with psycopg.connect(url) as conn:  # the probe left nothing behind
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()[0] == 0
        assert conn.execute("SELECT to_regclass('haixun_probe')").fetchone()[0] is None


def test_failed_first_migrate_leaves_no_mode_and_the_rerun_works(fresh_db, monkeypatch):
    url = fresh_db()
    real = migrate_mod.load_migrations
    monkeypatch.setattr(migrate_mod, "load_migrations", lambda: [*real(), Migration("099_boom.sql", "SELECT 1/0")])
    with pytest.raises(psycopg.errors.DivisionByZero):
        migrate(url)
    assert _mode_row(url) is None  # readers say "not migrated", not a mode without its tables
    with psycopg.connect(url) as conn, pytest.raises(RuntimeError, match="not migrated"):
        readings_mode(conn)
    monkeypatch.setattr(migrate_mod, "load_migrations", real)
    mode = migrate(url)
    with psycopg.connect(url) as conn:
        assert readings_mode(conn) == mode
        names = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        assert {m.name for m in real() if m.applies_to(mode)} <= names


def test_database_stuck_by_an_older_version_is_recovered(fresh_db):
    url = fresh_db()
    with psycopg.connect(url, autocommit=True) as conn:  # what the old code left after a failed 002
        conn.execute("CREATE TABLE store_info (key text PRIMARY KEY, value text NOT NULL)")
        conn.execute("INSERT INTO store_info VALUES ('readings_mode', 'timescale')")
    mode = migrate(url)
    with psycopg.connect(url) as conn:
        assert readings_mode(conn) == mode
        assert conn.execute("SELECT to_regclass('readings')").fetchone()[0] is not None


def test_revised_timescale_migration_is_accepted_and_old_retention_policy_removed(timescale_pg, fresh_db, caplog):
    url = fresh_db(timescale_pg)
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:  # a database migrated by the previous version
        conn.execute("SELECT add_retention_policy('readings', interval '400 days')")
        conn.execute("UPDATE schema_migrations SET checksum = '28f889de15e5404d'"
                     " WHERE name = '002_readings_timescale.sql'")
        conn.execute("DELETE FROM schema_migrations WHERE name LIKE '070_%'")
    with caplog.at_level(logging.INFO, logger="haixun.store.migrate"):
        migrate(url)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM timescaledb_information.jobs"
                            " WHERE proc_name = 'policy_retention'").fetchone()[0] == 0
        current = {m.name: m.checksum for m in migrate_mod.load_migrations()}
        assert conn.execute("SELECT checksum FROM schema_migrations WHERE name = '002_readings_timescale.sql'"
                            ).fetchone()[0] == current["002_readings_timescale.sql"]


def test_retention_counts_on_data_time_and_is_configurable(db_url, template_mode):
    first = datetime(2021, 7, 20, tzinfo=UTC)  # an In-fa replay: years old by the wall clock
    with psycopg.connect(db_url, autocommit=True) as conn:
        fill_days(conn, first, 8)
        kept = reading_days(conn)
        assert len(kept) == 8
        assert conn.execute("SELECT value FROM store_info WHERE key = 'retention_days'").fetchone()[0] == "400"
        assert conn.execute("CALL haixun_apply_retention()").fetchone()[0] == 0
        if template_mode == "timescale":  # the daily job, as the scheduler would run it
            job = conn.execute("SELECT job_id FROM timescaledb_information.jobs"
                               " WHERE proc_name = 'haixun_retention_job'").fetchone()[0]
            conn.execute("SELECT alter_job(%s, scheduled => false)", (job,))  # not the scheduler at the same time
            conn.execute("CALL run_job(%s)", (job,))
        assert reading_days(conn) == kept
    migrate(db_url, retention_days=3)  # keep 3 days behind the newest reading (07-27 23:00)
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("CALL haixun_apply_retention()").fetchone()[0] == 4  # 07-20 .. 07-23 end <= 07-24 23:00
        assert reading_days(conn) == kept[4:]
        # their rollups go too, in both modes
        assert conn.execute("SELECT min(bucket) FROM readings_1h").fetchone()[0] == first + timedelta(days=4)
        assert conn.execute("SELECT min(bucket) FROM readings_1m").fetchone()[0] == first + timedelta(days=4)
    migrate(db_url, retention_days=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE latest_readings SET ts = ts + interval '30 days'")
        assert conn.execute("CALL haixun_apply_retention()").fetchone()[0] == 0
        assert reading_days(conn) == kept[4:]
    with pytest.raises(ValueError):
        migrate(db_url, retention_days=-1)


def test_migrate_and_retention_commands(settings, capsys):
    from haixun.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["migrate", "--retention-days", "2"])
    assert args.func(args, settings) == 0
    assert "(readings: " in capsys.readouterr().out
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        assert conn.execute("SELECT value FROM store_info WHERE key = 'retention_days'").fetchone()[0] == "2"
        fill_days(conn, datetime(2021, 7, 20, tzinfo=UTC), 5)
    args = parser.parse_args(["retention"])
    assert args.func(args, settings) == 0
    assert "2 day(s) of readings dropped" in capsys.readouterr().out  # 07-20, 07-21 end <= 07-22 00:00


def test_sealed_template_refuses_the_scheduler_and_copies(timescale_pg, fresh_db):
    """tests/support/db.py seal_template: TimescaleDB's scheduler reconnects to a database with the extension; a template
    that still accepts connections races CREATE DATABASE .. TEMPLATE ('being accessed by other users')."""
    from psycopg import sql

    from tests.support.db import seal_template

    url = fresh_db(timescale_pg)
    assert migrate(url) == "timescale"
    name = url.rsplit("/", 1)[1]
    seal_template(name, timescale_pg)
    with pytest.raises(psycopg.OperationalError, match="not currently accepting connections"):
        psycopg.connect(url).close()
    copies = [f"{name}_c{i}" for i in range(10)]
    try:
        with psycopg.connect(f"{timescale_pg}/postgres", autocommit=True) as conn:
            for c in copies:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(c), sql.Identifier(name)))
        with psycopg.connect(f"{timescale_pg}/{copies[-1]}") as conn:  # a copy accepts connections
            assert readings_mode(conn) == "timescale"
    finally:
        for c in copies:
            drop_database_on(f"{timescale_pg}/{c}")

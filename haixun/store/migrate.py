"""Schema migrations: plain numbered SQL files in ``store/migrations``.

Files run in name order, each once (recorded in ``schema_migrations`` with a
checksum), under an advisory lock so that two processes starting together do
not race. Every file is also idempotent.

A file whose name ends in ``_partitioned.sql`` or ``_timescale.sql`` runs only
in that storage mode. The mode is chosen on the first migrate of a database and
recorded in ``store_info.readings_mode``; it never changes afterwards.

Choosing the mode (``probe_timescale``): TimescaleDB is used only when it is
installed (``pg_available_extensions``), preloaded (``shared_preload_libraries``;
without it ``CREATE EXTENSION`` ends the connection with a FATAL error), and the
Timescale License build is active (``timescaledb.license = 'timescale'``: the
Apache-only build has no compression, retention jobs or continuous aggregates).
Then a rolled-back trial of exactly what the timescale migrations need runs on
a separate, throwaway connection, so a failure can never kill the migrate
connection. Anything else: partitioned mode, with one log line saying why.

Each file runs in its own transaction (one transaction for all of them would
hold some 400 locks at once). On the first migrate of a database the mode row
is written only after every file of the mode has been applied, so a failed
first migrate leaves no committed mode: readers keep saying "not migrated",
and the next run resumes in the mode whose files are already applied (or
chooses again if none is). A database left by an older version with a mode
recorded but no readings table is detected and its mode chosen again.

Retention (``store_info.retention_days``, 0 = off) is counted on data time; see
``070_retention_*.sql`` and docs/operations.md.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

log = logging.getLogger(__name__)

MIGRATE_LOCK = 0x6861_6978  # "haix"
MODES = ("timescale", "partitioned")
DEFAULT_RETENTION_DAYS = 400

# Files edited after release, with the checksums of their earlier texts. A
# database that applied an earlier text gets the checksum updated (the newer
# migrations bring it to the same state); any other change is warned about.
REVISED: dict[str, frozenset[str]] = {
    # 002_readings_timescale.sql lost its wall-clock retention policy (replaced
    # by 070_retention_timescale.sql, counted on data time).
    "002_readings_timescale.sql": frozenset({"28f889de15e5404d"}),
}

# What the timescale migrations need, tried in a transaction that is rolled back.
_PROBE_SQL = """
CREATE TABLE haixun_probe (ts timestamptz NOT NULL, v double precision NOT NULL);
SELECT create_hypertable('haixun_probe', 'ts', chunk_time_interval => interval '1 day');
ALTER TABLE haixun_probe SET (timescaledb.compress, timescaledb.compress_orderby = 'ts DESC');
SELECT add_compression_policy('haixun_probe', interval '7 days');
CREATE MATERIALIZED VIEW haixun_probe_1m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(interval '1 minute', ts) AS bucket, last(v, ts) FROM haixun_probe GROUP BY bucket WITH NO DATA;
SELECT add_continuous_aggregate_policy('haixun_probe_1m', start_offset => NULL, end_offset => interval '1 minute',
                                       schedule_interval => interval '1 minute');
"""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def applies_to(self, mode: str) -> bool:
        stem = self.name.removesuffix(".sql")
        for m in MODES:
            if stem.endswith("_" + m):
                return m == mode
        return True


@dataclass(frozen=True, slots=True)
class Probe:
    """Can this database run the timescale migrations? ``reason`` says why not."""

    usable: bool
    reason: str
    installed: bool = True


def load_migrations() -> list[Migration]:
    folder = resources.files("haixun.store") / "migrations"
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [Migration(p.name, p.read_text(encoding="utf-8")) for p in files]


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if it does not exist. True if created."""
    params = conninfo_to_dict(url)
    dbname = params.get("dbname") or "postgres"
    admin = make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(dbname))))
        except psycopg.errors.DuplicateDatabase:
            return False
        log.info("created database %s", dbname)
        return True


def _preloaded(libs: str) -> bool:
    names = [p.strip().strip('"').rsplit("/", 1)[-1] for p in libs.split(",")]
    return any(n == "timescaledb" or n.startswith("timescaledb-") or n.startswith("timescaledb.") for n in names)


def probe_timescale(url: str) -> Probe:
    """Checks preload and licence, then tries the timescale features on a throwaway connection (rolled back)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
        if row is None:
            return Probe(False, "the timescaledb extension is not installed on this server", installed=False)
        version = row[0]
        libs = _scalar(conn.execute("SELECT current_setting('shared_preload_libraries')"))
        if not _preloaded(libs):
            return Probe(False, f"timescaledb {version} is installed but not preloaded "
                                f"(shared_preload_libraries = {libs!r}; add 'timescaledb' and restart the server)")
    try:
        with psycopg.connect(url) as trial:  # not autocommit: everything below is rolled back
            trial.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            licence = _scalar(trial.execute("SELECT current_setting('timescaledb.license', true)"))
            if licence != "timescale":
                trial.rollback()
                return Probe(False, f"timescaledb.license is {licence!r}: compression, retention jobs and continuous "
                                    "aggregates need the Timescale License build (timescaledb.license = 'timescale')")
            trial.execute(_PROBE_SQL)
            trial.rollback()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Probe(False, f"timescaledb {version} cannot be used here ({first})")
    return Probe(True, f"timescaledb {version}, preloaded, Timescale License")


def _recorded_mode(conn: psycopg.Connection) -> str | None:
    if _scalar(conn.execute("SELECT to_regclass('store_info')")) is None:
        return None
    row = conn.execute("SELECT value FROM store_info WHERE key = 'readings_mode'").fetchone()
    if row is None:
        return None
    mode: str = row[0]
    applied = _scalar(conn.execute("SELECT to_regclass('schema_migrations')")) is not None and bool(
        conn.execute("SELECT 1 FROM schema_migrations WHERE name = %s", (f"002_readings_{mode}.sql",)).fetchone())
    if not applied and _scalar(conn.execute("SELECT to_regclass('readings')")) is None:
        # An older version committed the mode before its readings migration ran and then failed.
        log.warning("store_info says readings_mode=%s but its readings migration never ran "
                    "(an earlier migrate failed): choosing the mode again", mode)
        conn.execute("DELETE FROM store_info WHERE key = 'readings_mode'")
        return None
    return mode


def choose_mode(url: str, requested: str = "auto") -> str:
    """``auto``: timescale when ``probe_timescale`` says so, else partitioned (logged)."""
    if requested == "partitioned":
        log.info("readings mode: partitioned (requested)")
        return "partitioned"
    probe = probe_timescale(url)
    if probe.usable:
        log.info("readings mode: timescale (%s)", probe.reason)
        return "timescale"
    if requested == "timescale":
        raise RuntimeError(f"readings mode timescale was requested but {probe.reason}")
    (log.warning if probe.installed else log.info)("readings mode: partitioned, because %s", probe.reason)
    return "partitioned"


def _resumed_mode(done: dict[str, str], migrations: list[Migration], requested: str) -> str | None:
    """The mode of a first migrate that failed part-way: its mode-specific files are already applied."""
    modes = {m for m in MODES for name in done if name.endswith(f"_{m}.sql")}
    if not modes:
        return None
    if len(modes) > 1:
        raise RuntimeError(f"schema_migrations holds files of both modes ({sorted(done)}): repair by hand")
    mode = modes.pop()
    if requested not in ("auto", mode):
        raise RuntimeError(f"an earlier migrate of this database began in {mode} mode (asked for {requested})")
    log.warning("resuming an unfinished first migrate in %s mode", mode)
    return mode


def _apply(conn: psycopg.Connection, m: Migration) -> None:
    log.info("applying %s", m.name)
    conn.execute(m.sql)
    conn.execute("INSERT INTO schema_migrations(name, checksum) VALUES (%s, %s)", (m.name, m.checksum))


_BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS store_info (key text PRIMARY KEY, value text NOT NULL)",
)


def migrate(url: str, *, create_database: bool = True, partition_days_back: int = 7, partition_days_ahead: int = 7,
            mode: str = "auto", retention_days: int | None = None) -> str:
    """Apply pending migrations; return the storage mode.

    ``mode``: ``auto`` (default), ``timescale`` (fail if it cannot be used) or
    ``partitioned``; it only matters on the first migrate of a database (a
    different recorded mode is an error). ``retention_days``: keep this many
    days of readings behind the newest reading (0 = keep everything); None
    keeps the database's setting (400 days on a new database).
    """
    if mode not in ("auto", *MODES):
        raise ValueError(f"mode must be auto, timescale or partitioned, got {mode!r}")
    if retention_days is not None and retention_days < 0:
        raise ValueError("retention_days must be >= 0 (0 = off)")
    if create_database:
        ensure_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        try:
            chosen = _recorded_mode(conn)
            if chosen is not None and mode != "auto" and mode != chosen:
                raise RuntimeError(f"this database already stores readings in {chosen} mode (asked for {mode}); "
                                   "the mode of a database never changes")
            migrations = load_migrations()
            first = chosen is None
            for stmt in _BOOTSTRAP:
                conn.execute(stmt)
            done: dict[str, str] = dict(conn.execute("SELECT name, checksum FROM schema_migrations").fetchall())
            if first:
                chosen = _resumed_mode(done, migrations, mode) or choose_mode(url, mode)
                if chosen == "timescale":
                    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                conn.execute("INSERT INTO store_info(key, value) VALUES ('retention_days', %s)"
                             " ON CONFLICT (key) DO NOTHING", (str(DEFAULT_RETENTION_DAYS),))
            assert chosen is not None  # set above on the first run, recorded before on later ones
            for m in migrations:
                if not m.applies_to(chosen):
                    continue
                if m.name in done:
                    if done[m.name] == m.checksum:
                        continue
                    if done[m.name] in REVISED.get(m.name, ()):
                        log.info("migration %s was revised since it was applied (%s -> %s); newer migrations "
                                 "cover the change", m.name, done[m.name], m.checksum)
                        conn.execute("UPDATE schema_migrations SET checksum = %s WHERE name = %s",
                                     (m.checksum, m.name))
                    else:
                        log.warning("migration %s changed since it was applied (checksum %s -> %s); not re-run",
                                    m.name, done[m.name], m.checksum)
                    continue
                with conn.transaction():
                    _apply(conn, m)
            if first:  # only once every migration of the mode is in: a failed first migrate records no mode
                conn.execute("INSERT INTO store_info(key, value) VALUES ('readings_mode', %s)", (chosen,))
            if retention_days is not None:
                conn.execute("INSERT INTO store_info(key, value) VALUES ('retention_days', %s)"
                             " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (str(retention_days),))
            if chosen == "partitioned":
                today = date.today()
                for d in range(-partition_days_back, partition_days_ahead + 1):
                    conn.execute("SELECT haixun_ensure_readings_partition(%s)", (today + timedelta(days=d),))
            return chosen
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))


def _scalar(cur: psycopg.Cursor[Any]) -> Any:
    """The first column of a query's one row (the queries here always return a row)."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("query returned no row")
    return row[0]


def readings_mode(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT value FROM store_info WHERE key = 'readings_mode'").fetchone()
    if not row:
        raise RuntimeError("database is not migrated: run `haixun migrate`")
    return str(row[0])


def apply_retention(url: str) -> int:
    """Run the retention rule now (``CALL haixun_apply_retention()``); returns the number of days dropped."""
    with psycopg.connect(url, autocommit=True) as conn:
        return int(_scalar(conn.execute("CALL haixun_apply_retention()")))

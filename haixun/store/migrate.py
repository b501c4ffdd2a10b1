"""Schema migrations: plain numbered SQL files in ``store/migrations``.

Files run in name order, each once (recorded in ``schema_migrations`` with a
checksum), each in its own transaction, under an advisory lock so that two
processes starting together do not race. Every file is also idempotent.

A file whose name ends in ``_partitioned.sql`` or ``_timescale.sql`` runs only
in that storage mode. The mode is detected on first migrate (is the
``timescaledb`` extension available and loadable?) and recorded in
``store_info.readings_mode``; it never changes afterwards for a database.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

log = logging.getLogger(__name__)

MIGRATE_LOCK = 0x6861_6978  # "haix"
MODES = ("timescale", "partitioned")


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


def load_migrations() -> list[Migration]:
    folder = resources.files("haixun.store") / "migrations"
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
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
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        except psycopg.errors.DuplicateDatabase:
            return False
        log.info("created database %s", dbname)
        return True


def _detect_mode(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT value FROM store_info WHERE key = 'readings_mode'").fetchone()
    if row:
        return row[0]
    available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    mode = "partitioned"
    if available:
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            mode = "timescale"
        except psycopg.Error as exc:  # e.g. not in shared_preload_libraries
            log.warning("timescaledb is installed but cannot be loaded (%s); using partitioned tables", exc)
    conn.execute("INSERT INTO store_info(key, value) VALUES ('readings_mode', %s) ON CONFLICT DO NOTHING", (mode,))
    return mode


def migrate(url: str, *, create_database: bool = True, partition_days_back: int = 7, partition_days_ahead: int = 7) -> str:
    """Apply pending migrations; return the storage mode."""
    if create_database:
        ensure_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS store_info (key text PRIMARY KEY, value text NOT NULL)")
            mode = _detect_mode(conn)
            done = dict(conn.execute("SELECT name, checksum FROM schema_migrations").fetchall())
            for m in load_migrations():
                if not m.applies_to(mode):
                    continue
                if m.name in done:
                    if done[m.name] != m.checksum:
                        log.warning("migration %s changed since it was applied (checksum %s -> %s); not re-run",
                                    m.name, done[m.name], m.checksum)
                    continue
                log.info("applying %s", m.name)
                with conn.transaction():
                    conn.execute(m.sql)
                    conn.execute("INSERT INTO schema_migrations(name, checksum) VALUES (%s, %s)", (m.name, m.checksum))
            if mode == "partitioned":
                today = date.today()
                for d in range(-partition_days_back, partition_days_ahead + 1):
                    conn.execute("SELECT haixun_ensure_readings_partition(%s)", (today + timedelta(days=d),))
            return mode
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))


def readings_mode(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT value FROM store_info WHERE key = 'readings_mode'").fetchone()
    if not row:
        raise RuntimeError("database is not migrated: run `haixun migrate`")
    return row[0]

"""The test PostgreSQL server: databases, rows, counts.

The server comes from HAIXUN_TEST_PG (a server URL without database, default
postgresql://postgres@127.0.0.1:5432). TimescaleDB servers for the storage-mode
tests come from ``shared/timescaledb/start.sh`` (see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support.net import free_port
from tests.support.wait import DEFAULT_TIMEOUT_S, eventually

PG_SERVER = os.environ.get("HAIXUN_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
EXPECT_MODE = os.environ.get("HAIXUN_TEST_MODE", "")
REPO = Path(__file__).resolve().parents[2]


def admin(server: str = PG_SERVER) -> psycopg.Connection:
    return psycopg.connect(f"{server}/postgres", autocommit=True)


def drop_database(name: str, server: str = PG_SERVER) -> None:
    with admin(server) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def seal_template(name: str, server: str = PG_SERVER) -> None:
    """No connection may remain on (or reach) a template while it is copied.

    TimescaleDB's scheduler reconnects to every database with the extension:
    terminating its sessions alone races with that (``source database .. is
    being accessed by other users``), so new connections are refused first."""
    with admin(server) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


def copy_database(template: str, server: str = PG_SERVER) -> str:
    """A fresh copy of ``template`` (``CREATE DATABASE .. TEMPLATE``); its URL."""
    name = f"{template}_{uuid.uuid4().hex[:6]}"
    with admin(server) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return f"{server}/{name}"


def new_database(server: str) -> str:
    """An empty database on ``server`` (dropped by the caller with ``drop_database_on``)."""
    name = f"haixun_x_{uuid.uuid4().hex[:10]}"
    with admin(server) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{server}/{name}"


def drop_database_on(url: str) -> None:
    server, name = url.rsplit("/", 1)
    drop_database(name, server)


def timescale_dir() -> Path | None:
    """The TimescaleDB build for tests (its start.sh), or None."""
    env = os.environ.get("HAIXUN_TIMESCALE_DIR")
    candidates = [Path(env)] if env else [p / "shared" / "timescaledb" for p in list(REPO.parents)[:3]]
    for c in candidates:
        if (c / "start.sh").is_file():
            return c
    return None


NO_TIMESCALE = ("TimescaleDB not available: no shared/timescaledb/start.sh next to the checkout "
                "(or HAIXUN_TIMESCALE_DIR) and HAIXUN_TEST_TIMESCALE_PG is not set")


class PrivateServers:
    """Servers started with shared/timescaledb/start.sh under one temporary folder."""

    def __init__(self, build: Path) -> None:
        self.build = build
        self.dir = Path(tempfile.mkdtemp(prefix="haixun-tsdb-"))
        self.urls: dict[str, str] = {}

    def start(self, variant: str) -> str:
        if variant in self.urls:
            return self.urls[variant]
        port = free_port()
        out = subprocess.run(["bash", str(self.build / "start.sh"), str(port), str(self.dir)],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"start.sh failed: {out.stderr[-2000:]}")
        url = out.stdout.strip().splitlines()[-1]
        extra = {"timescale": "", "nopreload": "shared_preload_libraries = ''",
                 "apache": "timescaledb.license = 'apache'"}[variant]
        if extra:
            data = self.dir / f"data-{port}"
            with open(data / "postgresql.conf", "a", encoding="utf-8") as f:
                f.write(f"\n{extra}\n")
            pg_ctl = self.dir / "pgroot/usr/lib/postgresql/15/bin/pg_ctl"
            run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            subprocess.run([*run_as, str(pg_ctl), "-D", str(data), "-l", str(data / "server.log"), "-w", "-m", "fast",
                            "restart"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        self.urls[variant] = url
        return url

    def stop(self) -> None:
        subprocess.run(["bash", str(self.build / "stop.sh"), str(self.dir)], capture_output=True, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- rows and counts --------------------------------------------------------------------------------

def scalar(db_url: str, query: str, params: tuple = ()) -> object:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


async def wait_for_count(db_url: str, query: str, expected: int, timeout: float = DEFAULT_TIMEOUT_S) -> int:
    """Wait (``eventually``) until the count ``query`` returns reaches ``expected``; return that count
    (more than ``expected`` if more arrived: the caller's equality assertion then names both)."""
    async def reached() -> tuple[int] | None:
        n = int(await asyncio.to_thread(scalar, db_url, query) or 0)
        return (n,) if n >= expected else None  # a tuple: a count of 0 is an answer too
    (n,) = await eventually(reached, timeout=timeout, step=0.1, what=f"{query!r} >= {expected}")
    return int(n)


def add_stations(db_url: str, ids: Iterable[str]) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO stations (id, kind, name, lat, lon) VALUES (%s, 'multi', %s, 30.6, 121.1)"
                            " ON CONFLICT DO NOTHING", [(i, i) for i in ids])


def add_cameras(db_url: str, ids: Iterable[str]) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO cameras (id, kind, name, lat, lon) VALUES (%s, 'thermal_ptz', %s, 30.6, 121.1)"
                            " ON CONFLICT DO NOTHING", [(i, i) for i in ids])


def fill_days(conn: psycopg.Connection, first: datetime, days: int) -> None:
    """Hourly ZP-T01 tide readings for ``days`` days from ``first`` (partitions made), the last one as latest."""
    for d in range(days):
        day = first + timedelta(days=d)
        conn.execute("SELECT haixun_ensure_readings_partition(%s::date)", (day.date(),))
        conn.execute("INSERT INTO readings (station_id, quantity, ts, value, qc, received_at)"
                     " SELECT 'ZP-T01', 'tide_level', %s + make_interval(mins => k), 3.0, 1, now()"
                     " FROM generate_series(0, 1439, 60) AS k", (day,))
    newest = first + timedelta(days=days - 1, minutes=1380)
    conn.execute("INSERT INTO latest_readings VALUES ('ZP-T01', 'tide_level', %s, 3.0, 1, now())", (newest,))


def reading_days(conn: psycopg.Connection) -> list[str]:
    """The UTC days (MMDD) that hold readings."""
    return [r[0] for r in conn.execute("SELECT DISTINCT to_char(ts AT TIME ZONE 'UTC', 'MMDD') FROM readings ORDER BY 1")]

"""Shared fixtures. Tests use the real PostgreSQL and the real Mosquitto.

* ``template_db``: one migrated database per test session (``haixun_t_<id>``),
  dropped at the end.
* ``db_url``: a fresh copy of it for one test (``CREATE DATABASE .. TEMPLATE``,
  tens of milliseconds), dropped afterwards. Tests never share rows.
* ``settings``: a ``Settings`` pointing at that database, a unique MQTT topic
  root (so parallel runs on one broker never mix) and a private state folder.

Service addresses come from HAIXUN_TEST_PG (server URL without database,
default postgresql://postgres@127.0.0.1:5432) and HAIXUN_TEST_MQTT_URL
(default mqtt://127.0.0.1:1883).

Storage modes. HAIXUN_TEST_MODE (``timescale`` or ``partitioned``) makes the
session fail at once unless the template database got that mode (so a run
meant for TimescaleDB never passes on partitioned tables). scripts/test.sh runs
the storage/ingest/engine/API tests a second time with HAIXUN_TEST_PG pointing
at a private TimescaleDB server and HAIXUN_TEST_MODE=timescale. A test marked
``@pytest.mark.mode("partitioned")`` runs only when the template has that mode.

* ``timescale_pg``: a server URL with TimescaleDB preloaded (Timescale
  License): HAIXUN_TEST_TIMESCALE_PG, else a private server started with
  ``shared/timescaledb/start.sh`` (HAIXUN_TIMESCALE_DIR, or ``../shared/timescaledb``
  next to the checkout or one of its parents). Skipped, with the reason, if neither.
* ``timescale_variant``: ``timescale_variant("nopreload" | "apache")`` starts a
  private server from the same build without the preload / with
  ``timescaledb.license = 'apache'`` (session-scoped, stopped at the end).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from haixun.settings import MqttEndpoint, Settings
from haixun.store.migrate import migrate

PG_SERVER = os.environ.get("HAIXUN_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
MQTT_URL = os.environ.get("HAIXUN_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
# `haixun api` and create_app refuse the old default and short secrets (haixun.api.auth.check_jwt_secret)
TEST_JWT_SECRET = "test-only-jwt-secret-" + "0123456789abcdef" * 2
EXPECT_MODE = os.environ.get("HAIXUN_TEST_MODE", "")
REPO = Path(__file__).resolve().parent.parent


def _admin() -> psycopg.Connection:
    return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)


def drop_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


def seal_template(name: str, server: str = PG_SERVER) -> None:
    """No connection may remain on (or reach) a template while it is copied.

    TimescaleDB's scheduler reconnects to every database with the extension:
    terminating its sessions alone races with that (``source database .. is
    being accessed by other users``), so new connections are refused first."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


@pytest.fixture(scope="session")
def template_db(run_id: str) -> Iterator[str]:
    name = f"haixun_t_{run_id}"
    mode = migrate(f"{PG_SERVER}/{name}")
    if EXPECT_MODE and mode != EXPECT_MODE:
        drop_database(name)
        pytest.exit(f"HAIXUN_TEST_MODE={EXPECT_MODE} but {PG_SERVER} gave readings mode {mode!r}", returncode=3)
    _template_modes[name] = mode
    seal_template(name)
    yield name
    drop_database(name)


_template_modes: dict[str, str] = {}


@pytest.fixture(scope="session")
def template_mode(template_db: str) -> str:
    """The readings mode of this session's databases."""
    return _template_modes[template_db]


@pytest.fixture(autouse=True)
def _mode_marker(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("mode")
    if marker is not None:
        mode = request.getfixturevalue("template_mode")
        if mode not in marker.args:
            pytest.skip(f"needs readings mode {' or '.join(marker.args)}; this run's database is {mode}")


@pytest.fixture
def db_url(template_db: str) -> Iterator[str]:
    name = f"{template_db}_{uuid.uuid4().hex[:6]}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template_db)))
    yield f"{PG_SERVER}/{name}"
    drop_database(name)


@pytest.fixture
def topic_root() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(db_url: str, topic_root: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        mqtt_url=MQTT_URL,
        topic_root=topic_root,
        state_dir=tmp_path / "state",
        ingest_client_id=f"haixun-ingest-{topic_root}",
        jwt_secret=TEST_JWT_SECRET,
    )


@pytest.fixture(scope="session")
def mqtt_endpoint() -> MqttEndpoint:
    ep = MqttEndpoint.from_url(MQTT_URL)
    with socket.create_connection((ep.host, ep.port), timeout=2):
        pass
    return ep


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


class _PrivateServers:
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


@pytest.fixture(scope="session")
def _private_servers() -> Iterator[_PrivateServers | None]:
    build = timescale_dir()
    servers = _PrivateServers(build) if build else None
    yield servers
    if servers:
        servers.stop()


@pytest.fixture(scope="session")
def timescale_pg(_private_servers: _PrivateServers | None) -> str:
    url = os.environ.get("HAIXUN_TEST_TIMESCALE_PG")
    if url:
        return url.rstrip("/")
    if _private_servers is None:
        pytest.skip(NO_TIMESCALE)
    return _private_servers.start("timescale")


@pytest.fixture(scope="session")
def timescale_variant(_private_servers: _PrivateServers | None) -> Callable[[str], str]:
    def start(variant: str) -> str:
        if _private_servers is None:
            pytest.skip(NO_TIMESCALE)
        return _private_servers.start(variant)
    return start


def new_database(server: str) -> str:
    """An empty database on ``server`` (dropped by the caller with ``drop_database_on``)."""
    name = f"haixun_x_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{server}/{name}"


def drop_database_on(url: str) -> None:
    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

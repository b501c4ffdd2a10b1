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
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
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


def _admin() -> psycopg.Connection:
    return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)


def drop_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def template_db(run_id: str) -> Iterator[str]:
    name = f"haixun_t_{run_id}"
    migrate(f"{PG_SERVER}/{name}")
    with _admin() as conn:  # no open connections may remain on a template
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    yield name
    drop_database(name)


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

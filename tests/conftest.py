"""Fixtures only (helpers live in tests/support/). Tests use the real PostgreSQL
and the real Mosquitto.

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
* ``stack``, ``browser``: the running stack and headless Chromium for the browser tests.
* ``timescale_variant``: ``timescale_variant("nopreload" | "apache")`` starts a
  private server from the same build without the preload / with
  ``timescaledb.license = 'apache'`` (session-scoped, stopped at the end).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from haixun.settings import MqttEndpoint, Settings
from haixun.store.migrate import migrate
from tests.support.api import TEST_JWT_SECRET
from tests.support.browser import Stack, launch_browser
from tests.support.db import (
    EXPECT_MODE,
    NO_TIMESCALE,
    PG_SERVER,
    PrivateServers,
    copy_database,
    drop_database,
    seal_template,
    timescale_dir,
)
from tests.support.mqtt import MQTT_URL


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def _template_modes() -> dict[str, str]:
    return {}


@pytest.fixture(scope="session")
def template_db(run_id: str, _template_modes: dict[str, str]) -> Iterator[str]:
    name = f"haixun_t_{run_id}"
    mode = migrate(f"{PG_SERVER}/{name}")
    if EXPECT_MODE and mode != EXPECT_MODE:
        drop_database(name)
        pytest.exit(f"HAIXUN_TEST_MODE={EXPECT_MODE} but {PG_SERVER} gave readings mode {mode!r}", returncode=3)
    _template_modes[name] = mode
    seal_template(name)
    yield name
    drop_database(name)


@pytest.fixture(scope="session")
def template_mode(template_db: str, _template_modes: dict[str, str]) -> str:
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
    url = copy_database(template_db)
    yield url
    drop_database(url.rsplit("/", 1)[1])


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


@pytest.fixture(scope="session")
def _private_servers() -> Iterator[PrivateServers | None]:
    build = timescale_dir()
    servers = PrivateServers(build) if build else None
    yield servers
    if servers:
        servers.stop()


@pytest.fixture(scope="session")
def timescale_pg(_private_servers: PrivateServers | None) -> str:
    url = os.environ.get("HAIXUN_TEST_TIMESCALE_PG")
    if url:
        return url.rstrip("/")
    if _private_servers is None:
        pytest.skip(NO_TIMESCALE)
    return _private_servers.start("timescale")


@pytest.fixture(scope="session")
def timescale_variant(_private_servers: PrivateServers | None) -> Callable[[str], str]:
    def start(variant: str) -> str:
        if _private_servers is None:
            pytest.skip(NO_TIMESCALE)
        return _private_servers.start(variant)
    return start


@pytest.fixture
def stack(settings: Settings, mqtt_endpoint: MqttEndpoint) -> Iterator[Stack]:
    """The whole stack (ingest, engine, API) in a thread, for the browser tests (tests/support/browser.py)."""
    s = Stack(settings).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_browser(p)
        try:
            yield b
        finally:
            b.close()

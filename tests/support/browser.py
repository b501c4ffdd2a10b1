"""The running stack and Chromium for the browser tests.

One background thread runs an asyncio loop with the real pieces: the
geography synced to PostgreSQL, IngestService (MQTT -> store), EngineService
(store -> decisions -> state_log + NOTIFY) and uvicorn serving
``haixun.api.app.create_app``. Readings are published over MQTT like a
gateway does, so a browser sees the whole chain.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn

from haixun.api.app import create_app
from haixun.api.options import ApiOptions
from haixun.contract import format_ts
from haixun.data.geography import load_geography
from haixun.data.sync import sync_to_db
from haixun.engine.service import EngineService
from haixun.ingest.service import IngestService
from haixun.settings import Settings
from haixun.web.build_assets import missing as missing_assets
from tests.support.clock import utcnow
from tests.support.engine import FAST
from tests.support.mqtt import obs_json, publish_all
from tests.support.net import free_port
from tests.support.wait import eventually

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

GEOJSON = json.loads((ROOT / "haixun" / "data" / "pinghu.geojson").read_text(encoding="utf-8"))
STATIONS = {f["properties"]["id"]: f["properties"] for f in GEOJSON["features"]
            if f["properties"]["layer"] == "station"}
SEGMENTS = {f["properties"]["id"]: f for f in GEOJSON["features"] if f["properties"]["layer"] == "seawall_segment"}

CALM = {"tide_level": 1.2, "wind_speed": 4.0, "wind_gust": 6.0, "wind_dir": 90.0, "air_pressure": 1012.0,
        "wave_height": 0.5, "wave_period": 4.0, "water_temperature": 26.0, "rainfall": 0.0,
        "air_temperature": 28.0, "visibility": 10000.0}


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web-test-stack", daemon=True)
        self.server: uvicorn.Server | None = None
        self.engine: EngineService | None = None
        self.ingest: IngestService | None = None
        self._serve_task: asyncio.Future | None = None

    # -- running coroutines on the stack's loop
    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> Stack:
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            sync_to_db(conn, load_geography())
        self.thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        self.ingest = IngestService(self.settings)
        await self.ingest.start()
        self.engine = EngineService(self.settings, options=FAST)
        await self.engine.start()
        await asyncio.wait_for(self.engine.leading.wait(), 10)
        await self._start_api()

    async def _start_api(self) -> None:
        app = create_app(self.settings, ApiOptions(renotify_check_s=0, state_poll_s=1.0))
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", ws="websockets")
        self.server = uvicorn.Server(cfg)
        server, task = self.server, asyncio.ensure_future(self.server.serve())
        self._serve_task = task

        def started() -> bool:
            if task.done():
                task.result()  # raises why it stopped
            return bool(server.started)
        await eventually(started, timeout=60, what="uvicorn started")

    async def _stop_api(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            await asyncio.wait_for(self._serve_task, 15)
            self.server = None

    def restart_api(self, between: Any = None) -> None:
        """Stop the API (websockets drop), optionally do something, start it again on the same port."""
        self.run(self._stop_api())
        if between is not None:
            between()
        self.run(self._start_api())

    def stop(self) -> None:
        async def _stop() -> None:
            await self._stop_api()
            if self.engine is not None:
                await self.engine.stop()
            if self.ingest is not None:
                await self.ingest.stop()
        try:
            self.run(_stop(), timeout=120)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    # -- data in, the way a gateway sends it
    def publish(self, readings: dict[str, dict[str, float]], ts: datetime | None = None) -> None:
        stamp = format_ts(ts or utcnow())
        msgs = [(self.settings.topic("obs", sid), obs_json(stamp, values)) for sid, values in readings.items()]
        self.run(publish_all(self.settings.mqtt, msgs))

    def publish_calm(self, ts: datetime | None = None, skip: tuple[str, ...] = (), **override: dict[str, float]) -> None:
        readings = {}
        for sid, p in STATIONS.items():
            if sid in skip:
                continue
            values = {q: CALM[q] for q in p["quantities"] if q in CALM}
            values.update(override.get(sid.replace("-", "_"), {}))
            readings[sid] = values
        self.publish(readings, ts)

    def sql(self, query: str, params: tuple | dict = ()) -> list[tuple]:
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def add_user(self, username: str, password: str, role: str) -> None:
        """The documented way (docs/api.md): `haixun user add NAME --role ROLE --password-stdin`."""
        env = {"HAIXUN_DATABASE_URL": self.settings.database_url, "PATH": "/usr/bin:/bin"}
        r = subprocess.run([sys.executable, "-m", "haixun.cli", "user", "add", username, "--role", role,
                            "--password-stdin"], input=password + "\n", capture_output=True, text=True, env=env,
                           timeout=60, cwd=ROOT)
        assert r.returncode == 0, r.stderr + r.stdout


def require_browser(*, assets: bool = False) -> None:
    """Skip the calling test module (at import) without Debian's Chromium or, with ``assets``, the web assets."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)", allow_module_level=True)
    if assets and missing_assets():
        pytest.skip("web assets not installed: python -m haixun.web.build_assets", allow_module_level=True)


def page_errors(page: Any) -> list[str]:
    """The page's uncaught JavaScript errors, collected from now on."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def shot(page: Any, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path

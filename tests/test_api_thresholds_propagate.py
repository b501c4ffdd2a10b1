"""A threshold edit reaches every API process (issue 17): two real ``haixun api`` processes on one database;
a version activated through one changes the zone answer of the other (NOTIFY haixun_config), not only of the
process that served the edit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from haixun.riskcode.config import DEFAULT_CONFIG_PATH
from tests.support.net import free_port_in
from tests.support.proc import stop_process
from tests.support.wait import eventually_sync

REPO = Path(__file__).resolve().parent.parent
POINT = {"lat": 30.6274, "lon": 121.0338}  # inside the packaged served area (Zhapu)
SECRET = "thresholds-propagation-test-secret-" + "9" * 16
PASSWORD = "correct horse battery"


def _port() -> int:
    """A free port in this test's private range (27700-27799)."""
    return free_port_in(range(27700, 27800))


def _env(db_url: str, state: Path) -> dict[str, str]:
    return dict(os.environ, HAIXUN_DATABASE_URL=db_url, HAIXUN_STATE_DIR=str(state), PYTHONPATH=str(REPO),
                HAIXUN_JWT_SECRET=SECRET)


@contextmanager
def api_process(db_url: str, state: Path, log: Path) -> Iterator[str]:
    port = _port()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "haixun.cli", "--log-level", "INFO", "api", "--port", str(port)],
                                cwd=REPO, env=_env(db_url, state), stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        eventually_sync(ready, timeout=90, step=0.2, ignore=(httpx.HTTPError,), what=f"the API on {port} answering")
        yield base
    finally:
        stop_process(proc)


def _zone(base: str) -> dict:
    r = httpx.get(f"{base}/api/v1/risk", params=POINT, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["zone"]


@pytest.mark.slow
def test_activation_on_one_process_moves_the_zone_on_the_other(db_url: str, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "haixun.cli", "user", "add", "root", "--role", "admin", "--password-stdin"],
                   input=PASSWORD + "\n", text=True, cwd=REPO, env=_env(db_url, tmp_path), check=True,
                   capture_output=True, timeout=60)
    with api_process(db_url, tmp_path, tmp_path / "a.log") as a, api_process(db_url, tmp_path, tmp_path / "b.log") as b:
        before = _zone(b)
        assert _zone(a)["id"] == before["id"]
        d = before["distance_to_wall_m"]
        text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
        # move the zone boundary just inside the point outwards past it (C -> B, D -> C, E -> D; B -> C inwards)
        below = {"B": "b_max_m", "C": "b_max_m", "D": "c_max_m", "E": "d_max_m"}
        assert before["id"] in below and d > 2.0, before
        key = below[before["id"]]
        new_bound = d / 2 if before["id"] == "B" else d + 1.0
        expected = "C" if before["id"] == "B" else chr(ord(before["id"]) - 1)
        edited = re.sub(rf"(?m)^{key} = .*$", f"{key} = {new_bound:.1f}", text)
        assert edited != text
        with httpx.Client(base_url=a, timeout=30) as c:
            r = c.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD})
            assert r.status_code == 200, r.text
            h = {"Authorization": f"Bearer {r.json()['access_token']}"}
            r = c.post("/api/v1/thresholds", json={"format": "toml", "text": edited, "comment": "test"}, headers=h)
            assert r.status_code == 201, r.text
            edited_id = r.json()["id"]
        assert _zone(a)["id"] == expected  # the process that served the edit, at once
        eventually_sync(lambda: _zone(b)["id"] == expected, timeout=60, step=0.2, ignore=(httpx.HTTPError,),
                        what=f"the other process answering zone {expected}")

        # and back: re-activating the packaged text (saved as a version) through the other process
        with httpx.Client(base_url=b, timeout=30) as c:
            r = c.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD})
            h = {"Authorization": f"Bearer {r.json()['access_token']}"}
            r = c.post("/api/v1/thresholds", json={"format": "toml", "text": text}, headers=h)
            assert r.status_code == 201, r.text
            assert r.json()["id"] != edited_id
        eventually_sync(lambda: _zone(a)["id"] == before["id"], timeout=60, step=0.2, ignore=(httpx.HTTPError,),
                        what=f"process A answering zone {before['id']}")
    assert "threshold version" in (tmp_path / "b.log").read_text(errors="replace")


async def test_the_listener_reloads_on_the_config_notify_alone(db_url: str) -> None:
    """The NOTIFY itself reaches the listener (the 5 s safety poll is off here: poll_s = 1 h)."""
    import asyncio

    import psycopg

    from haixun.api.listener import StateListener
    from haixun.api.live import LiveState
    from haixun.api.metrics import ApiMetrics
    from haixun.store.channels import CONFIG_CHANNEL
    from haixun.store.db import open_pool

    calls = 0
    reloaded = asyncio.Event()

    async def on_config() -> None:
        nonlocal calls
        calls += 1
        if calls > 1:  # the first call is the one on connecting
            reloaded.set()

    async def nothing(*_: object) -> None:
        return None

    pool = await open_pool(db_url, name="test-config-notify")
    listener = StateListener(db_url, pool, LiveState(10), on_rows=nothing, on_alarm=nothing, on_config=on_config,
                             poll_s=3600.0, metrics=ApiMetrics())
    try:
        await listener.start()
        await asyncio.wait_for(listener.connected.wait(), 30)
        assert calls == 1
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (CONFIG_CHANNEL, "1"))
        await asyncio.wait_for(reloaded.wait(), 60)
        assert calls == 2
    finally:
        await listener.stop()
        await pool.close()

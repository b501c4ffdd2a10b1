"""A private Mosquitto for tests that stop/restart the broker.

Persistence on (in a temp folder) so the ingest's persistent session and its
queued QoS 1 messages survive a restart; queue limits raised so that the
broker never drops queued messages for a slow subscriber (the Mosquitto
defaults, max_queued_messages 1000, drop beyond that: see docs/ingest.md).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class PrivateBroker:
    def __init__(self, folder: Path, port: int, config_text: str | None = None) -> None:
        """``config_text``: a whole Mosquitto config instead of the default one (it must listen on ``port``)."""
        self.folder = folder
        self.port = port
        self.url = f"mqtt://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        if config_text is not None:
            self.config.write_text(config_text + ("user root\n" if os.geteuid() == 0 else ""))
            return
        self.config.write_text(
            f"listener {port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            "persistent_client_expiration 1h\n"
            # Started as root, Mosquitto drops to the `mosquitto` user, which
            # cannot write the persistence file into this root-owned temp
            # folder ("Permission denied"): then nothing survives a restart.
            + ("user root\n" if os.geteuid() == 0 else "")
        )

    def start(self, timeout: float = 5.0) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its password and ACL files."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        """SIGKILL: a crash (no persistence save since the last autosave)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its persistence file on a clean exit."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None


# ---- helpers shared by tests/test_ingest*.py --------------------------------

import asyncio  # noqa: E402
import json  # noqa: E402
from collections.abc import Iterable  # noqa: E402

import aiomqtt  # noqa: E402
import psycopg  # noqa: E402

from haixun.settings import MqttEndpoint  # noqa: E402


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


def scalar(db_url: str, query: str, params: tuple = ()) -> object:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


async def wait_for_count(db_url: str, query: str, expected: int, timeout: float = 20.0) -> int:
    """Poll ``query`` (a count) until it reaches ``expected`` or time runs out; return the last count."""
    deadline = asyncio.get_running_loop().time() + timeout
    n = -1
    while True:
        n = int(await asyncio.to_thread(scalar, db_url, query) or 0)
        if n >= expected or asyncio.get_running_loop().time() > deadline:
            return n
        await asyncio.sleep(0.1)


async def publish_all(ep: MqttEndpoint, messages: list[tuple[str, bytes | str]], *, client_id: str | None = None,
                      timeout: float = 60.0) -> None:
    """Publish with QoS 1; on a broker error reconnect and resend from the first unconfirmed message."""
    i = 0
    deadline = asyncio.get_running_loop().time() + timeout
    while i < len(messages):
        try:
            async with aiomqtt.Client(ep.host, ep.port, identifier=client_id, timeout=5,
                                      protocol=aiomqtt.ProtocolVersion.V5) as c:
                while i < len(messages):
                    topic, payload = messages[i]
                    await c.publish(topic, payload, qos=1)
                    i += 1
        except aiomqtt.MqttError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


def obs_json(ts: str, values: dict[str, float], seq: int | None = None) -> str:
    body: dict[str, object] = {"ts": ts, "obs": values}
    if seq is not None:
        body["seq"] = seq
    return json.dumps(body)

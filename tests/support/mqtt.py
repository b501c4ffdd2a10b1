"""The test MQTT broker: its address, a private Mosquitto, publishing, a collector.

The shared broker comes from HAIXUN_TEST_MQTT_URL (default mqtt://127.0.0.1:1883).

``PrivateBroker``: a private Mosquitto for tests that stop/restart the broker.
Persistence on (in a temp folder) so the ingest's persistent session and its
queued QoS 1 messages survive a restart; queue limits raised so that the
broker never drops queued messages for a slow subscriber (the Mosquitto
defaults, max_queued_messages 1000, drop beyond that: see docs/ingest.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt

from haixun.settings import MqttEndpoint, Settings
from haixun.simulators.mqtt import make_client
from tests.support.proc import stop_process
from tests.support.wait import eventually, eventually_sync

MQTT_URL = os.environ.get("HAIXUN_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


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

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually_sync(self._listening, timeout=timeout, what=f"mosquitto listening on {self.port}")

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

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
            stop_process(self.proc, timeout=5)
            self.proc = None


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


class Collector:
    """Subscribes to everything under the test's topic root."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.messages: list[tuple[str, bytes, bool]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def _run(self) -> None:
        async with make_client(self.settings, f"collector-{self.settings.topic_root}") as client:
            await client.subscribe(f"{self.settings.topic_root}/#", qos=1)
            self._ready.set()
            async for m in client.messages:
                self.messages.append((str(m.topic), bytes(m.payload), bool(m.retain)))

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await self._task

    async def wait_for(self, pred: Callable[[], Any], timeout: float = 30.0) -> None:
        await eventually(pred, timeout=timeout, what="the expected messages")

    def obs(self, station_id: str) -> list[bytes]:
        return [p for t, p, _ in self.messages if t.endswith(f"/obs/{station_id}")]

    def status(self, gateway_id: str) -> list[bytes]:
        return [p for t, p, _ in self.messages if t.endswith(f"/status/{gateway_id}")]

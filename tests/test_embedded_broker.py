"""The embedded MQTT broker of the demo, started for real (no mocks).

The project's clients are aiomqtt clients configured from ``Settings``:
MQTT 5 with a session expiry (persistent session), or MQTT 3.1.1 with
``clean_session=False`` when ``settings.mqtt_protocol == "3.1.1"`` (amqtt).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from haixun.demo.embedded import EmbeddedBroker, EmbeddedBrokerError, find_mosquitto
from haixun.demo.mqtt_probe import best_protocol
from haixun.settings import Settings

BACKENDS = ["amqtt", pytest.param("mosquitto", marks=pytest.mark.skipif(find_mosquitto() is None,
                                                                         reason="no mosquitto binary"))]


def project_client(settings: Settings, identifier: str, timeout: float = 10) -> aiomqtt.Client:
    """An aiomqtt client configured from settings the way the project's services connect."""
    ep = settings.mqtt
    common = dict(hostname=ep.host, port=ep.port, username=ep.username, password=ep.password,
                  identifier=identifier, timeout=timeout, keepalive=30)
    if settings.mqtt_protocol == "5":
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = settings.ingest_session_expiry_s
        return aiomqtt.Client(protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=props, **common)
    return aiomqtt.Client(protocol=aiomqtt.ProtocolVersion.V311, clean_session=False, **common)


async def _round_trip(settings: Settings) -> list[tuple[str, bytes, int]]:
    topic = settings.topic("obs", "ZP-T01")
    got: list[tuple[str, bytes, int]] = []
    async with project_client(settings, settings.ingest_client_id) as sub:
        await sub.subscribe(settings.topic("obs", "+"), qos=1)
        async with project_client(settings, f"{settings.ingest_client_id}-pub") as pub:
            for i in range(3):
                await pub.publish(topic, f'{{"ts": "2021-07-25T00:0{i}:00Z", "obs": {{"tide_level": {i}}}}}'.encode(), qos=1)

        async def collect() -> None:
            async for msg in sub.messages:
                got.append((str(msg.topic), bytes(msg.payload), msg.qos))
                if len(got) == 3:
                    return

        await asyncio.wait_for(collect(), timeout=10)
    return got


@pytest.mark.parametrize("backend", BACKENDS)
async def test_project_client_qos1_round_trip(backend: str, tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "broker", backend=backend)  # type: ignore[arg-type]
    with broker:
        assert broker.backend_used == backend
        expected_protocol = "5" if backend == "mosquitto" else "3.1.1"
        assert broker.protocol == expected_protocol
        settings = Settings(mqtt_url=broker.url, mqtt_protocol=broker.protocol, topic_root=f"t{uuid.uuid4().hex[:8]}",
                            ingest_client_id=f"emb-{uuid.uuid4().hex[:6]}", state_dir=tmp_path / "state")
        assert best_protocol(settings.mqtt) == broker.protocol
        got = await _round_trip(settings)
    assert [g[0] for g in got] == [settings.topic("obs", "ZP-T01")] * 3
    assert [g[2] for g in got] == [1, 1, 1]
    assert got[0][1].startswith(b'{"ts": "2021-07-25T00:00:00Z"')


async def test_amqtt_refuses_mqtt5_so_the_demo_must_switch_protocol(tmp_path: Path) -> None:
    """Why HAIXUN_MQTT_PROTOCOL exists: the v5 client cannot connect to amqtt."""
    with EmbeddedBroker(tmp_path / "broker", backend="amqtt") as broker:
        settings = Settings(mqtt_url=broker.url, mqtt_protocol="5", state_dir=tmp_path / "state")
        client = project_client(settings, "v5-probe", timeout=3)  # amqtt drops the v5 CONNECT
        with pytest.raises(aiomqtt.MqttError):
            async with client:
                pass


def test_broker_stops_and_port_is_released(tmp_path: Path) -> None:
    from haixun.demo.embedded_postgres import port_is_free

    broker = EmbeddedBroker(tmp_path / "broker", backend="auto")
    with broker:
        port = broker.port
        pid = broker.pid
        assert not port_is_free(port)
    assert port_is_free(port)
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_port_in_use_gives_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        broker = EmbeddedBroker(tmp_path / "broker", backend="amqtt", port=port, startup_timeout_s=5)
        with pytest.raises(EmbeddedBrokerError, match="amqtt"):
            broker.start()
        assert broker.pid is None


@pytest.mark.skipif(find_mosquitto() is None, reason="no mosquitto binary")
async def test_demo_mosquitto_authenticates_like_production(tmp_path: Path) -> None:
    """The demo's embedded Mosquitto uses the users and ACL of `haixun gateways init` (issue 14)."""
    from haixun.simulators.mqtt import make_client

    root = f"t{uuid.uuid4().hex[:8]}"
    with EmbeddedBroker(tmp_path / "broker", backend="mosquitto", auth_topic_root=root) as broker:
        assert broker.authenticated and broker.credentials_file is not None
        assert "haixun-ingest:" in broker.url
        settings = Settings(mqtt_url=broker.url, topic_root=root, state_dir=tmp_path / "state",
                            mqtt_credentials_file=broker.credentials_file)
        with pytest.raises(aiomqtt.MqttError):  # anonymous
            async with aiomqtt.Client("127.0.0.1", broker.port, timeout=5):
                pass
        got: list[str] = []
        async with project_client(settings, "demo-ingest") as ingest:  # the URL's user: haixun-ingest
            await ingest.subscribe(f"{root}/#", qos=1)
            async with make_client(settings, "gw", gateway_id="gw-zhapu") as gw:
                await gw.publish(settings.topic("obs", "JLS-T01"), b"spoof", qos=1)  # not gw-zhapu's: dropped
                await gw.publish(settings.topic("obs", "ZP-T01"), b"mine", qos=1)

            async def first() -> None:
                async for m in ingest.messages:
                    got.append(str(m.topic))
                    return

            await asyncio.wait_for(first(), 10)
    assert got == [settings.topic("obs", "ZP-T01")]

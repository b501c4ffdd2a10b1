"""Issue 14 item 3: gateways authenticate; the shipped broker config refuses the spoof scenarios.

A private Mosquitto runs the shipped docker/mosquitto.conf (paths and ports
moved to a temp folder and free loopback ports) with the users, ACL and
certificates made by `haixun gateways init/certs` from the project geography.
Ingest connects as `haixun-ingest` from the credentials file, like the gateway
simulator connects as its gateway.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import psycopg
import pytest

from haixun.cli import main as haixun_main
from haixun.contract import format_ts
from haixun.data.geography import load_geography
from haixun.data.sync import sync_to_db
from haixun.gateways.broker import BrokerAuthDir, acl_text, gateway_rights
from haixun.ingest.service import IngestService
from haixun.mqttauth import INGEST_USER, client_args
from haixun.settings import Settings
from haixun.simulators.mqtt import make_client
from tests.support.db import scalar, wait_for_count
from tests.support.mqtt import PrivateBroker, obs_json
from tests.support.net import free_port
from tests.support.wait import eventually

ROOT = Path(__file__).resolve().parent.parent
OWN, OTHER = "gw-zhapu", "gw-jiulongshan"  # ZP-T01 belongs to gw-zhapu; JLS-T01 to gw-jiulongshan


def shipped_config(auth: Path, data: Path, plain_port: int, tls_port: int) -> str:
    """docker/mosquitto.conf with its container paths and ports moved here (nothing else changed)."""
    text = (ROOT / "docker" / "mosquitto.conf").read_text(encoding="utf-8")
    text = text.replace("/mosquitto/config/auth/", f"{auth}/").replace("/mosquitto/data/", f"{data}/")
    text = text.replace("listener 1883 0.0.0.0", f"listener {plain_port} 127.0.0.1")
    text = text.replace("listener 8883 0.0.0.0", f"listener {tls_port} 127.0.0.1")
    text = text.replace("log_dest stdout", f"log_dest file {data}/mosquitto.log")
    assert f"listener {plain_port} 127.0.0.1" in text and f"listener {tls_port} 127.0.0.1" in text
    return text


def cli(*argv: str) -> int:
    return haixun_main(list(argv))


@pytest.fixture
def auth_broker(tmp_path: Path, topic_root: str):
    auth, data = tmp_path / "auth", tmp_path / "data"
    data.mkdir()
    assert cli("gateways", "init", "--dir", str(auth), "--topic-root", topic_root) == 0
    assert cli("gateways", "certs", "--dir", str(auth), "--host", "localhost", "--host", "127.0.0.1") == 0
    plain, tls = free_port(), free_port()
    broker = PrivateBroker(tmp_path / "broker", plain, shipped_config(auth, data, plain, tls))
    broker.start()
    broker.tls_port = tls  # type: ignore[attr-defined]
    broker.auth = auth  # type: ignore[attr-defined]
    try:
        yield broker
    finally:
        broker.stop()


def _settings(settings: Settings, broker: PrivateBroker, **extra) -> Settings:
    return settings.model_copy(update={"mqtt_url": broker.url,
                                       "mqtt_credentials_file": broker.auth / "credentials.json", **extra})  # type: ignore[attr-defined]


def _users(broker: PrivateBroker) -> dict[str, str]:
    return BrokerAuthDir(broker.auth).users()  # type: ignore[attr-defined]


async def _connect_fails(**kwargs) -> str:
    with pytest.raises(aiomqtt.MqttError) as err:
        async with aiomqtt.Client(timeout=5, **kwargs):
            pass
    return str(err.value)


def test_acl_is_generated_from_the_geography(topic_root: str) -> None:
    geo = load_geography()
    rights = gateway_rights(geo)
    text = acl_text(rights, topic_root)
    blocks = {b.splitlines()[0].split()[1]: b.splitlines()[1:] for b in re.split(r"\n\n+", text) if b.startswith("user ")}
    assert blocks[INGEST_USER] == [f"topic read {topic_root}/v1/#"]
    for st in geo.stations:
        assert f"topic write {topic_root}/v1/obs/{st.id}" in blocks[st.gateway_id]
        others = [gw for gw in rights if gw != st.gateway_id]
        assert all(f"topic write {topic_root}/v1/obs/{st.id}" not in blocks[gw] for gw in others)
    for cam in geo.cameras:
        assert f"topic write {topic_root}/v1/event/{cam.id}" in blocks[cam.gateway_id]
    for gw in rights:
        assert f"topic write {topic_root}/v1/status/{gw}" in blocks[gw]
        assert not any(line.startswith("topic read") or "#" in line or "+" in line for line in blocks[gw])


async def test_shipped_config_refuses_strangers_and_wrong_passwords(auth_broker: PrivateBroker) -> None:
    users = _users(auth_broker)
    await _connect_fails(hostname="127.0.0.1", port=auth_broker.port)  # anonymous
    await _connect_fails(hostname="127.0.0.1", port=auth_broker.port, username=OWN, password="guess")
    await _connect_fails(hostname="127.0.0.1", port=auth_broker.port, username="nobody", password=users[OWN])
    async with aiomqtt.Client("127.0.0.1", auth_broker.port, username=OWN, password=users[OWN], timeout=5):
        pass


async def test_tls_listener_verifies_with_the_generated_ca(auth_broker: PrivateBroker, settings: Settings) -> None:
    port = auth_broker.tls_port  # type: ignore[attr-defined]
    ca = auth_broker.auth / "certs" / "ca.crt"  # type: ignore[attr-defined]
    s = settings.model_copy(update={"mqtt_url": f"mqtts://127.0.0.1:{port}", "mqtt_ca_file": ca,
                                    "mqtt_credentials_file": auth_broker.auth / "credentials.json"})  # type: ignore[attr-defined]
    async with make_client(s, "tls-probe", gateway_id=OWN) as c:
        await c.publish(s.topic("status", OWN), b"online", qos=1)
    # plain MQTT on the TLS port, and TLS without the project CA, both fail
    await _connect_fails(hostname="127.0.0.1", port=port, username=OWN, password=_users(auth_broker)[OWN])
    await _connect_fails(hostname="127.0.0.1", port=port, username=OWN, password=_users(auth_broker)[OWN],
                         tls_context=ssl.create_default_context())
    assert client_args(s, user=OWN)["tls_context"] is not None


async def test_spoof_scenarios_of_issue14_are_refused_by_broker_and_ingest(auth_broker: PrivateBroker,
                                                                          settings: Settings) -> None:
    """The stranger's tide 7.0 for ZP-T01, a gateway publishing another gateway's station, spoofed camera
    events and a spoofed 'offline': none reaches the database; the genuine gateway's readings do."""
    s = _settings(settings, auth_broker)
    with psycopg.connect(s.database_url, autocommit=True) as conn:
        sync_to_db(conn, load_geography())
    users = _users(auth_broker)
    now = datetime.now(UTC).replace(microsecond=0)
    genuine = [(s.topic("obs", "ZP-T01"), obs_json(format_ts(now - timedelta(minutes=5 - k)), {"tide_level": 2.0 + 0.01 * k}))
               for k in range(3)]
    spoof_ts = format_ts(now + timedelta(seconds=20))
    spoofs = [
        (s.topic("obs", "ZP-T01"), obs_json(spoof_ts, {"tide_level": 7.0})),                     # ZP-T01 is not OTHER's
        (s.topic("event", "CAM-02"), json.dumps({"ts": spoof_ts, "type": "overtopping", "confidence": 0.99,
                                                  "segment_id": "PH02"})),
        (s.topic("status", OWN), "offline"),
    ]
    cam02 = next(c for c in load_geography().cameras if c.id == "CAM-02")
    assert cam02.gateway_id != OTHER
    async with IngestService(s) as svc:
        assert svc.connected  # as haixun-ingest, from the credentials file
        async with make_client(s, "genuine", gateway_id=OWN) as gw:
            await gw.publish(s.topic("status", OWN), b"online", qos=1, retain=True)
            for t, p in genuine[:2]:
                await gw.publish(t, p.encode(), qos=1)
        # a compromised (authenticated) other gateway tries everything of the issue
        async with aiomqtt.Client("127.0.0.1", auth_broker.port, username=OTHER, password=users[OTHER],
                                  timeout=5, protocol=aiomqtt.ProtocolVersion.V5) as bad:
            for t, p in spoofs:
                await bad.publish(t, p.encode(), qos=1)
        # ingest's own user is read-only
        async with aiomqtt.Client("127.0.0.1", auth_broker.port, username=INGEST_USER, password=users[INGEST_USER],
                                  timeout=5) as ing:
            await ing.publish(s.topic("obs", "ZP-T01"), obs_json(spoof_ts, {"tide_level": 7.0}).encode(), qos=1)
        # a stranger cannot even connect
        await _connect_fails(hostname="127.0.0.1", port=auth_broker.port)
        # then the genuine gateway again: once its reading is stored, everything before it was handled
        async with make_client(s, "genuine", gateway_id=OWN) as gw:
            await gw.publish(genuine[2][0], genuine[2][1].encode(), qos=1)
        assert await wait_for_count(s.database_url, "SELECT count(*) FROM readings WHERE station_id = 'ZP-T01'", 3) == 3
        await asyncio.sleep(0.5)
    assert scalar(s.database_url, "SELECT count(*) FROM readings WHERE value = 7.0") == 0
    assert scalar(s.database_url, "SELECT count(*) FROM camera_events") == 0
    assert scalar(s.database_url, "SELECT online FROM gateway_status WHERE gateway_id = %s", (OWN,)) is True
    assert scalar(s.database_url, "SELECT count(*) FROM gateway_status_history WHERE NOT online") == 0
    assert scalar(s.database_url, "SELECT value FROM latest_readings WHERE station_id = 'ZP-T01' "
                                  "AND quantity = 'tide_level'") == pytest.approx(2.02)


async def test_rotate_replaces_the_password_after_a_reload(auth_broker: PrivateBroker) -> None:
    old = _users(auth_broker)[OWN]
    assert cli("gateways", "rotate", OWN, "--dir", str(auth_broker.auth)) == 0  # type: ignore[attr-defined]
    new = _users(auth_broker)[OWN]
    assert new != old
    assert cli("gateways", "rotate", "gw-not-in-the-geography", "--dir", str(auth_broker.auth)) == 2  # type: ignore[attr-defined]
    auth_broker.reload()
    async def old_refused() -> bool:  # the reload is asynchronous
        try:
            async with aiomqtt.Client("127.0.0.1", auth_broker.port, username=OWN, password=old, timeout=5):
                return False
        except aiomqtt.MqttError:
            return True
    await eventually(old_refused, step=0.2, what="the old password refused after SIGHUP")
    async with aiomqtt.Client("127.0.0.1", auth_broker.port, username=OWN, password=new, timeout=5):
        pass
    # the hashes come from mosquitto_passwd; the plain secret is never in the password file
    assert new not in (auth_broker.auth / "passwd").read_text()  # type: ignore[attr-defined]
    assert (auth_broker.auth / "credentials.json").stat().st_mode & 0o077 == 0  # type: ignore[attr-defined]


def test_init_again_keeps_every_password(tmp_path: Path, topic_root: str) -> None:
    """A second `gateways init` (the demo's second run does it too) adds nothing new: it must keep
    the passwords and succeed (mosquitto_passwd -U refused the empty file it was handed)."""
    from haixun.gateways.broker import init

    rights = gateway_rights(load_geography())
    first = init(tmp_path / "auth", rights, topic_root)
    before = BrokerAuthDir(tmp_path / "auth").users()
    assert first and before
    assert init(tmp_path / "auth", rights, topic_root) == {}
    assert BrokerAuthDir(tmp_path / "auth").users() == before

"""Pieces of ``haixun demo``: command catalog, the storm checker, progress, MQTT probe."""

from __future__ import annotations

import psycopg
import pytest

from haixun.demo.check import DatabaseWitness, RiseAndFall, WebsocketWitness, verdict
from haixun.demo.commands import CommandCatalog
from haixun.demo.mqtt_probe import best_protocol, probe
from haixun.demo.progress import ProgressSampler
from haixun.riskcode.levels import Level
from haixun.settings import MqttEndpoint
from tests.conftest import free_port


def test_catalog_reads_the_real_parser() -> None:
    catalog = CommandCatalog()
    assert catalog.has(["demo"]) and catalog.has(["migrate"])
    assert catalog.accepts(["demo"], "--speed") and not catalog.accepts(["demo"], "--no-such-flag")
    assert catalog.resolve(["demo", "--speed", "5"]) == ("demo",)
    assert catalog.resolve(["no-such-command"]) is None
    assert catalog.parses(["demo", "--speed", "5"])
    assert not catalog.parses(["demo", "--speed", "-1"])


def test_rise_and_fall_needs_high_then_known_low() -> None:
    track = RiseAndFall()
    for level in (Level.NONE, Level.BLUE, Level.YELLOW, Level.ORANGE, Level.UNKNOWN):
        track.observe("segment:PH07", level)
    assert track.rose and not track.passed  # unknown is not "came down"
    track.observe("segment:PH08", Level.YELLOW)  # another subject falling without rising
    assert not track.passed
    track.observe("segment:PH07", Level.RED)
    track.observe("segment:PH07", Level.YELLOW)
    assert track.passed
    assert track.peak == {"segment:PH07": Level.RED} and track.fell == {"segment:PH07": Level.YELLOW}


def test_websocket_witness_reads_snapshot_and_delta_messages() -> None:
    ws = WebsocketWitness("ws://unused")
    ws.handle({"type": "snapshot", "seq": 1, "body": {"segments": {"PH07": {"level": "yellow"}},
                                                      "areas": {"city": {"level": "yellow"}}}})
    ws.handle({"type": "ping", "seq": 1})
    ws.handle({"type": "delta", "seq": 2, "body": {"segments": {"PH07": {"level": "orange"}}}})
    assert ws.track.rose and not ws.track.passed
    ws.handle({"type": "delta", "seq": 3, "body": {"areas": {"city": {"level": "red"}}}})
    ws.handle({"type": "delta", "seq": 4, "body": {"segments": {"PH07": {"level": "blue"}}}})
    assert ws.track.passed and ws.last_seq == 4 and ws.messages == 5
    db = DatabaseWitness()
    result = verdict(db, ws, missing=[], crashed=[])
    assert not result.ok  # the database witness saw nothing
    assert "never orange/red" in result.lines[0]


async def test_database_witness_and_progress_on_a_real_database(db_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        sampler = ProgressSampler()
        first = await sampler.sample(conn)
        assert first.sim_time is None and first.subjects == 0 and first.readings_per_s is None
        await conn.execute(
            "INSERT INTO level_changes (subject_kind, subject_id, at, from_level, to_level) VALUES "
            "('segment', 'PH05', now(), 'yellow', 'orange'), ('village', 'V0101', now(), 'orange', 'none'), "
            "('segment', 'PH05', now(), 'orange', 'red')")
        await conn.execute(
            "INSERT INTO current_levels (subject_kind, subject_id, level, raw_level, since, decided_at, decision, seq) VALUES "
            "('segment', 'PH05', 'red', 'red', now(), now(), '{}', 1), ('segment', 'PH06', 'yellow', 'yellow', now(), now(), '{}', 1),"
            "('city', 'city', 'orange', 'orange', now(), now(), '{}', 1)")
        await conn.execute(
            "INSERT INTO readings (station_id, quantity, ts, value, qc, received_at) "
            "SELECT 'ZP-T01', 'tide_level', now() - make_interval(secs => g), 1.0, 1, now() FROM generate_series(1, 50) g")
        await conn.execute("INSERT INTO latest_readings VALUES ('ZP-T01', 'tide_level', '2021-07-26T01:50:00Z', 6.1, 1, now())")
        db = DatabaseWitness()
        await db.poll(conn)
        assert db.track.rose and not db.track.passed
        await conn.execute("INSERT INTO level_changes (subject_kind, subject_id, at, from_level, to_level) VALUES "
                           "('segment', 'PH05', now(), 'red', 'yellow')")
        await db.poll(conn)
        assert db.track.passed
        second = await sampler.sample(conn)
        assert second.worst_segment == ("PH05", Level.RED) and second.city_level == Level.ORANGE
        assert second.sim_time is not None and second.sim_time.year == 2021
        assert "sim 2021-07-26 09:50 CST" in second.line() and "worst red (PH05)" in second.line()


def test_probe_on_the_real_broker_and_on_a_dead_port(mqtt_endpoint: MqttEndpoint) -> None:
    assert probe(mqtt_endpoint, "3.1.1")
    assert best_protocol(mqtt_endpoint) == "5"  # Debian mosquitto 2.x
    dead = MqttEndpoint("127.0.0.1", free_port())
    assert best_protocol(dead, timeout_s=0.5) is None


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_connect_packet_is_well_formed(protocol: str) -> None:
    from haixun.demo.mqtt_probe import connect_packet

    pkt = connect_packet(protocol, "abc", "user", "pw")  # type: ignore[arg-type]
    assert pkt[0] == 0x10 and pkt[1] == len(pkt) - 2
    assert pkt[2:8] == b"\x00\x04MQTT"
    assert pkt[8] == (5 if protocol == "5" else 4)
    assert pkt[9] == 0xC2


def test_replay_qc_only_widens_the_future_limit() -> None:
    import tomllib

    from haixun.demo.replay_clock import REPLAY_MAX_LEAD_S, packaged_qc_text, replay_qc_text

    base = tomllib.loads(packaged_qc_text())
    derived = tomllib.loads(replay_qc_text(packaged_qc_text(), REPLAY_MAX_LEAD_S))
    assert derived["time"]["future_fail_s"] == REPLAY_MAX_LEAD_S
    assert derived["version"] == base["version"] + "+demo-replay"
    base["time"].pop("future_fail_s"), derived["time"].pop("future_fail_s")
    base.pop("version"), derived.pop("version")
    assert derived == base


def test_replay_thresholds_scale_durations_not_thresholds(db_url: str) -> None:
    import tomllib

    from haixun.demo.replay_thresholds import (
        apply_replay_thresholds,
        packaged_riskcode_text,
        remove_replay_thresholds,
        scaled_config_text,
    )
    from haixun.riskcode.config import RiskConfig

    base = tomllib.loads(packaged_riskcode_text())
    text = scaled_config_text(packaged_riskcode_text(), 600)
    scaled = tomllib.loads(text)
    assert scaled["hysteresis"]["dwell_s"] == max(1, round(base["hysteresis"]["dwell_s"] / 600))
    assert scaled["camera"]["types"]["overtopping"]["hold_s"] == max(1, round(base["camera"]["types"]["overtopping"]["hold_s"] / 600))
    assert scaled["version"] == base["version"] + "+demo-x600"
    for section in base:
        if section not in ("hysteresis", "camera", "version"):
            assert scaled[section] == base[section], section
    RiskConfig.from_toml(text)  # still a valid configuration

    with psycopg.connect(db_url, autocommit=True) as conn:  # an admin's version is active before the demo
        conn.execute("INSERT INTO threshold_versions (version, format, body, sha256, active, created_by) "
                     "VALUES ('admin-1', 'toml', %s, 'x', true, 'user:alice')", (packaged_riskcode_text(),))
    assert apply_replay_thresholds(db_url, 600) == base["version"] + "+demo-x600"
    assert apply_replay_thresholds(db_url, 600) == base["version"] + "+demo-x600"  # a leftover is replaced
    with psycopg.connect(db_url) as conn:
        active = conn.execute("SELECT created_by, body FROM threshold_versions WHERE active").fetchall()
        assert [(a[0], tomllib.loads(a[1])["hysteresis"]["dwell_s"]) for a in active] == [("haixun demo", 3)]
    assert remove_replay_thresholds(db_url)
    assert not remove_replay_thresholds(db_url)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT version, created_by FROM threshold_versions WHERE active").fetchall() == [
            ("admin-1", "user:alice")]
    assert apply_replay_thresholds(db_url, 1) is None

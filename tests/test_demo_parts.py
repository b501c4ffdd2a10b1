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
from tests.support.net import free_port


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
        assert db.track.passed and not db.passed  # no tide model, no bulletin yet
        assert "tide models fitted: 0 (none yet)" in db.summary_lines()
        await conn.execute("INSERT INTO tide_models (station_id, fitted_at, data_start, data_end, n_obs, span_days,"
                           " rms_residual_m, method, model) VALUES ('ZP-T01', now(), now() - interval '20 days',"
                           " now(), 480, 20, 0.1, 'utide', '{}')")
        await conn.execute("INSERT INTO official_feeds (source, issuer, kind, level, area, valid_from, valid_to,"
                           " issued_at, received_by) VALUES ('zj_ocean', 'ZJ', 'surge_forecast', 'orange',"
                           " '{}', now(), now() + interval '1 hour', now(), 'test')")
        await db.poll(conn)
        assert db.passed and db.tide_models == 1 and db.bulletins == 1
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


def test_demo_clock_is_one_replay_clock_whose_spec_round_trips() -> None:
    from datetime import UTC, datetime, timedelta

    from haixun.clock import Clock
    from haixun.demo.replay import demo_clock

    now = datetime(2026, 11, 25, 17, 0, 3, 700_000, tzinfo=UTC)
    clock = demo_clock(600.0, now)
    assert clock.is_replay and clock.speed == 600.0 and clock.sim_start == clock.wall_start == now.replace(microsecond=0)
    assert Clock.parse(clock.spec()) == clock  # every child gets exactly this clock
    assert clock.at_wall((now + timedelta(seconds=1)).timestamp()) == now.replace(microsecond=0) + timedelta(
        seconds=1.7 * 600)


def test_replay_argv_has_backfill_and_feed_key_and_no_qc_or_threshold_hacks() -> None:
    from haixun.demo.runner import API, INGEST, REPLAY, DemoOptions, component_argv

    catalog = CommandCatalog()
    opts = DemoOptions(speed=600.0, port=8123, replay_args=("--no-cameras",))
    argv = component_argv(REPLAY, catalog, opts, feed_key="hx_abcd_secret")
    tail = argv[argv.index("replay") + 1:]
    assert tail[tail.index("--backfill-days") + 1] == "30"
    assert tail[tail.index("--api-url") + 1] == "http://127.0.0.1:8123/api/v1/feeds/{source}"
    assert tail[tail.index("--api-key") + 1] == "hx_abcd_secret"
    assert tail[-1] == "--no-cameras"  # the user's replay args last (they win)
    assert "--api-key" not in component_argv(REPLAY, catalog, opts)
    assert "--qc-config" not in component_argv(INGEST, catalog, opts)
    assert "--port" in component_argv(API, catalog, opts)


def test_demo_feed_key_is_a_working_feed_key_and_replaces_the_previous_one(db_url: str) -> None:
    from haixun.api.auth import key_digest
    from haixun.demo.replay import DEMO_FEED_KEY_NAME, demo_feed_key

    first = demo_feed_key(db_url)
    second = demo_feed_key(db_url)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT key_sha256, role, active FROM api_keys WHERE name = %s ORDER BY id",
                            (DEMO_FEED_KEY_NAME,)).fetchall()
        audit = conn.execute("SELECT action FROM audit_log WHERE actor = 'haixun demo' ORDER BY id").fetchall()
    assert rows == [(key_digest(first), "feed", False), (key_digest(second), "feed", True)]
    assert [a for (a,) in audit] == ["apikey.create", "apikey.revoke", "apikey.create"]

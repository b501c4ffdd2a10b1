"""Issue 14: nothing a stranger sends can stop ingest or make a healthy database look down.

Real Mosquitto, real PostgreSQL, real IngestService. Every hostile message
must end as exactly one dead letter with a reason, be acknowledged, and the
writer must go on storing the genuine messages that follow it.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from haixun.contract import format_ts
from haixun.ingest.admission import load_admission_config
from haixun.ingest.health import serve_health
from haixun.ingest.service import IngestService
from tests.support.db import scalar, wait_for_count
from tests.support.ingest import add_hostile_targets, issue14_vectors
from tests.support.mqtt import obs_json, publish_all
from tests.support.net import free_port


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _gauge(svc: IngestService, name: str) -> float:
    for line in svc.metrics_text().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise KeyError(name)


async def test_every_issue14_vector_becomes_a_dead_letter_and_the_writer_goes_on(settings, mqtt_endpoint):
    add_hostile_targets(settings.database_url)
    vectors = issue14_vectors(settings)
    t0 = _now() - timedelta(minutes=10)
    good = [(settings.topic("obs", "H1"), obs_json(format_ts(t0 + timedelta(minutes=k)), {"tide_level": 2.0}))
            for k in range(5)]
    # good messages before and after every hostile one, in one stream
    stream: list[tuple[str, bytes | str]] = [good[0]]
    for i, (t, p, _) in enumerate(vectors):
        stream.append((t, p))
        if i == len(vectors) // 2:
            stream.append(good[1])
    stream += good[2:]
    async with IngestService(settings) as svc:
        await publish_all(mqtt_endpoint, stream)
        n = await wait_for_count(settings.database_url, "SELECT count(*) FROM dead_letters", len(vectors))
        assert n == len(vectors)
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", len(good)) == len(good)
        assert svc.writer_alive and svc.connected
        assert _gauge(svc, "haixun_ingest_db_up") == 1.0
        assert _gauge(svc, "haixun_ingest_writer_alive") == 1.0
        ok, health = svc.health()
        assert ok, health
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT reason, length(topic), detail FROM dead_letters ORDER BY id").fetchall()
    assert len(rows) == len(vectors)
    for (reason, _, detail), (topic, _, expected) in zip(rows, vectors, strict=True):
        assert reason in expected, (topic[:80], reason, detail)
    assert all(r[2] for r in rows)
    assert max(r[1] for r in rows) <= 520  # topics are cut for the dead-letter index
    # acknowledged: a new session of the same client id gets nothing again
    async with IngestService(settings) as svc2:
        await asyncio.sleep(1.5)
        assert svc2.metrics.received._value.get() == 0  # noqa: SLF001
    assert scalar(settings.database_url, "SELECT count(*) FROM dead_letters") == len(vectors)


async def test_a_database_refusal_of_one_message_dead_letters_it_not_the_database(settings, mqtt_endpoint):
    """A non-connection error (here: 54000 program_limit_exceeded raised by a trigger) on one message."""
    add_hostile_targets(settings.database_url)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("""
            CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.type = 'poison' THEN
                    RAISE EXCEPTION 'index row size exceeds maximum' USING ERRCODE = '54000';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_poison BEFORE INSERT ON camera_events FOR EACH ROW EXECUTE FUNCTION refuse_poison();
        """)
    ts = _now() - timedelta(minutes=5)
    msgs: list[tuple[str, bytes | str]] = [
        (settings.topic("obs", "H1"), obs_json(format_ts(ts), {"tide_level": 2.0})),
        (settings.topic("event", "CAMH"), json.dumps({"ts": format_ts(ts), "type": "poison", "confidence": 0.5})),
        (settings.topic("event", "CAMH"), json.dumps({"ts": format_ts(ts), "type": "overtopping", "confidence": 0.5})),
        (settings.topic("obs", "H1"), obs_json(format_ts(ts + timedelta(minutes=1)), {"tide_level": 2.1})),
    ]
    async with IngestService(settings) as svc:
        await publish_all(mqtt_endpoint, msgs)
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM dead_letters", 1) == 1
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 2) == 2
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM camera_events", 1) == 1
        assert _gauge(svc, "haixun_ingest_db_up") == 1.0
        assert svc.spool.is_empty()
        # and later messages are stored live, not spooled
        await publish_all(mqtt_endpoint, [(settings.topic("obs", "H1"),
                                           obs_json(format_ts(ts + timedelta(minutes=2)), {"tide_level": 2.2}))])
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 3) == 3
        assert svc.metrics.spooled._value.get() == 0  # noqa: SLF001
    row = scalar(settings.database_url, "SELECT reason || ': ' || detail FROM dead_letters")
    assert str(row).startswith("rejected: not stored: ProgramLimitExceeded")


async def test_historic_days_are_refused_and_partitions_stay_bounded(settings, mqtt_endpoint):
    add_hostile_targets(settings.database_url)
    now = _now()
    # compact, as in the issue: 4,800 distinct days in one contract-valid message under 256 KiB
    day0 = now.replace(hour=0, minute=0, second=0) - timedelta(days=100)
    old = [{"ts": (day0 - timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ"), "obs": {"tide_level": 1}}
           for d in range(4800)]
    recent = [json.loads(obs_json(format_ts(now - timedelta(days=d, minutes=5)), {"tide_level": 1.0}))
              for d in range(40)]
    partitions = "SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings'::regclass"
    before = int(scalar(settings.database_url, partitions) or 0)
    async with IngestService(settings) as svc:
        await publish_all(mqtt_endpoint, [(settings.topic("obs", "H1"), json.dumps(old, separators=(",", ":"))),
                                          (settings.topic("obs", "H1"), json.dumps(recent))])
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 40) == 40
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM dead_letters", 1) == 1
        assert _gauge(svc, "haixun_ingest_db_up") == 1.0
    assert scalar(settings.database_url, "SELECT reason FROM dead_letters") == "too_old"
    partitioned = scalar(settings.database_url, "SELECT value FROM store_info WHERE key = 'readings_mode'")
    if partitioned == "partitioned":
        made = int(scalar(settings.database_url, partitions) or 0) - before
        assert made <= 41


async def test_history_rule_off_still_creates_partitions_one_per_transaction(settings, mqtt_endpoint):
    """With the history rule disabled (archive loads), 300 days in one message are stored."""
    add_hostile_targets(settings.database_url)
    now = _now()
    days = [json.loads(obs_json(format_ts(now - timedelta(days=200 + d)), {"tide_level": 1.0})) for d in range(300)]
    cfg = load_admission_config().with_history_max_days(0)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        # a small lock table would show a one-transaction creation of 300 partitions at once
        locks = int(conn.execute("SHOW max_locks_per_transaction").fetchone()[0])
    async with IngestService(settings, admission_config=cfg) as svc:
        await publish_all(mqtt_endpoint, [(settings.topic("obs", "H1"), json.dumps(days))])
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 300, timeout=60) == 300
        assert _gauge(svc, "haixun_ingest_db_up") == 1.0
    assert locks > 0
    assert scalar(settings.database_url, "SELECT count(*) FROM dead_letters") == 0


async def test_quantity_and_gateway_checks_of_ingest(settings, mqtt_endpoint):
    """Where the broker cannot: a station's quantities and a known gateway (issue 14 item 3)."""
    add_hostile_targets(settings.database_url)
    ts = format_ts(_now() - timedelta(minutes=1))
    msgs: list[tuple[str, bytes | str]] = [
        (settings.topic("obs", "H1"), obs_json(ts, {"tide_level": 2.0, "wave_height": 1.0})),  # H1 has no wave sensor
        (settings.topic("status", "gw-stranger"), b"offline"),
        (settings.topic("status", "gw-h"), b"online"),
        (settings.topic("obs", "H1"), obs_json(ts, {"tide_level": 2.0, "wind_speed": 3.0})),
    ]
    async with IngestService(settings):
        await publish_all(mqtt_endpoint, msgs)
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM dead_letters", 2) == 2
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 2) == 2
    with psycopg.connect(settings.database_url) as conn:
        assert [r[0] for r in conn.execute("SELECT reason FROM dead_letters ORDER BY id")] == [
            "unmeasured_quantity", "unknown_gateway"]
        assert conn.execute("SELECT gateway_id FROM gateway_status").fetchall() == [("gw-h",)]


async def test_future_dated_reading_never_shadows_newer_genuine_ones(settings, mqtt_endpoint):
    add_hostile_targets(settings.database_url)
    now = _now()
    topic = settings.topic("obs", "H1")
    async with IngestService(settings):
        # a forged value 20 s ahead (within the 30 s tolerance: passes QC), then the genuine one
        await publish_all(mqtt_endpoint, [(topic, obs_json(format_ts(now + timedelta(seconds=20)), {"tide_level": 2.2}))])
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM latest_readings", 1) == 1
        await asyncio.sleep(1.1)  # the genuine reading is received later, stamped at its measurement
        await publish_all(mqtt_endpoint, [(topic, obs_json(format_ts(_now()), {"tide_level": 2.25}))])
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 2) == 2
        # a late buffered (old) reading never replaces the latest one
        await publish_all(mqtt_endpoint, [(topic, obs_json(format_ts(now - timedelta(hours=1)), {"tide_level": 1.0}))])
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 3) == 3
        # beyond the tolerance (the issue's now+280 s): QC fail, never latest
        await publish_all(mqtt_endpoint, [(topic, obs_json(format_ts(_now() + timedelta(seconds=280)), {"tide_level": 7.0}))])
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 4) == 4
    assert scalar(settings.database_url, "SELECT value FROM latest_readings WHERE station_id = 'H1'") == 2.25
    assert scalar(settings.database_url, "SELECT qc FROM readings WHERE value = 7.0") == 4


async def test_supervisor_restarts_a_crashed_writer_and_health_says_so(settings, mqtt_endpoint, monkeypatch):
    """A writer crash (a bug, injected here once) is restarted; its messages come again and are stored."""
    add_hostile_targets(settings.database_url)
    svc = IngestService(settings)
    real = svc._store_or_spool  # noqa: SLF001
    crashed = asyncio.Event()

    async def crash_once(items):
        if not crashed.is_set():
            crashed.set()
            raise RuntimeError("injected writer bug")
        await real(items)

    monkeypatch.setattr(svc, "_store_or_spool", crash_once)
    port = free_port()
    server = serve_health(svc, "127.0.0.1", port)
    t0 = _now() - timedelta(minutes=30)
    msgs = [(settings.topic("obs", "H1"), obs_json(format_ts(t0 + timedelta(minutes=k)), {"tide_level": 2.0}))
            for k in range(20)]
    try:
        async with svc:
            began = time.monotonic()
            await publish_all(mqtt_endpoint, msgs)
            assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 20, timeout=30) == 20
            assert crashed.is_set()
            text = svc.metrics_text().decode()
            assert 'haixun_ingest_task_restarts_total{task="writer"} 1.0' in text
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3).read())
            health = json.loads(body)
            assert health["writer_alive"] is True and health["status"] == "ok"
            assert 0 <= health["last_store_age_s"] <= time.monotonic() - began + 0.1  # a store of this test's readings (age rounded to 0.1 s)
        # stopped: the writer is not alive and /healthz says 503
        with pytest.raises(urllib.error.HTTPError) as err:
            await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3))
        assert err.value.code == 503
    finally:
        server.shutdown()
    assert scalar(settings.database_url, "SELECT count(*) FROM readings") == 20

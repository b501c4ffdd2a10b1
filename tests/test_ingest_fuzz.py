"""Issue 14, done-when: hypothesis-generated MQTT topics and payloads (and every vector of the issue)
against the real Mosquitto and a real IngestService never stop the writer, and each becomes exactly one
dead letter (counted). Ingest runs in its own thread and event loop for the whole test; each hypothesis
example publishes a list of hostile messages and waits until as many new dead letters are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from haixun.contract import QUANTITIES, Reason, format_ts
from haixun.ingest.service import IngestService
from tests.support.db import scalar, wait_for_count
from tests.support.ingest import add_hostile_targets, issue14_vectors
from tests.support.mqtt import publish_all

KNOWN_IDS = {"obs": "H1", "event": "CAMH", "status": "gw-h"}
REASONS = {r.value for r in Reason}


class IngestThread:
    """An IngestService on its own event loop in a thread (hypothesis examples are synchronous)."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.svc: IngestService | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.error: BaseException | None = None

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with IngestService(self.settings) as svc:
                self.svc = svc
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc
            self._ready.set()

    def __enter__(self) -> IngestThread:
        self._thread.start()
        assert self._ready.wait(20) and self.error is None, self.error
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


# ---- strategies -------------------------------------------------------------------------------------
# One topic level. Mosquitto itself refuses (disconnects the publisher: "malformed packet") topics with
# control characters, surrogates or noncharacters, so those never reach ingest; everything else does.
_level = st.text(st.characters(blacklist_characters="/+#", blacklist_categories=("Cc", "Cs", "Cn")), max_size=80)
bad_ts_syntax = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-02-30T00:00:00Z",
                     "2024-01-01T00:00:00", "yesterday", "", "2024-01-01T25:00:00Z", "1e400"]),
    st.integers(), st.floats(allow_nan=True), st.none(), st.booleans(),
)
# readings and camera events too old for the history window (62 days): dead letter too_old
# (a gateway status keeps an old ts: it is stored, so it is not used for statuses)
bad_ts = bad_ts_syntax | st.integers(63, 700_000).map(lambda d: format_ts(datetime.now(UTC) - timedelta(days=d)))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
hostile_number = st.one_of(st.integers(min_value=10**20, max_value=10**400), st.integers(max_value=-(10**20)),
                           st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]))


def _now_ts() -> str:
    return format_ts(datetime.now(UTC) - timedelta(minutes=1))


@st.composite
def bad_obs(draw) -> bytes:
    """An observation for the known station H1 (tide_level, wind_speed) that can never be valid."""
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return json.dumps({"ts": draw(bad_ts), "obs": {"tide_level": 1.0}}).encode()
    if choice == 1:  # a raw number token that no float holds
        return (f'{{"ts": "{_now_ts()}", "obs": {{"tide_level": {draw(hostile_number)}}}}}').encode()
    if choice == 2:  # a quantity H1 does not measure, or none of the contract's
        q = draw(st.sampled_from(sorted(set(QUANTITIES) - {"tide_level", "wind_speed"})) | st.text(min_size=1, max_size=10)
                 .filter(lambda t: t not in QUANTITIES))
        return json.dumps({"ts": _now_ts(), "obs": {q: 1.0}}).encode()
    if choice == 3:  # a batch with one bad element
        good = {"ts": _now_ts(), "obs": {"tide_level": 1.0}}
        return json.dumps([good, {"ts": draw(bad_ts), "obs": {"tide_level": 1.0}}]).encode()
    return json.dumps({"ts": _now_ts(), "obs": {"tide_level": draw(st.text() | st.booleans() | st.none()
                                                                    | st.lists(st.integers(), max_size=2))}}).encode()


@st.composite
def bad_event(draw) -> bytes:
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return (f'{{"ts": "{_now_ts()}", "type": "overtopping", "confidence": {draw(hostile_number)}}}').encode()
    if choice == 1:
        depth = draw(st.integers(17, 990))
        return ('{{"ts": "{}", "type": "overtopping", "confidence": 0.5, "x": {}}}'.format(_now_ts(), '{"a":' * depth + "1" + "}" * depth)).encode()
    return json.dumps({"ts": draw(bad_ts), "type": "overtopping", "confidence": 0.5}).encode()


@st.composite
def bad_status(draw) -> bytes:
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return json.dumps({"status": "online", "ts": draw(bad_ts_syntax)}).encode()
    if choice == 1:
        depth = draw(st.integers(17, 990))
        return ('{"status": "offline", "x": %s}' % ('[' * depth + "]" * depth)).encode()
    return draw(st.binary(max_size=64).filter(lambda b: b.strip() not in (b"online", b"offline")))


@st.composite
def hostile_message(draw, root: str) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["obs", "event", "status"]))
    if draw(st.booleans()):  # the known id with a payload that can never be valid
        payload = draw({"obs": bad_obs(), "event": bad_event(), "status": bad_status()}[kind])
        return f"{root}/v1/{kind}/{KNOWN_IDS[kind]}", payload
    # any other id (bad ids, unknown ids, huge ids) with any payload, valid or not
    ident = draw(_level.filter(lambda t: t not in KNOWN_IDS.values()) | st.just("A" * draw(st.integers(65, 9000))))
    payload = draw(st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.just(json.dumps({"ts": _now_ts(), "obs": {"tide_level": 1.0}}).encode()),
        st.just(json.dumps({"ts": _now_ts(), "type": "overtopping", "confidence": 0.5}).encode()),
        st.just(b"offline"),
        st.integers(256 * 1024 + 1, 300 * 1024).map(lambda n: b"[" + b" " * n + b"]"),
    ))
    return f"{root}/v1/{kind}/{ident}", payload


@pytest.mark.slow  # ~30 s: 25 examples of up to 12 messages, each waited for in the database
def test_hostile_mqtt_messages_never_stop_the_writer_and_each_is_one_dead_letter(settings, mqtt_endpoint):
    add_hostile_targets(settings.database_url)
    url, root = settings.database_url, settings.topic_root
    sent = 0
    with IngestThread(settings) as ing:
        # every vector of the issue first, then what hypothesis makes of the strategies
        vectors = [(t, p) for t, p, _ in issue14_vectors(settings)]

        def publish_and_count(msgs: list[tuple[str, bytes]]) -> None:
            nonlocal sent
            before = int(scalar(url, "SELECT count(*) FROM dead_letters") or 0)
            asyncio.run(publish_all(mqtt_endpoint, msgs))
            sent += len(msgs)
            n = asyncio.run(_wait_dead_letters(url, before + len(msgs)))
            if n != before + len(msgs):
                got = {bytes(r[0]) for r in psycopg.connect(url).execute(
                    "SELECT payload FROM dead_letters ORDER BY id DESC LIMIT %s", (n - before,)).fetchall()}
                missing = [(t[:100], p[:100]) for t, p in msgs if p[:16 * 1024] not in got]
                raise AssertionError(f"{n - before} dead letters for {len(msgs)} hostile messages; "
                                     f"not dead-lettered: {missing}")
            assert ing.svc is not None and ing.svc.writer_alive
            ok, health = ing.svc.health()
            assert ok, health

        publish_and_count(vectors)

        @hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                   phases=[Phase.explicit, Phase.reuse, Phase.generate])
        @given(st.lists(hostile_message(root), min_size=1, max_size=12))
        def run(msgs: list[tuple[str, bytes]]) -> None:
            publish_and_count(msgs)

        run()
        assert ing.svc is not None
        svc = ing.svc
        text = svc.metrics_text().decode()
    assert scalar(url, "SELECT count(*) FROM readings") == 0
    assert scalar(url, "SELECT count(*) FROM camera_events") == 0
    assert int(scalar(url, "SELECT count(*) FROM dead_letters") or 0) == sent
    with psycopg.connect(url) as conn:
        reasons = {r[0] for r in conn.execute("SELECT DISTINCT reason FROM dead_letters")}
    assert reasons <= REASONS
    assert "haixun_ingest_db_up 1.0" in text
    assert 'haixun_ingest_task_restarts_total{task="writer"}' not in text or \
        'haixun_ingest_task_restarts_total{task="writer"} 0.0' in text
    print(f"{sent} hostile messages -> {sent} dead letters; reasons {sorted(reasons)}")


async def _wait_dead_letters(url: str, expected: int, timeout: float = 30.0) -> int:
    """The dead-letter count once it reaches ``expected`` (or the wait ends: the caller names what is
    missing), read again 0.2 s later so that a message dead-lettered twice shows."""
    with contextlib.suppress(AssertionError):
        await wait_for_count(url, "SELECT count(*) FROM dead_letters", expected, timeout=timeout)
    await asyncio.sleep(0.2)
    return int(await asyncio.to_thread(scalar, url, "SELECT count(*) FROM dead_letters") or 0)

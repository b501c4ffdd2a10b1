"""The ingest service: MQTT (QoS 1, persistent session) -> QC -> PostgreSQL.

Two asyncio tasks:

* ``_run_mqtt``: one aiomqtt ``Client`` (fixed id, MQTT v5, clean_start False,
  session expiry; or MQTT 3.1.1 with clean_session False when
  ``settings.mqtt_protocol`` is "3.1.1", see below) reused in a reconnect loop with exponential backoff; every
  message goes from aiomqtt's callback straight into an ``asyncio.Queue``
  (see ``_Inbox``), stamped with the connection generation for its ack. The
  queue is bounded by Receive Maximum (we ack only after storing).
* ``_run_writer``: takes batches from the queue, parses/looks up/QCs them
  (``pipeline.process``) and stores them in one transaction
  (``store.batches.store_batch``), or, when PostgreSQL is unreachable, appends the
  raw messages to the on-disk spool (fsync). Only then are the messages
  acknowledged (manual PUBACK, see below). The spool is drained, in order,
  as soon as the database answers again (also after a restart).

Manual acknowledgement: aiomqtt 2.5.1 has no public manual-ack API, but the
paho-mqtt client it wraps (``Client._client``, paho 2.x) has
``manual_ack_set(True)`` and ``ack(mid, qos)``. We use those so a PUBACK
leaves only once the message is stored or spooled. Acks for a message
received on an earlier connection are skipped (the broker redelivers it; the
(station, quantity, ts) key makes the second store a no-op). The CONNECT
property Receive Maximum bounds the unacknowledged messages the broker sends
us, which is what turns a stalled writer into backpressure at the broker.

MQTT 3.1.1 (``HAIXUN_MQTT_PROTOCOL=3.1.1``, e.g. the demo's amqtt fallback
broker): a persistent session by ``clean_session=False`` (kept until the
broker's own expiry setting), no CONNECT properties (no session expiry, no
Receive Maximum) and plain QoS 1 subscriptions (no retain handling: the
retained gateway status comes again on every reconnect; storing it twice is
harmless). Backpressure then relies on the broker's limit of unacknowledged
QoS 1 messages per client (Mosquitto ``max_inflight_messages``, amqtt's
``max_inflight``), not on ours.

QC judges timestamps on ``settings.clock`` (the replay clock of a replay):
see ``QcEngine``. ``received_at`` itself stays wall time (latency).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple, cast

import aiomqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry

from haixun import contract
from haixun.contract import Reason
from haixun.errors import Unavailable
from haixun.ingest import qcstore
from haixun.ingest.admission import Admission, AdmissionConfig, Directory, load_admission_config
from haixun.ingest.metrics import IngestMetrics, prometheus_text
from haixun.ingest.pipeline import (
    Processed,
    RawMessage,
    dead_letter,
    describe,
    process,
    required_ids,
    utc_from_epoch,
)
from haixun.ingest.qc import QcConfig, QcEngine, load_qc_config
from haixun.ingest.spool import Spool, SpoolFull, read_segment
from haixun.lifecycle import Lifecycle
from haixun.mqttauth import INGEST_USER, client_args
from haixun.settings import Settings
from haixun.store import batches
from haixun.store.rows import DeadLetterRow
from haixun.store.stations import directory as read_directory

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 30.0
CACHE_REFRESH_S = 30.0
CACHE_MISS_REFRESH_MIN_S = 1.0
DB_CONNECT_TIMEOUT_S = 3
# /healthz: unhealthy when messages wait and nothing was stored or spooled for this long
STALL_S = 60.0
RESTART_BACKOFF_S = 1.0


class DbUnavailable(Unavailable):
    """PostgreSQL cannot be reached (or the connection broke): spool instead."""


class AckToken(NamedTuple):
    generation: int
    mid: int
    qos: int


class QueueItem(NamedTuple):
    message: RawMessage
    ack: AckToken | None


class _Inbox(asyncio.Queue[aiomqtt.Message]):
    """aiomqtt's incoming-message queue (its ``queue_type``): hands every message to ``sink`` at once.

    aiomqtt's own path, its queue -> ``client.messages``, costs a task and an
    ``asyncio.wait`` per message (~20 us, more than our parsing). Messages
    never wait here; ``client.messages`` is still iterated, only to learn of
    a disconnection. ``sink`` must not raise: aiomqtt would drop the message.
    """

    def __init__(self, sink: Callable[[aiomqtt.Message], None], maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self._sink = sink

    def put_nowait(self, item: aiomqtt.Message) -> None:
        self._sink(item)


class IngestService:
    """``async with IngestService(settings) as svc: ...`` or ``await svc.start()`` / ``await svc.stop()``."""

    def __init__(
        self,
        settings: Settings,
        *,
        registry: CollectorRegistry | None = None,
        qc_config: QcConfig | None = None,
        receive_maximum: int = 1000,
        spool_dir: Path | None = None,
        admission_config: AdmissionConfig | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = IngestMetrics.create(self.registry)
        self.qc = QcEngine(qc_config or load_qc_config(), clock=settings.clock)
        self.admission = Admission(admission_config or load_admission_config(), clock=settings.clock)
        self.receive_maximum = receive_maximum
        self.spool = Spool(spool_dir or settings.spool_dir, settings.spool_max_bytes)
        if receive_maximum > settings.ingest_queue_max:
            raise ValueError(f"receive_maximum {receive_maximum} > ingest_queue_max {settings.ingest_queue_max}")
        # Not bounded by maxsize: a full queue could only drop messages in the
        # MQTT callback. It is bounded by the broker instead: Receive Maximum
        # unacknowledged messages per connection, and we ack after storing.
        self._queue: asyncio.Queue[QueueItem] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._writer_stop = asyncio.Event()
        self._connected = asyncio.Event()
        self._generation = 0
        self._live_client: aiomqtt.Client | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self._partitioned: bool | None = None
        self._days_seen: set[date] = set()
        self._stations: set[str] = set()
        self._cameras: set[str] = set()
        self._cache_at = 0.0
        self._next_drain_at = 0.0
        self._drain_backoff = BACKOFF_MIN_S
        self._tasks: list[asyncio.Task[None]] = []  # [writer, mqtt] while running
        self._life = Lifecycle("IngestService")
        self._writer_task: asyncio.Task[None] | None = None
        self._started_mono = time.monotonic()
        self._last_progress_mono: float | None = None  # last batch stored or spooled
        self.metrics.writer_alive.set_function(lambda: 1.0 if self.writer_alive else 0.0)
        self.metrics.last_store_age.set_function(self._last_store_age)

    # ---- lifecycle -------------------------------------------------------
    async def __aenter__(self) -> IngestService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, *, wait_connected: float | None = 10.0) -> None:
        """Start the writer and the MQTT tasks; with ``wait_connected``, wait that long for the broker.
        Once per instance (haixun/lifecycle.py); a start that fails or times out stops both tasks."""
        await self._life.start(lambda: self._begin(wait_connected), lambda: self._shutdown(0.0))

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop reading, store and ack what is queued (up to ``timeout``), disconnect."""
        await self._life.stop(lambda: self._shutdown(timeout))

    async def _begin(self, wait_connected: float | None) -> None:
        log.info("ingest %s: QC config %s, spool %s (%d bytes pending)", self.settings.ingest_client_id,
                 self.qc.config.version, self.spool.directory, self.spool.bytes)
        if self.settings.ingest_shared_group:
            log.info("ingest %s: one worker of the shared subscription group %r", self.settings.ingest_client_id,
                     self.settings.ingest_shared_group)
        log.info("admission rules %s (history window %g days)", self.admission.config.version,
                 self.admission.config.history_max_days)
        self.metrics.spool_bytes.set(self.spool.bytes)
        self._started_mono = time.monotonic()
        self._tasks = [asyncio.create_task(self._supervise("writer", self._run_writer), name="ingest-writer"),
                       asyncio.create_task(self._supervise("mqtt", self._run_mqtt), name="ingest-mqtt")]
        if wait_connected:
            await asyncio.wait_for(self._connected.wait(), wait_connected)

    async def _shutdown(self, timeout: float) -> None:
        """The MQTT task first (it waits for the queue to be stored), then the writer; ``timeout`` 0:
        cancel both at once (a failed start)."""
        self._stopping.set()
        if len(self._tasks) == 2:
            writer_task, mqtt_task = self._tasks
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(mqtt_task), timeout)
            if not mqtt_task.done():
                mqtt_task.cancel()
            self._writer_stop.set()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer_task), timeout)
        for t in self._tasks:
            if not t.done():
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    def metrics_text(self) -> bytes:
        return prometheus_text(self.registry)

    # ---- supervision and health -------------------------------------------
    async def _supervise(self, name: str, run: Callable[[], Any]) -> None:
        """Run ``run()``; if it crashes, log it, count it, and start it again.

        A crash of the writer loses nothing: the messages it held were not
        acknowledged, and the MQTT connection is dropped so that the broker
        redelivers them (persistent session) to the restarted batches.
        """
        while True:
            if name == "writer":
                self._writer_running = True
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the supervisor's whole point
                log.exception("ingest task %s crashed; restarting it in %.1f s", name, RESTART_BACKOFF_S)
                self.metrics.task_restarts.labels(task=name).inc()
                if name == "writer":
                    self._writer_running = False
                    self._drop_connection_for_redelivery()
                if self._stopping.is_set() and name == "mqtt":
                    return
                await asyncio.sleep(RESTART_BACKOFF_S)
            finally:
                if name == "writer":
                    self._writer_running = False

    def _drop_connection_for_redelivery(self) -> None:
        client = self._live_client
        if client is not None:
            with contextlib.suppress(Exception):
                client._client.disconnect()  # noqa: SLF001 - aiomqtt then raises MqttError and reconnects
        # what is still queued belongs to this connection: it comes again
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()

    _writer_running = False

    @property
    def writer_alive(self) -> bool:
        return self._writer_running

    def _last_store_age(self) -> float:
        ref = self._last_progress_mono if self._last_progress_mono is not None else self._started_mono
        return max(0.0, time.monotonic() - ref)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, details) for ``/healthz``: the writer runs, and it is not stalled with messages waiting."""
        queued = self._queue.qsize()
        age = self._last_store_age()
        stalled = queued > 0 and age > STALL_S
        body: dict[str, Any] = {
            "writer_alive": self.writer_alive,
            "mqtt_connected": self.connected,
            "db_up": bool(self.metrics.db_up._value.get()),  # noqa: SLF001
            "queue_depth": queued,
            "spool_bytes": self.spool.bytes,
            "last_store_age_s": round(age, 1),
            "stalled": stalled,
        }
        ok = self.writer_alive and not stalled
        body["status"] = "ok" if ok else "unhealthy"
        return ok, body

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # ---- MQTT ------------------------------------------------------------
    @property
    def mqtt_v5(self) -> bool:
        return self.settings.mqtt_protocol == "5"

    def subscription_filters(self) -> list[str]:
        """The contract's topic filters, as ``$share/<group>/<filter>`` when workers share them.

        A shared subscription gets no retained messages (MQTT v5 4.8.2), so a
        group of workers never re-stores the retained gateway statuses; the
        next status a gateway publishes is stored as usual.
        """
        filters = contract.topic_filters(self.settings.topic_root)
        group = self.settings.ingest_shared_group
        return [f"$share/{group}/{f}" for f in filters] if group else filters

    def _make_client(self) -> aiomqtt.Client:
        conn = client_args(self.settings, user=INGEST_USER)
        queue_type = cast("type[asyncio.Queue[aiomqtt.Message]]", functools.partial(_Inbox, self._on_message))
        if self.mqtt_v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.settings.ingest_session_expiry_s
            props.ReceiveMaximum = self.receive_maximum
            client = aiomqtt.Client(
                **conn, identifier=self.settings.ingest_client_id, protocol=aiomqtt.ProtocolVersion.V5,
                clean_start=False, properties=props, keepalive=30, timeout=10, queue_type=queue_type,
            )
        else:  # 3.1.1: persistent session without v5 properties (module docstring)
            client = aiomqtt.Client(
                **conn, identifier=self.settings.ingest_client_id, protocol=aiomqtt.ProtocolVersion.V311,
                clean_session=False, keepalive=30, timeout=10, queue_type=queue_type,
            )
        # See the module docstring: paho's manual acknowledgement.
        client._client.manual_ack_set(True)  # noqa: SLF001
        return client

    async def _run_mqtt(self) -> None:
        client = self._make_client()
        backoff = BACKOFF_MIN_S
        while not self._stopping.is_set():
            # A new generation before connecting: the persistent session may
            # deliver messages right after CONNACK, before `async with` returns,
            # and they are stamped with the generation in _on_message.
            self._generation += 1
            self._live_client = client
            try:
                async with client:
                    # retainHandling=1: retained status only on a new subscription,
                    # not again on every reconnect of the persistent session.
                    for f in self.subscription_filters():
                        if self.mqtt_v5:
                            await client.subscribe(f, options=SubscribeOptions(qos=1, retainHandling=1))
                        else:
                            await client.subscribe(f, qos=1)
                    self._connected.set()
                    self.metrics.mqtt_connected.set(1)
                    backoff = BACKOFF_MIN_S
                    log.info("connected to %s as %s", self.settings.mqtt.host, client.identifier)
                    await self._consume(client)
                    if self._stopping.is_set():
                        # let the writer store and ack what is queued before DISCONNECT
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(self._queue.join(), 10)
                        return
            except aiomqtt.MqttError as exc:
                if self._connected.is_set():
                    self.metrics.mqtt_reconnects.inc()
                log.warning("MQTT connection lost or refused (%s); retrying in %.1f s", exc, backoff)
            finally:
                self._live_client = None
                self._connected.clear()
                self.metrics.mqtt_connected.set(0)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _consume(self, client: aiomqtt.Client) -> None:
        reader = asyncio.create_task(self._read(client))
        stopper = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        if reader.done() and not reader.cancelled():
            reader.result()  # re-raise MqttError

    async def _read(self, client: aiomqtt.Client) -> None:
        # Messages arrive through _Inbox -> _on_message; this only ends (with
        # MqttError) when the connection is lost.
        async for _ in client.messages:
            raise RuntimeError("a message bypassed the ingest inbox")

    def _on_message(self, m: aiomqtt.Message) -> None:
        """Called by aiomqtt (in the event loop) for every PUBLISH received."""
        payload = m.payload if isinstance(m.payload, (bytes, bytearray)) else str(m.payload).encode()
        self._queue.put_nowait(QueueItem(RawMessage(m.topic.value, bytes(payload), datetime.now(UTC)),
                                         AckToken(self._generation, m.mid, m.qos)))
        self.metrics.received.inc()

    def _ack(self, items: list[QueueItem]) -> None:
        client = self._live_client
        for it in items:
            a = it.ack
            if a is None or a.qos == 0 or client is None or a.generation != self._generation:
                continue
            client._client.ack(a.mid, a.qos)  # noqa: SLF001

    # ---- writer ----------------------------------------------------------
    async def _collect(self, wait_s: float) -> list[QueueItem]:
        try:
            first = await asyncio.wait_for(self._queue.get(), wait_s)
        except TimeoutError:
            return []
        items = [first]
        deadline = time.monotonic() + self.settings.ingest_batch_wait_ms / 1000
        while len(items) < self.settings.ingest_batch_max:
            try:
                items.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - time.monotonic()
            if left <= 0 or self._pending_unacked(items):
                break
            try:
                items.append(await asyncio.wait_for(self._queue.get(), left))
            except TimeoutError:
                break
        self.metrics.queue_depth.set(self._queue.qsize())
        return items

    def _pending_unacked(self, items: list[QueueItem]) -> bool:
        # The broker sends at most receive_maximum unacked messages: waiting
        # for more than that would only add latency.
        return len(items) >= self.receive_maximum

    async def _run_writer(self) -> None:
        while not (self._writer_stop.is_set() and self._queue.empty()):
            if not self.spool.is_empty() and time.monotonic() >= self._next_drain_at:
                await self._try_drain()
            items = await self._collect(0.2)
            if not items:
                continue
            try:
                await self._store_or_spool(items)
                self._last_progress_mono = time.monotonic()
            finally:
                for _ in items:
                    self._queue.task_done()

    async def _store_or_spool(self, items: list[QueueItem]) -> None:
        if self.spool.is_empty():
            try:
                await self._store_live([it.message for it in items])
                self._ack(items)
                return
            except DbUnavailable as exc:
                log.warning("database unavailable (%s): spooling to %s", exc, self.spool.directory)
                self._next_drain_at = time.monotonic() + self._drain_backoff
        backoff = BACKOFF_MIN_S
        while True:
            try:
                self.spool.append([(it.message.topic, it.message.payload, it.message.received_at.timestamp())
                                   for it in items])
                self.metrics.spooled.inc(len(items))
                self.metrics.spool_bytes.set(self.spool.bytes)
                self._ack(items)
                return
            except SpoolFull as exc:
                if self._writer_stop.is_set():
                    log.warning("stopping with a full spool: %d messages not acknowledged (redelivered later)",
                                len(items))
                    return
                log.warning("%s: not consuming until it drains", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                await self._try_drain()

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self.settings.database_url, autocommit=True, connect_timeout=DB_CONNECT_TIMEOUT_S)
            if self._partitioned is None:
                self._partitioned = await batches.readings_partitioned(self._conn)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._conn = None
            self.metrics.db_up.set(0)
            raise DbUnavailable(str(exc).strip()) from exc
        return self._conn

    async def _refresh_cache(self, conn: psycopg.AsyncConnection) -> None:
        found = await read_directory(conn)
        self._stations, self._cameras = set(found.stations), found.cameras
        self.admission.directory = Directory(found.stations, frozenset(found.gateways))
        await qcstore.refresh_station_context(conn, self.qc)  # datum offsets, QC state (issue 13/14)
        self._cache_at = time.monotonic()

    def _process(self, messages: list[RawMessage]) -> Processed:
        return process(self.settings.topic_root, messages, stations=self._stations, cameras=self._cameras,
                       qc=self.qc, max_bytes=self.settings.ingest_max_payload_bytes, admission=self.admission)

    async def _store(self, conn: psycopg.AsyncConnection, batch: Processed,
                     progress: batches.SpoolProgress | None) -> batches.StoreResult:
        return await batches.store_batch(conn, batch, partitioned=bool(self._partitioned), days_seen=self._days_seen,
                                        progress=progress, clock=self.settings.clock)

    async def _down(self, conn: psycopg.AsyncConnection | None, exc: BaseException) -> DbUnavailable:
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
        self._conn = None
        self.metrics.db_up.set(0)
        return DbUnavailable(str(exc).strip() or type(exc).__name__)

    async def _store_live(self, messages: list[RawMessage], progress: batches.SpoolProgress | None = None) -> None:
        """Store ``messages`` (one transaction), else one by one; raise DbUnavailable only on connection loss.

        Every other failure, of the batch or of one message (a database
        error that is not connection loss, or an unexpected exception), ends
        in dead letters with a reason: a message never stops the writer, and
        never makes a healthy database look down (issue 14).
        """
        t0 = time.perf_counter()
        conn = await self._connection()
        try:
            root, max_bytes = self.settings.topic_root, self.settings.ingest_max_payload_bytes
            need_s, need_c = required_ids(root, messages, max_bytes)
            age = time.monotonic() - self._cache_at
            missing = bool(need_s - self._stations or need_c - self._cameras)
            if age > CACHE_REFRESH_S or (missing and age > CACHE_MISS_REFRESH_MIN_S):
                await self._refresh_cache(conn)
        except Exception as exc:
            if batches.is_connection_loss(exc, conn):
                raise await self._down(conn, exc) from exc
            log.warning("station cache refresh failed (%s); using the cached one", describe(exc))
        try:
            batch = self._process(messages)
            result = await self._store(conn, batch, progress)
        except Exception as exc:
            if batches.is_connection_loss(exc, conn):
                raise await self._down(conn, exc) from exc
            # The batch failed (a database refusal such as a NUL character,
            # a size limit, or a bug): store message by message; refused
            # ones become dead letters so one bad message never blocks the stream.
            log.warning("batch of %d refused (%s); storing message by message", len(messages), describe(exc))
            batch, result = await self._store_one_by_one(conn, messages, progress)
        else:
            if batch.qc is not None:
                self.qc.commit(batch.qc)
        self.metrics.db_up.set(1)
        self._observe(batch, result, time.perf_counter() - t0)

    async def _store_one_by_one(self, conn: psycopg.AsyncConnection, messages: list[RawMessage],
                                progress: batches.SpoolProgress | None) -> tuple[Processed, batches.StoreResult]:
        total = Processed()
        offered = inserted = 0
        stations: set[str] = set()
        for i, m in enumerate(messages):
            prog = progress if i == len(messages) - 1 else None
            try:
                one = self._process([m])
                r = await self._store(conn, one, prog)
                if one.qc is not None:
                    self.qc.commit(one.qc)
            except Exception as exc:
                if batches.is_connection_loss(exc, conn):
                    raise await self._down(conn, exc) from exc
                one = Processed(dead_letters=[dead_letter(m, Reason.REJECTED.value,
                                                          f"not stored: {describe(exc)}")])
                r = await self._store_dead_letter(conn, one, prog)
            offered += r.offered
            inserted += r.inserted
            stations.update(r.stations)
            total.readings.extend(one.readings)
            total.events.extend(one.events)
            total.statuses.extend(one.statuses)
            total.dead_letters.extend(one.dead_letters)
            total.messages += 1
        return total, batches.StoreResult(offered, inserted, sorted(stations), None)

    async def _store_dead_letter(self, conn: psycopg.AsyncConnection, one: Processed,
                                 progress: batches.SpoolProgress | None) -> batches.StoreResult:
        """Store a dead letter; if even that is refused, a minimal one (no payload); if that too, log it."""
        try:
            return await self._store(conn, one, progress)
        except Exception as exc:
            if batches.is_connection_loss(exc, conn):
                raise await self._down(conn, exc) from exc
            d = one.dead_letters[0]
            minimal = DeadLetterRow(d.received_at, d.topic[:200], b"", d.reason,
                                    f"{d.detail[:500]}; payload of {len(d.payload)} bytes not kept: {describe(exc)}")
            one.dead_letters[0] = minimal
            try:
                return await self._store(conn, one, progress)
            except Exception as exc2:
                if batches.is_connection_loss(exc2, conn):
                    raise await self._down(conn, exc2) from exc2
                log.error("message on %r could not even be dead-lettered (%s); dropped", d.topic[:200],
                          describe(exc2))
                self.metrics.unrecorded.inc()
                one.dead_letters.clear()
                return batches.StoreResult(0, 0, [], None)

    def _observe(self, batch: Processed, result: batches.StoreResult, seconds: float) -> None:
        m = self.metrics
        m.batch_seconds.observe(seconds)
        m.stored.inc(result.inserted)
        m.duplicates.inc(result.duplicates)
        for d in batch.dead_letters:
            m.dead_lettered.labels(reason=d.reason).inc()
        flags: dict[int, int] = {}
        # readings of one message share their ts/received_at objects: one
        # latency per run of them, observed with its count
        last_ts = last_rat = None
        run = 0
        for r in batch.readings:
            flags[r.qc] = flags.get(r.qc, 0) + 1
            if r.ts is last_ts and r.received_at is last_rat:
                run += 1
                continue
            if run:
                assert last_ts is not None and last_rat is not None
                m.latency_seconds.observe(max(0.0, (last_rat - last_ts).total_seconds()), run)
            last_ts, last_rat, run = r.ts, r.received_at, 1
        if run:
            assert last_ts is not None and last_rat is not None
            m.latency_seconds.observe(max(0.0, (last_rat - last_ts).total_seconds()), run)
        for flag, count in flags.items():
            m.qc.labels(flag=str(flag)).inc(count)

    async def _try_drain(self) -> None:
        """Store spooled segments, oldest first; on failure retry later with backoff."""
        self.spool.seal()
        consumer = self.settings.ingest_client_id
        try:
            for seg in self.spool.segments():
                conn = await self._connection()
                try:
                    start = await batches.spool_offset(conn, consumer, seg.name)
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    self._conn = None
                    raise DbUnavailable(str(exc)) from exc
                chunk: list[RawMessage] = []
                last_offset = start
                for sm in read_segment(seg, start):
                    chunk.append(RawMessage(sm.topic, sm.payload, utc_from_epoch(sm.received_at)))
                    last_offset = sm.offset
                    if len(chunk) >= self.settings.ingest_batch_max:
                        await self._store_live(chunk, batches.SpoolProgress(consumer, seg.name, last_offset))
                        chunk = []
                if chunk:
                    await self._store_live(chunk, batches.SpoolProgress(consumer, seg.name, last_offset))
                # unlink first: names are never reused, so a left-over progress row is harmless
                self.spool.remove(seg)
                self.metrics.spool_bytes.set(self.spool.bytes)
                with contextlib.suppress(psycopg.Error):
                    await batches.forget_spool_segment(await self._connection(), consumer, seg.name)
                log.info("drained spool segment %s", seg.name)
            self._drain_backoff = BACKOFF_MIN_S
        except DbUnavailable as exc:
            log.info("spool drain deferred: database unavailable (%s)", exc)
            self._next_drain_at = time.monotonic() + self._drain_backoff
            self._drain_backoff = min(self._drain_backoff * 2, BACKOFF_MAX_S)
        except Exception:  # noqa: BLE001 - never a crash loop of the writer on a spool segment
            log.exception("spool drain failed; retrying in %.1f s", self._drain_backoff)
            self.metrics.task_restarts.labels(task="spool-drain").inc()
            self._next_drain_at = time.monotonic() + self._drain_backoff
            self._drain_backoff = min(self._drain_backoff * 2, BACKOFF_MAX_S)

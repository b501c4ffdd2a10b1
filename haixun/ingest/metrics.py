"""Prometheus metrics of the ingest service, in a registry passed in."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400)
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class WeightedHistogram(Collector):
    """A Prometheus histogram that takes ``observe(value, count)``.

    ``prometheus_client.Histogram.observe`` costs ~2 us and counts one value;
    the latency of a message's readings is one value observed once per
    reading (5+ per message). Same exposition (``_bucket``/``_count``/``_sum``)
    as a ``Histogram``, minus ``_created``.
    """

    def __init__(self, name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry) -> None:
        self._name = name
        self._doc = documentation
        self._upper = [float(b) for b in buckets]
        self._counts = [0] * (len(self._upper) + 1)  # last: above the largest bound (+Inf)
        self._sum = 0.0
        self._lock = threading.Lock()  # the metrics HTTP server collects from its own thread
        registry.register(self)

    def observe(self, value: float, count: int = 1) -> None:
        i = bisect_left(self._upper, value)  # first bound >= value: Prometheus buckets are "le"
        with self._lock:
            self._counts[i] += count
            self._sum += value * count

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts, total_sum = list(self._counts), self._sum
        buckets: list[tuple[str, float]] = []
        acc = 0
        for bound, c in zip([*self._upper, float("inf")], counts, strict=True):
            acc += c
            buckets.append((floatToGoString(bound), acc))
        yield HistogramMetricFamily(self._name, self._doc, buckets=buckets, sum_value=total_sum)


@dataclass(frozen=True, slots=True)
class IngestMetrics:
    registry: CollectorRegistry
    received: Counter
    stored: Counter
    duplicates: Counter
    dead_lettered: Counter
    qc: Counter
    spooled: Counter
    queue_depth: Gauge
    spool_bytes: Gauge
    db_up: Gauge
    mqtt_connected: Gauge
    mqtt_reconnects: Counter
    batch_seconds: Histogram
    latency_seconds: WeightedHistogram
    writer_alive: Gauge
    last_store_age: Gauge
    task_restarts: Counter
    unrecorded: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> IngestMetrics:
        p = "haixun_ingest_"
        return cls(
            registry=registry,
            received=Counter(p + "received_messages", "MQTT messages received", registry=registry),
            stored=Counter(p + "stored_readings", "readings newly stored", registry=registry),
            duplicates=Counter(p + "duplicate_readings", "readings offered but already stored (redelivery)",
                               registry=registry),
            dead_lettered=Counter(p + "dead_letters", "messages written to dead_letters", ["reason"],
                                  registry=registry),
            qc=Counter(p + "qc_flags", "QC flags of stored readings", ["flag"], registry=registry),
            spooled=Counter(p + "spooled_messages", "messages written to the on-disk spool", registry=registry),
            queue_depth=Gauge(p + "queue_depth", "messages waiting in the in-memory queue", registry=registry),
            spool_bytes=Gauge(p + "spool_bytes", "bytes in the on-disk spool", registry=registry),
            db_up=Gauge(p + "db_up", "1 when the last database write succeeded", registry=registry),
            mqtt_connected=Gauge(p + "mqtt_connected", "1 while connected to the broker", registry=registry),
            mqtt_reconnects=Counter(p + "mqtt_reconnects", "broker connection losses", registry=registry),
            batch_seconds=Histogram(p + "batch_seconds", "time to store one batch", buckets=BATCH_BUCKETS,
                                    registry=registry),
            latency_seconds=WeightedHistogram(p + "latency_seconds", "received_at - sensor ts of stored readings",
                                              buckets=LATENCY_BUCKETS, registry=registry),
            writer_alive=Gauge(p + "writer_alive", "1 while the writer task runs", registry=registry),
            last_store_age=Gauge(p + "last_store_age_seconds",
                                 "seconds since the writer last stored or spooled a batch (since start if never)",
                                 registry=registry),
            task_restarts=Counter(p + "task_restarts", "crashed ingest tasks restarted by the supervisor", ["task"],
                                  registry=registry),
            unrecorded=Counter(p + "unrecorded_messages",
                               "messages the database refused even as a minimal dead letter (logged, dropped)",
                               registry=registry),
        )


def prometheus_text(registry: CollectorRegistry) -> bytes:
    """Exposition text (content type ``prometheus_client.CONTENT_TYPE_LATEST``)."""
    return generate_latest(registry)

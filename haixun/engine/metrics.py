"""Engine metrics (prometheus-client), registered on a registry passed in.

Stages (histogram ``haixun_engine_stage_seconds{stage=...}``), measured on the
newest input of every ingest-triggered cycle:

* ``sensor_to_received``: sensor timestamp -> ingest received it (includes gateway/MQTT delay and clock skew)
* ``received_to_stored``: ingest received -> row stored in PostgreSQL
* ``stored_to_decided``: row stored -> engine decision made (NOTIFY, debounce, gather, riskcode)
* ``received_to_decided``: ingest received -> decision (the "ingest -> decided" stage)
* ``decided_to_committed``: decision -> state_log row committed and NOTIFY sent
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
_CYCLE_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class EngineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.stage_seconds = Histogram(
            "haixun_engine_stage_seconds", "Pipeline stage latency of the newest input per ingest-triggered cycle",
            ["stage"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.cycle_seconds = Histogram(
            "haixun_engine_cycle_seconds", "Engine cycle duration (gather + evaluate + write)",
            ["trigger"], buckets=_CYCLE_BUCKETS, registry=registry)
        self.cycles = Counter("haixun_engine_cycles", "Engine cycles run", ["trigger", "outcome"], registry=registry)
        self.notifications = Counter("haixun_engine_ingest_notifications", "haixun_ingest notifications received",
                                     registry=registry)
        self.is_leader = Gauge("haixun_engine_is_leader", "1 while this process leads", registry=registry)
        self.leader_changes = Counter("haixun_engine_leadership_acquired", "Times this process became leader",
                                      registry=registry)
        self.last_seq = Gauge("haixun_engine_last_seq", "Last state_log seq written", registry=registry)
        self.tide_refits = Counter("haixun_engine_tide_refits", "Tidal model fits", ["outcome"], registry=registry)
        self.stations_offline = Gauge("haixun_engine_stations_offline",
                                      "Stations not online in the leader's last cycle (no fresh reading within their "
                                      "staleness limit, or gateway offline)", registry=registry)
        self.data_outages = Gauge("haixun_engine_data_outages", "Open data-outage alarms (stations and gateways)",
                                  registry=registry)
        self.renotified = Counter("haixun_engine_red_renotifications", "Unacknowledged red alarms re-notified",
                                  registry=registry)

    def text(self) -> bytes:
        """The Prometheus exposition text of ``registry``."""
        return generate_latest(self.registry)

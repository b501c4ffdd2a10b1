"""Prometheus metrics of one API app (own registry: no process globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("haixun_api_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram("haixun_api_request_seconds", "HTTP request duration", ["route"],
                                         buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                                         registry=r)
        self.ws_clients = Gauge("haixun_ws_clients", "Connected websocket clients", ["channel"], registry=r)
        self.ws_messages = Counter("haixun_ws_messages", "Websocket messages queued to clients",
                                   ["channel", "type"], registry=r)
        self.ws_dropped = Counter("haixun_ws_dropped", "Websocket clients dropped", ["channel", "reason"], registry=r)
        self.push_latency = Histogram("haixun_push_latency_seconds", "pushed_at - decided_at of a state",
                                      buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60), registry=r)
        self.state_seq = Gauge("haixun_state_seq", "Last state seq seen by this API process", registry=r)
        self.risk_cache = Counter("haixun_risk_cache", "Risk lookups by cache result", ["result"], registry=r)
        self.renotify = Counter("haixun_alarm_renotify", "Red alarms re-notified by this process", registry=r)
        self.logins = Counter("haixun_api_logins", "Login attempts by result (ok, failed, throttled)", ["result"],
                              registry=r)
        self.risk_push_passes = Counter("haixun_ws_risk_passes", "/ws/risk recompute passes", registry=r)
        self.risk_push_cells = Counter("haixun_ws_risk_cells", "Location cells computed by /ws/risk passes",
                                       registry=r)
        self.ws_refused = Counter("haixun_ws_refused", "Websocket connections refused", ["reason"], registry=r)
        self.listener_reconnects = Counter("haixun_api_listener_reconnects", "Restarts of the LISTEN connection",
                                           registry=r)

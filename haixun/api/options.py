"""Tunables of the API process that are not deployment settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ApiOptions:
    # websockets
    ws_queue_max: int = 256          # per-client send queue; full -> client dropped (close 4008)
    # websocket connections of this process (both channels) and per client address; more -> close 1013.
    # None: Settings.ws_max_clients / ws_max_per_address (HAIXUN_WS_MAX_CLIENTS, HAIXUN_WS_MAX_PER_ADDRESS)
    ws_max_clients: int | None = None
    ws_max_per_address: int | None = None
    ws_close_timeout_s: float = 2.0  # a dropped client's close handshake; then the socket is aborted
    ws_risk_batch: int = 8           # /ws/risk cells computed between two yields to the event loop
    ws_risk_min_interval_s: float = 1.0  # /ws/risk recompute passes at most this often (and half the time)
    ws_heartbeat_s: float = 15.0     # ping message interval
    ring_size: int = 2048            # states kept in memory for ?since= replay
    replay_max_rows: int = 10_000    # state_log fallback limit for ?since=
    state_poll_s: float = 5.0        # safety poll of state_log in case a NOTIFY was missed
    # alarms
    renotify_every_s: float = 300.0  # re-notify an unacknowledged red alarm this often
    renotify_check_s: float = 30.0   # how often the API looks for due alarms (0 = never)
    # auth
    jwt_ttl_s: int = 12 * 3600
    login_user_max_failures: int = 10    # failed logins per user name in login_window_s -> 429
    login_addr_max_failures: int = 30    # failed logins per client address in login_window_s -> 429
    login_window_s: float = 600.0
    password_threads: int = 2            # threads hashing passwords (argon2id, 19 MiB each)
    # database (public routes fail fast with 503 during an outage)
    db_checkout_timeout_s: float = 3.0   # wait for a pool connection
    db_connect_timeout_s: int = 3        # libpq connect_timeout of pool connections
    db_statement_timeout_ms: int = 5_000 # statement_timeout of the API's pool connections
    # risk
    risk_cache_max: int = 20_000
    # readiness
    reading_fresh_s: float = 300.0
    # geography (None: haixun/data/pinghu.geojson)
    geo_path: Path | None = None
    web_dir: Path | None = None      # None: haixun/web

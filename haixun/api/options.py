"""Tunables of the API process that are not deployment settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ApiOptions:
    # websockets
    ws_queue_max: int = 256          # per-client send queue; full -> client dropped (close 4008)
    ws_heartbeat_s: float = 15.0     # ping message interval
    ring_size: int = 2048            # states kept in memory for ?since= replay
    replay_max_rows: int = 10_000    # state_log fallback limit for ?since=
    state_poll_s: float = 5.0        # safety poll of state_log in case a NOTIFY was missed
    # alarms
    renotify_every_s: float = 300.0  # re-notify an unacknowledged red alarm this often
    renotify_check_s: float = 30.0   # how often the API looks for due alarms (0 = never)
    # auth
    jwt_ttl_s: int = 12 * 3600
    # risk
    risk_cache_max: int = 20_000
    # readiness
    reading_fresh_s: float = 300.0
    # geography (None: haixun/data/pinghu.geojson)
    geo_path: Path | None = None
    web_dir: Path | None = None      # None: haixun/web

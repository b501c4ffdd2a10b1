"""Per-app state (on ``app.state.ctx``): no module-level globals."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, WebSocket
from psycopg_pool import AsyncConnectionPool

from haixun.api.auth import PasswordHasherPool
from haixun.api.geo import ServedGeography
from haixun.api.live import Hub, LiveState
from haixun.api.metrics import ApiMetrics
from haixun.api.options import ApiOptions
from haixun.api.ratelimit import LoginLimiter
from haixun.api.risk import OpsStatus
from haixun.riskcode import RiskConfig, SeawallIndex
from haixun.settings import Settings
from haixun.store import places as store_places


class LruCache:
    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._d: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any | None:
        v = self._d.get(key)
        if v is not None:
            self._d.move_to_end(key)
        return v

    def put(self, key: Any, value: Any) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.max_items:
            self._d.popitem(last=False)

    def __len__(self) -> int:
        return len(self._d)


@dataclass
class ApiContext:
    settings: Settings
    options: ApiOptions
    metrics: ApiMetrics
    geo: ServedGeography
    risk_config: RiskConfig
    seawall: SeawallIndex            # riskcode's crest-line index for risk_config
    live: LiveState
    hub: Hub
    pool: AsyncConnectionPool | None = None
    ops: OpsStatus = field(default_factory=lambda: OpsStatus({}, {}))
    ops_version: int = 0
    risk_cache: LruCache = field(default_factory=lambda: LruCache(20_000))
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    listener: Any = None
    login_limiter: LoginLimiter = field(default_factory=lambda: LoginLimiter(10, 30, 600.0))
    hasher: PasswordHasherPool = field(default_factory=PasswordHasherPool)

    risk_push_task: asyncio.Task[None] | None = None   # risk_push.push_risk_updates
    risk_push_dirty: bool = False
    # per /ws/risk cell: ((ops_version, config_version), segment ids, their state entries) at its last computation
    risk_cell_inputs: dict[Any, Any] = field(default_factory=dict)

    config_version: int = 0          # bumped by use_config (part of the risk cache key)
    # (id, sha256) of the threshold_versions row in use; None: the packaged riskcode.toml
    threshold_fingerprint: tuple[int, str] | None = None

    def use_config(self, config: RiskConfig, fingerprint: tuple[int, str] | None = None) -> None:
        """Switch to another risk configuration (zones may move: rebuild the seawall index).
        ``fingerprint``: (id, sha256) of its threshold_versions row, None for the packaged file."""
        self.seawall = self.geo.seawall(config)
        self.risk_config = config
        self.threshold_fingerprint = fingerprint
        self.config_version += 1

    async def reload_ops(self) -> bool:
        """Shelter/road status (shelters.open / roads.closed, migration 010) after a change here or in
        another API process; ids missing from the tables keep the geography file's initial value."""
        async with self.db().connection() as conn:
            shelters = await store_places.status_values(conn, "shelter")
            roads = await store_places.status_values(conn, "road")
        ops = OpsStatus(shelters, roads)
        if ops == self.ops:
            return False
        self.ops = ops
        self.ops_version += 1
        return True

    def db(self) -> AsyncConnectionPool:
        if self.pool is None:
            raise RuntimeError("database pool not open")
        return self.pool


async def get_ctx(request: Request) -> ApiContext:
    """Dependency of the routes. ``async``: FastAPI runs a plain ``def`` dependency in its thread pool,
    a thread hand-off per request for an attribute read."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


def ws_ctx(ws: WebSocket) -> ApiContext:
    return ws.app.state.ctx

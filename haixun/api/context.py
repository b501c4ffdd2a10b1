"""Per-app state (on ``app.state.ctx``): no module-level globals."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, WebSocket
from psycopg_pool import AsyncConnectionPool

from haixun.api.geo import Geography
from haixun.api.live import Hub, LiveState
from haixun.api.metrics import ApiMetrics
from haixun.api.options import ApiOptions
from haixun.api.risk import OpsStatus
from haixun.riskcode.config import RiskConfig
from haixun.settings import Settings


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
    geo: Geography
    risk_config: RiskConfig
    live: LiveState
    hub: Hub
    pool: AsyncConnectionPool | None = None
    ops: OpsStatus = field(default_factory=lambda: OpsStatus({}, {}))
    ops_version: int = 0
    risk_cache: LruCache = field(default_factory=lambda: LruCache(20_000))
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    listener: Any = None

    async def reload_ops(self) -> None:
        """Shelter/road status from the database (after a change here or in another API process)."""
        async with self.db().connection() as conn:
            shelters = await (await conn.execute("SELECT shelter_id, open FROM shelter_status")).fetchall()
            roads = await (await conn.execute("SELECT road_id, closed FROM road_status")).fetchall()
        ops = OpsStatus(dict(shelters), dict(roads))
        if ops != self.ops:
            self.ops = ops
            self.ops_version += 1

    def db(self) -> AsyncConnectionPool:
        if self.pool is None:
            raise RuntimeError("database pool not open")
        return self.pool


def get_ctx(request: Request) -> ApiContext:
    return request.app.state.ctx


def ws_ctx(ws: WebSocket) -> ApiContext:
    return ws.app.state.ctx

"""Pure ASGI middleware of the API (no starlette BaseHTTPMiddleware: no extra task and
stream per request)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haixun.api.metrics import ApiMetrics

ABORT_KEY = "haixun.abort"


class TransportAbort:
    """Websocket scopes get ``scope[ABORT_KEY]``: a callable that aborts the TCP connection (uvicorn's
    protocol transport), for clients that never read the close frame. Outermost: sees uvicorn's own
    ``send`` (a bound method of its protocol object)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None and hasattr(transport, "abort"):
                scope[ABORT_KEY] = transport.abort
        await self.app(scope, receive, send)


class RequestMetrics:
    """``haixun_api_requests{method, route, status}`` and ``haixun_api_request_seconds{route}`` for
    every HTTP request. ``route`` is the matched route's path template (never the concrete path,
    so no location or id ends up in a label), ``unmatched`` when no route matched; a request that
    raised before its response started counts as 500. The time runs to the end of the response body."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics
        # labelled children, looked up once per label set (prometheus' .labels() is not free)
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._histograms: dict[str, Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._observe(scope, status, time.perf_counter() - t0)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        name = getattr(route, "path", "unmatched")
        method = str(scope.get("method", ""))
        key = (method, name, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.requests.labels(method, name, str(status))
        counter.inc()
        hist = self._histograms.get(name)
        if hist is None:
            hist = self._histograms[name] = self.metrics.request_seconds.labels(name)
        hist.observe(seconds)

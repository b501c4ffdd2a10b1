"""The fan-out's per-message work: one encoding per broadcast (the same text json.dumps wrote), one
counter update per broadcast, and permessage-deflate off unless configured."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from haixun.api.cli import uvicorn_options
from haixun.api.live import Hub
from haixun.api.metrics import ApiMetrics
from haixun.cli import build_parser
from haixun.settings import Settings

MESSAGES = [
    {"type": "delta", "seq": 7, "at": "2026-12-01T00:00:00Z",
     "body": {"segments": {"PH01": {"level": "red", "hazards": [{"value": 4.25, "unit": "m", "detail": "潮位 4.25 m"}],
                                    "freeboard_m": -0.1, "since": datetime(2026, 12, 1, 3, 4, 5, 678, tzinfo=UTC)}},
              "stations": {"ZP-01": {"latest": {"tide_level": {"value": 1e-05, "ts": "2026-12-01T00:00:00Z",
                                                              "qc": 1}}, "age_s": 12.0, "online": True}},
              "counts": {1: 2, 3: [True, False, None]}, "big": 2 ** 40, "neg": -0.0}},
    {"type": "alarm", "event": "new", "alarm": {"id": 3, "at": datetime(2026, 12, 1, tzinfo=UTC), "reasons": []}},
]


def _hub() -> Hub:
    return Hub(queue_max=10, metrics=ApiMetrics())


def test_encoding_is_the_json_text() -> None:
    """The same JSON as json.dumps(ensure_ascii=False, separators, default=str): equal values (floats may be
    written in another notation: 1e-05 as 0.00001), compact, UTF-8 text rather than escapes."""
    for msg in MESSAGES:
        text = Hub.encode(msg)
        assert json.loads(text) == json.loads(json.dumps(msg, ensure_ascii=False, separators=(",", ":"), default=str))
        assert ", " not in text and ": " not in text
    assert "潮位" in Hub.encode(MESSAGES[0]) and '"since":"2026-12-01 03:04:05.000678+00:00"' in Hub.encode(MESSAGES[0])


def _messages_total(hub: Hub, channel: str, kind: str) -> float:
    return hub.metrics.ws_messages.labels(channel, kind)._value.get()  # type: ignore[no-any-return]


async def test_broadcast_counts_every_delivery_once() -> None:
    hub = _hub()
    live = [hub.register("live", addr=f"10.0.0.{i}") for i in range(5)]
    hub.register("risk", addr="10.0.0.9")
    for _ in range(10):  # fills the first client's queue (10): the 11th broadcast drops it
        live[0].queue.put_nowait("x") if live[0].queue.qsize() < 10 else None
    assert hub.broadcast("live", {"type": "delta", "seq": 1}) == 4
    assert _messages_total(hub, "live", "delta") == 4
    assert live[0].dropped.is_set() and all(c.queue.qsize() == 1 for c in live[1:])
    assert hub.metrics.ws_dropped.labels("live", "too_slow")._value.get() == 1
    assert hub.broadcast("live", {"type": "delta", "seq": 2}) == 4
    assert _messages_total(hub, "live", "delta") == 8 and _messages_total(hub, "risk", "delta") == 0
    await asyncio.sleep(0)


def test_deflate_off_by_default_and_configurable() -> None:
    args = build_parser().parse_args(["api"])
    assert uvicorn_options(args, Settings())["ws_per_message_deflate"] is False
    assert uvicorn_options(args, Settings(ws_per_message_deflate=True))["ws_per_message_deflate"] is True

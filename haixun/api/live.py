"""Live state fan-out: the merged engine state, a replay ring, and the
websocket client hub with bounded per-client queues.

Everything here runs on the event loop of the API process; no locks are
needed because the methods that change state never await.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from haixun.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

PER_ID_KEYS = ("segments", "stations")
AREA_PER_ID_KEYS = ("towns", "villages")
CLOSE_TOO_SLOW = 4008
# datetimes and dataclasses through default=str (as json.dumps(default=str)), int keys allowed (as json.dumps)
_ORJSON_AS_JSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if ts else None


@dataclass(frozen=True, slots=True)
class StateRow:
    seq: int
    at: datetime
    kind: str                 # snapshot | delta
    body: dict[str, Any]


def merge_state(base: dict[str, Any], delta: dict[str, Any]) -> None:
    """Apply a delta body in place (docs/api.md: per-id replacement)."""
    for key, value in delta.items():
        if key in PER_ID_KEYS and isinstance(value, dict):
            base.setdefault(key, {}).update(value)
        elif key == "areas" and isinstance(value, dict):
            areas = base.setdefault("areas", {})
            for akey, avalue in value.items():
                if akey in AREA_PER_ID_KEYS and isinstance(avalue, dict):
                    areas.setdefault(akey, {}).update(avalue)
                else:
                    areas[akey] = avalue
        else:
            base[key] = value


class LiveState:
    """The merged current state and the last ``ring_size`` rows for replay.

    ``ring_floor``: every state_log row with ``ring_floor < seq <= self.seq``
    is in the ring (the engine leader writes state_log serially, so rows are
    read in seq order; gaps in seq are rolled-back ids, not rows).
    """

    def __init__(self, ring_size: int) -> None:
        self.seq = 0
        self.at: datetime | None = None
        self.body: dict[str, Any] = {}
        self.ring: deque[StateRow] = deque(maxlen=ring_size)
        self.ring_floor = 0

    def apply(self, row: StateRow) -> bool:
        """Apply a row newer than the current seq; False (ignored) otherwise."""
        if row.seq <= self.seq:
            return False
        if row.kind == "snapshot":
            self.body = copy.deepcopy(row.body)
        else:
            merge_state(self.body, row.body)
        self.body["seq"] = row.seq
        self.seq = row.seq
        self.at = row.at
        if self.ring.maxlen is not None and len(self.ring) == self.ring.maxlen:
            self.ring_floor = self.ring[0].seq
        self.ring.append(row)
        return True

    def replay_from_ring(self, since: int) -> list[StateRow] | None:
        """Rows after ``since`` if the ring holds all of them, else None."""
        if since == self.seq:
            return []
        if since > self.seq or since < self.ring_floor:
            return None
        return [r for r in self.ring if r.seq > since]

    def snapshot_message(self, reason: str | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "snapshot", "seq": self.seq, "at": iso(self.at), "body": self.body}
        if reason:
            msg["reason"] = reason
        return msg


def row_message(row: StateRow) -> dict[str, Any]:
    return {"type": "delta" if row.kind == "delta" else "snapshot", "seq": row.seq, "at": iso(row.at), "body": row.body}


@dataclass(eq=False)
class Client:
    channel: str                               # "live" | "risk"
    queue: asyncio.Queue[str]
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    drop_reason: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    addr: str = ""
    # sent before the queue (a replay of any length): the queue bounds only what arrives meanwhile
    backlog: list[str] = field(default_factory=list)

    def offer(self, text: str) -> bool:
        if self.dropped.is_set():
            return False
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            self.drop_reason = "too_slow"
            self.dropped.set()
            return False


class Hub:
    """Websocket clients; broadcasting never awaits, so one slow client cannot delay another."""

    def __init__(self, queue_max: int, metrics: Any, clock: Clock = SYSTEM_CLOCK) -> None:
        self.queue_max = queue_max
        self.metrics = metrics
        self.clock = clock
        self.clients: set[Client] = set()
        self.per_addr: dict[str, int] = {}

    def admit(self, addr: str, max_total: int, max_per_addr: int) -> str | None:
        """None when one more connection from ``addr`` fits the caps, else the reason it does not."""
        if len(self.clients) >= max_total:
            return "too many connections"
        if self.per_addr.get(addr, 0) >= max_per_addr:
            return "too many connections from this address"
        return None

    def register(self, channel: str, addr: str = "", **context: Any) -> Client:
        c = Client(channel=channel, queue=asyncio.Queue(maxsize=self.queue_max), context=dict(context), addr=addr)
        self.clients.add(c)
        self.per_addr[addr] = self.per_addr.get(addr, 0) + 1
        self.metrics.ws_clients.labels(channel).inc()
        return c

    def unregister(self, c: Client) -> None:
        if c in self.clients:
            self.clients.discard(c)
            n = self.per_addr.get(c.addr, 1) - 1
            if n > 0:
                self.per_addr[c.addr] = n
            else:
                self.per_addr.pop(c.addr, None)
            self.metrics.ws_clients.labels(c.channel).dec()

    def send_backlog(self, c: Client, msgs: list[dict[str, Any]]) -> None:
        """Messages sent ahead of the queue, however many (a replay)."""
        c.backlog.extend(self.encode(stamp(m, self.clock)) for m in msgs)
        self.metrics.ws_messages.labels(c.channel, "replay").inc(len(msgs))

    @staticmethod
    def encode(msg: dict[str, Any]) -> str:
        """Compact JSON text, the JSON json.dumps(ensure_ascii=False, separators=(",", ":"), default=str) writes
        (datetimes and other objects as str(), non-str keys as text; tiny or huge floats may use another
        notation), by orjson: a 10,000-station delta is megabytes, encoded once per state for every client."""
        return orjson.dumps(msg, default=str, option=_ORJSON_AS_JSON).decode("utf-8")

    def send(self, c: Client, msg: dict[str, Any]) -> bool:
        ok = c.offer(self.encode(stamp(msg, self.clock)))
        self._count(c, msg, ok)
        return ok

    def broadcast(self, channel: str, msg: dict[str, Any], clients: Iterable[Client] | None = None) -> int:
        text = self.encode(stamp(msg, self.clock))
        n = 0
        for c in list(clients if clients is not None else self.clients):
            if c.channel != channel:
                continue
            if c.offer(text):
                n += 1
            else:
                self._count(c, msg, False)
        if n:  # one counter update per broadcast, not one per client (a labels() lookup each)
            self.metrics.ws_messages.labels(channel, str(msg.get("type"))).inc(n)
        return n

    def _count(self, c: Client, msg: dict[str, Any], ok: bool) -> None:
        if ok:
            self.metrics.ws_messages.labels(c.channel, str(msg.get("type"))).inc()
        elif c.drop_reason == "too_slow" and not c.context.get("_drop_counted"):
            c.context["_drop_counted"] = True
            self.metrics.ws_dropped.labels(c.channel, "too_slow").inc()


def stamp(msg: dict[str, Any], clock: Clock = SYSTEM_CLOCK) -> dict[str, Any]:
    """``pushed_at``: wall clock (latency); ``server_now``: the system clock's
    time (a replay's clock), which pages compute data ages against."""
    out = dict(msg)
    out["pushed_at"] = iso(utcnow())
    out["server_now"] = iso(clock.now())
    return out

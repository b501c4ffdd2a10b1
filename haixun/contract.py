"""The MQTT contract, version 1 (see docs/contract.md).

Pure parsing and validation: bytes and topic in, typed messages out, or a
``ContractError`` whose ``reason`` is the dead-letter reason code. Ingest and
the simulators both use this module, so the wire format has one definition.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from haixun.errors import InvalidInput

CONTRACT_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class Quantity:
    name: str
    unit: str
    description: str
    # Physically impossible beyond these bounds: such a payload is malformed
    # (wrong unit, garbage), dead-lettered, never stored. The QC gross-range
    # test (ingest/qc.py) applies the tighter sensor/climate limits.
    physical_min: float
    physical_max: float


QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("tide_level", "m", "water level, 1985 national height datum", -20.0, 30.0),
        Quantity("wind_speed", "m/s", "10-min mean wind speed at 10 m", 0.0, 120.0),
        Quantity("wind_gust", "m/s", "3-s gust at 10 m", 0.0, 150.0),
        Quantity("wind_dir", "deg", "direction the wind blows from, true north", 0.0, 360.0),
        Quantity("wave_height", "m", "spectral significant wave height Hm0", 0.0, 40.0),
        Quantity("wave_period", "s", "spectral mean period Tm-1,0 (or peak period, see station)", 0.0, 40.0),
        Quantity("air_pressure", "hPa", "sea-level air pressure", 800.0, 1100.0),
        Quantity("rainfall", "mm/h", "rain rate", 0.0, 500.0),
        Quantity("air_temperature", "degC", "air temperature", -60.0, 60.0),
        Quantity("water_temperature", "degC", "sea surface temperature", -5.0, 45.0),
        Quantity("visibility", "m", "horizontal visibility", 0.0, 100_000.0),
    )
}


class CameraEventType(StrEnum):
    OVERTOPPING = "overtopping"
    WATER_ON_ROAD = "water_on_road"
    PERSON_ON_SEAWALL = "person_on_seawall"
    VESSEL_ADRIFT = "vessel_adrift"
    WALL_DAMAGE = "wall_damage"
    RED_TIDE = "red_tide"


class Reason(StrEnum):
    """Dead-letter reason codes (stored in dead_letters.reason)."""

    BAD_TOPIC = "bad_topic"
    OVERSIZED = "oversized"
    BAD_JSON = "bad_json"
    BAD_SCHEMA = "bad_schema"
    BAD_TIMESTAMP = "bad_timestamp"
    UNKNOWN_QUANTITY = "unknown_quantity"
    NOT_A_NUMBER = "not_a_number"
    OUT_OF_PHYSICAL_RANGE = "out_of_physical_range"
    UNKNOWN_STATION = "unknown_station"
    UNKNOWN_CAMERA = "unknown_camera"
    # Admission rules of ingest (haixun/ingest/admission.py), from the geography and the clock:
    UNMEASURED_QUANTITY = "unmeasured_quantity"  # a quantity the station does not measure (geography)
    UNKNOWN_GATEWAY = "unknown_gateway"  # a status for a gateway no station or camera belongs to
    TOO_OLD = "too_old"  # older than the history window (admission.toml history_max_days)
    # The message passed the contract but could not be stored: the database
    # refused it (e.g. a NUL character), or ingest failed on it unexpectedly.
    REJECTED = "rejected"


class ContractError(InvalidInput):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class TopicKind(StrEnum):
    OBS = "obs"
    EVENT = "event"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class Topic:
    kind: TopicKind
    source_id: str


@dataclass(frozen=True, slots=True)
class ObsMessage:
    station_id: str
    ts: datetime
    seq: int | None
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class CameraEvent:
    camera_id: str
    ts: datetime
    type: str
    confidence: float
    segment_id: str | None
    snapshot_url: str | None
    extra: dict[str, Any]


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    gateway_id: str
    online: bool
    ts: datetime | None
    extra: dict[str, Any]


MAX_ID_LEN = 64


def topic_filters(root: str) -> list[str]:
    """The subscriptions ingest needs under ``root``."""
    return [f"{root}/{CONTRACT_VERSION}/{k.value}/+" for k in TopicKind]


def obs_topic(root: str, station_id: str) -> str:
    return f"{root}/{CONTRACT_VERSION}/obs/{station_id}"


def event_topic(root: str, camera_id: str) -> str:
    return f"{root}/{CONTRACT_VERSION}/event/{camera_id}"


def status_topic(root: str, gateway_id: str) -> str:
    return f"{root}/{CONTRACT_VERSION}/status/{gateway_id}"


# 1-64 characters, each alphanumeric in the sense of str.isalnum() (Unicode, so
# this is wider than the [A-Za-z0-9._-] of the error text) or one of "-_.".
# For str patterns ``\w`` is exactly "str.isalnum() or '_'" (re docs), so this
# one precompiled regex is the same rule as the per-character loop it replaced
# (tests/test_ingest_contract.py checks every code point).
_ID_RE = re.compile(rf"[\w.\-]{{1,{MAX_ID_LEN}}}")
_valid_id_match = _ID_RE.fullmatch


def _valid_id(s: str) -> bool:
    return _valid_id_match(s) is not None


_KINDS: dict[str, TopicKind] = {k.value: k for k in TopicKind}


def parse_topic(root: str, topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != root or parts[1] != CONTRACT_VERSION:
        raise ContractError(Reason.BAD_TOPIC, f"expected {root}/{CONTRACT_VERSION}/<obs|event|status>/<id>, got {topic!r}")
    kind = _KINDS.get(parts[2])
    if kind is None:
        raise ContractError(Reason.BAD_TOPIC, f"unknown message kind {parts[2]!r} in {topic!r}")
    if _valid_id_match(parts[3]) is None:
        raise ContractError(Reason.BAD_TOPIC, f"invalid id {parts[3]!r}: 1-{MAX_ID_LEN} chars of [A-Za-z0-9._-]")
    return Topic(kind, parts[3])


def parse_ts(value: Any) -> datetime:
    """RFC 3339 with an explicit offset ('Z' or +hh:mm); naive times are refused."""
    if not isinstance(value, str):
        raise ContractError(Reason.BAD_TIMESTAMP, f"ts must be an RFC 3339 string, got {type(value).__name__}")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ContractError(Reason.BAD_TIMESTAMP, f"ts {value!r} is not RFC 3339") from None
    if ts.tzinfo is None:
        raise ContractError(Reason.BAD_TIMESTAMP, f"ts {value!r} has no UTC offset")
    try:
        return ts.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ContractError(Reason.BAD_TIMESTAMP, f"ts {value!r} is outside the representable range in UTC") from None


def format_ts(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("naive datetime")
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _load_json(payload: bytes, max_bytes: int) -> Any:
    if len(payload) > max_bytes:
        raise ContractError(Reason.OVERSIZED, f"payload of {len(payload)} bytes exceeds {max_bytes}")
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(Reason.BAD_JSON, f"not valid UTF-8 JSON: {exc}") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ContractError(Reason.BAD_JSON, f"JSON not accepted: {exc}") from None
    except RecursionError:
        raise ContractError(Reason.BAD_JSON, "JSON nested too deeply") from None


def _number(name: str, v: Any) -> float:
    # bool is an int subclass in Python: refuse it explicitly.
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ContractError(Reason.BAD_SCHEMA, f"obs.{name} must be a number, got {type(v).__name__}")
    try:
        f = float(v)
    except OverflowError:  # an integer too large for a float
        raise ContractError(Reason.OUT_OF_PHYSICAL_RANGE, f"obs.{name} is an integer of {len(str(v))} digits") from None
    if not math.isfinite(f):
        raise ContractError(Reason.NOT_A_NUMBER, f"obs.{name} is {v}")
    return f


_OBS_KEYS = frozenset(("ts", "seq", "obs"))


def _obs_from_obj(station_id: str, obj: Any) -> ObsMessage:
    if not isinstance(obj, dict):
        raise ContractError(Reason.BAD_SCHEMA, f"observation must be a JSON object, got {type(obj).__name__}")
    if not _OBS_KEYS.issuperset(obj):
        raise ContractError(Reason.BAD_SCHEMA, f"unknown keys {sorted(set(obj) - _OBS_KEYS)}")
    if "ts" not in obj or "obs" not in obj:
        raise ContractError(Reason.BAD_SCHEMA, "observation needs 'ts' and 'obs'")
    ts = parse_ts(obj["ts"])
    seq = obj.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
        raise ContractError(Reason.BAD_SCHEMA, f"seq must be a non-negative integer, got {seq!r}")
    raw = obj["obs"]
    if not isinstance(raw, dict) or not raw:
        raise ContractError(Reason.BAD_SCHEMA, "obs must be a non-empty object of quantity -> number")
    values: dict[str, float] = {}
    for name, v in raw.items():
        q = QUANTITIES.get(name)
        if q is None:
            raise ContractError(Reason.UNKNOWN_QUANTITY, f"unknown quantity {name!r} (known: {', '.join(QUANTITIES)})")
        if type(v) is float and q.physical_min <= v <= q.physical_max:
            # fast path for the common case; NaN/inf fail the comparison and
            # take the full checks below, which give the same reasons as ever
            values[name] = v
            continue
        f = _number(name, v)
        if not (q.physical_min <= f <= q.physical_max):
            raise ContractError(
                Reason.OUT_OF_PHYSICAL_RANGE,
                f"obs.{name}={f} {q.unit} outside physical range [{q.physical_min}, {q.physical_max}]",
            )
        values[name] = f
    return ObsMessage(station_id, ts, seq, values)


def parse_obs(station_id: str, payload: bytes, max_bytes: int = 256 * 1024) -> list[ObsMessage]:
    """One observation object or a JSON array of them (buffered gateways).

    A batch is all-or-nothing: one bad element dead-letters the whole message,
    so that a gateway's buffer is never half-stored without a trace.
    """
    data = _load_json(payload, max_bytes)
    if isinstance(data, list):
        if not data:
            raise ContractError(Reason.BAD_SCHEMA, "empty batch")
        out = []
        for i, obj in enumerate(data):
            try:
                out.append(_obs_from_obj(station_id, obj))
            except ContractError as exc:
                raise ContractError(exc.reason, f"batch element {i}: {exc.detail}") from None
        return out
    return [_obs_from_obj(station_id, data)]


def parse_event(camera_id: str, payload: bytes, max_bytes: int = 256 * 1024) -> CameraEvent:
    obj = _load_json(payload, max_bytes)
    if not isinstance(obj, dict):
        raise ContractError(Reason.BAD_SCHEMA, "camera event must be a JSON object")
    for key in ("ts", "type", "confidence"):
        if key not in obj:
            raise ContractError(Reason.BAD_SCHEMA, f"camera event needs {key!r}")
    ts = parse_ts(obj["ts"])
    etype = obj["type"]
    if not isinstance(etype, str) or not _valid_id(etype):
        raise ContractError(Reason.BAD_SCHEMA, f"type must be a short identifier, got {etype!r}")
    conf = obj["confidence"]
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not (0 <= conf <= 1):
        # compared as int or float, never converted first: float() of a
        # 400-digit integer raises OverflowError; repr of it is cut short
        shown = repr(conf) if not isinstance(conf, int) or abs(conf) < 10**20 else f"an integer of {len(str(conf))} digits"
        raise ContractError(Reason.BAD_SCHEMA, f"confidence must be a number in [0, 1], got {shown[:80]}")
    seg = obj.get("segment_id")
    if seg is not None and (not isinstance(seg, str) or not _valid_id(seg)):
        raise ContractError(Reason.BAD_SCHEMA, f"segment_id must be an id string, got {seg!r}")
    url = obj.get("snapshot_url")
    if url is not None and not isinstance(url, str):
        raise ContractError(Reason.BAD_SCHEMA, "snapshot_url must be a string")
    if url is not None and "\x00" in url:
        raise ContractError(Reason.BAD_SCHEMA, "snapshot_url contains a NUL character")
    extra = {k: v for k, v in obj.items() if k not in ("ts", "type", "confidence", "segment_id", "snapshot_url")}
    check_extra(extra)
    return CameraEvent(camera_id, ts, etype, float(conf), seg, url, extra)


MAX_EXTRA_DEPTH = 16


def check_extra(extra: dict[str, Any]) -> None:
    """Extra keys are stored as jsonb: at most ``MAX_EXTRA_DEPTH`` levels deep, no NUL characters.

    Iterative (a recursive walk, like ``json.dumps``, fails with RecursionError
    on a 975-deep object that ``json.loads`` still accepts). PostgreSQL's
    jsonb refuses ``\u0000`` in strings and keys.
    """
    stack: list[tuple[Any, int]] = [(extra, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > MAX_EXTRA_DEPTH:
                raise ContractError(Reason.BAD_SCHEMA, f"extra keys nested deeper than {MAX_EXTRA_DEPTH} levels")
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, child in items:
                if isinstance(k, str) and "\x00" in k:
                    raise ContractError(Reason.BAD_SCHEMA, "extra key contains a NUL character")
                stack.append((child, depth + 1))
        elif isinstance(v, str) and "\x00" in v:
            raise ContractError(Reason.BAD_SCHEMA, "extra value contains a NUL character")
        elif isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10**20:
            # jsonb stores numerics up to 131072 digits, but nothing needs more than this
            raise ContractError(Reason.BAD_SCHEMA, f"extra number of {len(str(v))} digits")


def parse_status(gateway_id: str, payload: bytes, max_bytes: int = 64 * 1024) -> GatewayStatus:
    """``"online"``/``"offline"`` as plain text, or ``{"status": ..., "ts": ...}``."""
    text = payload.strip()
    if text in (b"online", b"offline"):
        return GatewayStatus(gateway_id, text == b"online", None, {})
    obj = _load_json(payload, max_bytes)
    if not isinstance(obj, dict) or obj.get("status") not in ("online", "offline"):
        raise ContractError(Reason.BAD_SCHEMA, "status must be 'online'/'offline' or {\"status\": \"online\"|\"offline\", ...}")
    ts = parse_ts(obj["ts"]) if "ts" in obj else None
    extra = {k: v for k, v in obj.items() if k not in ("status", "ts")}
    check_extra(extra)
    return GatewayStatus(gateway_id, obj["status"] == "online", ts, extra)


def obs_payload(ts: datetime, values: dict[str, float], seq: int | None = None) -> dict[str, Any]:
    """Build one observation object (simulators, tests)."""
    out: dict[str, Any] = {"ts": format_ts(ts), "obs": values}
    if seq is not None:
        out["seq"] = seq
    return out

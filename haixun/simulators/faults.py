"""Sensor and gateway faults on demand.

``FaultSpec`` says which fault hits which stations; the payload-level faults
are pure functions (values/payload in, values/bytes out). ``offline`` is a
gateway-level fault carried out by the gateway runtime (abrupt disconnect).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from haixun.contract import QUANTITIES, obs_payload


class FaultKind(StrEnum):
    STUCK = "stuck"
    SPIKE = "spike"
    DROPOUT = "dropout"
    SKEW = "skew"
    MALFORMED = "malformed"
    OFFLINE = "offline"
    DUPLICATE = "duplicate"


class MalformedKind(StrEnum):
    BAD_JSON = "bad_json"
    NAN_STRING = "nan_string"
    WRONG_TYPE = "wrong_type"
    NAIVE_TS = "naive_ts"
    OVERSIZED = "oversized"
    MISSING_TS = "missing_ts"
    UNKNOWN_QUANTITY = "unknown_quantity"
    OUT_OF_RANGE = "out_of_range"


# What each malformed kind must be rejected as (contract.Reason values).
MALFORMED_REASON: dict[MalformedKind, str] = {
    MalformedKind.BAD_JSON: "bad_json",
    MalformedKind.NAN_STRING: "bad_schema",
    MalformedKind.WRONG_TYPE: "bad_schema",
    MalformedKind.NAIVE_TS: "bad_timestamp",
    MalformedKind.OVERSIZED: "oversized",
    MalformedKind.MISSING_TS: "bad_schema",
    MalformedKind.UNKNOWN_QUANTITY: "unknown_quantity",
    MalformedKind.OUT_OF_RANGE: "out_of_physical_range",
}

# Spike offsets per quantity: physically possible (not malformed) but a QC spike.
SPIKE_OFFSETS: dict[str, float] = {
    "tide_level": 2.5, "wind_speed": 25.0, "wind_gust": 30.0, "wind_dir": 170.0, "wave_height": 4.0,
    "wave_period": 8.0, "air_pressure": -30.0, "rainfall": 80.0, "air_temperature": 12.0,
    "water_temperature": 8.0, "visibility": -10000.0,
}


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """``kind@target``: target is station/gateway ids (comma-separated), a fraction (0.25) or ``all``."""

    kind: FaultKind
    ids: frozenset[str] | None = None
    fraction: float | None = None
    probability: float = 1.0  # per message, for spike/dropout/duplicate/malformed
    skew_s: float = 600.0
    after_s: float = 0.0  # simulated seconds after the start before the fault begins
    offline_for_s: float = 30.0  # real seconds a gateway stays away (offline)

    @classmethod
    def parse(cls, text: str, **defaults: Any) -> FaultSpec:
        kind_s, _, target = text.partition("@")
        kind = FaultKind(kind_s.strip().lower())
        target = target.strip()
        if not target or target == "all":
            return cls(kind, **defaults)
        try:
            frac = float(target)
        except ValueError:
            return cls(kind, ids=frozenset(t.strip() for t in target.split(",") if t.strip()), **defaults)
        if not 0.0 < frac <= 1.0:
            raise ValueError(f"fault fraction must be in (0, 1], got {frac}")
        return cls(kind, fraction=frac, **defaults)


@dataclass(slots=True)
class FaultPlan:
    """Resolved faults: station id -> specs; gateway id -> offline spec."""

    by_station: dict[str, list[FaultSpec]] = field(default_factory=dict)
    offline_gateways: dict[str, FaultSpec] = field(default_factory=dict)

    def for_station(self, station_id: str) -> list[FaultSpec]:
        return self.by_station.get(station_id, [])


def resolve_faults(specs: Iterable[FaultSpec], station_gateways: dict[str, str], seed: int = 0) -> FaultPlan:
    """Pick the targets of every spec (fractions drawn reproducibly from ``seed``)."""
    rng = np.random.default_rng(seed)
    plan = FaultPlan()
    stations = sorted(station_gateways)
    gateways = sorted(set(station_gateways.values()))
    for spec in specs:
        if spec.kind is FaultKind.OFFLINE:
            pool = gateways
            if spec.ids is not None:
                # Accept station ids too: take their gateways.
                chosen = sorted({station_gateways.get(i, i) for i in spec.ids})
            elif spec.fraction is not None:
                k = max(1, round(spec.fraction * len(pool)))
                chosen = sorted(rng.choice(pool, size=k, replace=False).tolist())
            else:
                chosen = pool
            for g in chosen:
                plan.offline_gateways[g] = spec
            continue
        if spec.ids is not None:
            chosen = [s for s in stations if s in spec.ids]
        elif spec.fraction is not None:
            k = max(1, round(spec.fraction * len(stations)))
            chosen = sorted(rng.choice(stations, size=k, replace=False).tolist())
        else:
            chosen = stations
        for s in chosen:
            plan.by_station.setdefault(s, []).append(spec)
    return plan


def spike(values: dict[str, float], rng: np.random.Generator) -> tuple[dict[str, float], str]:
    """One quantity pushed by a large but physically possible offset; returns (values, quantity)."""
    name = str(rng.choice(sorted(values)))
    out = dict(values)
    q = QUANTITIES[name]
    v = values[name] + SPIKE_OFFSETS.get(name, 0.5 * (q.physical_max - q.physical_min) * 0.1)
    if name == "wind_dir":
        v = v % 360.0
    out[name] = round(min(q.physical_max, max(q.physical_min, v)), 3)
    return out, name


def malformed_payload(kind: MalformedKind, ts: datetime, values: dict[str, float], seq: int,
                      max_bytes: int = 256 * 1024) -> bytes:
    """Bytes that the contract must reject with ``MALFORMED_REASON[kind]``."""
    good = obs_payload(ts, dict(values) or {"tide_level": 1.0}, seq)
    first = next(iter(good["obs"]))
    if kind is MalformedKind.BAD_JSON:
        return json.dumps(good).encode()[:-7] + b"{,,"
    if kind is MalformedKind.NAN_STRING:
        good["obs"][first] = "NaN"
    elif kind is MalformedKind.WRONG_TYPE:
        good["obs"][first] = [values.get(first, 1.0)]
    elif kind is MalformedKind.NAIVE_TS:
        good["ts"] = ts.replace(tzinfo=None).isoformat(timespec="seconds")
    elif kind is MalformedKind.MISSING_TS:
        del good["ts"]
    elif kind is MalformedKind.UNKNOWN_QUANTITY:
        good["obs"]["salinity_psu"] = 31.5
    elif kind is MalformedKind.OUT_OF_RANGE:
        q = QUANTITIES[first]
        good["obs"][first] = q.physical_max * 10.0 + 100.0
    elif kind is MalformedKind.OVERSIZED:
        good["padding"] = "x" * (max_bytes + 1)
    return json.dumps(good).encode()


def skewed(ts: datetime, skew_s: float) -> datetime:
    return ts + timedelta(seconds=skew_s)

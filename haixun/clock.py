"""The system's notion of "now": the wall clock, or a replay clock.

A replay (the typhoon In-fa demo at 60x) publishes readings stamped with a
simulated time that runs ``speed`` times faster than the wall clock. Every
component that judges data by time — ingest QC (timestamp in the future / too
old), the engine (staleness, hysteresis dwell, camera holds, feed validity),
the API (data age) — must then use the same simulated "now", or a replay
either fails QC or holds levels for hours of storm time. One clock,
configured once (``HAIXUN_CLOCK``) and handed to every process, does that
without touching any threshold.

Latency marks (received_at, stored_at, decided_at, pushed_at) always stay on
the wall clock: they measure the pipeline, not the storm.

Spec: ``system`` or ``replay:<sim_start>@<wall_start>x<speed>`` with RFC 3339
times, e.g. ``replay:2021-07-25T12:00:00Z@2026-11-25T17:00:00Z x60`` (spaces
are ignored).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime


def _parse_time(s: str) -> datetime:
    ts = datetime.fromisoformat(s.strip().replace("Z", "+00:00"))
    if ts.tzinfo is None:
        raise ValueError(f"clock time {s!r} needs a UTC offset")
    return ts.astimezone(UTC)


def _fmt(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Clock:
    """``now() = sim_start + speed * (wall_now - wall_start)``; the system clock when not replaying."""

    sim_start: datetime | None = None
    wall_start: datetime | None = None
    speed: float = 1.0

    def __post_init__(self) -> None:
        if (self.sim_start is None) != (self.wall_start is None):
            raise ValueError("a replay clock needs both sim_start and wall_start")
        if not self.speed > 0:
            raise ValueError(f"clock speed must be > 0, got {self.speed}")

    @property
    def is_replay(self) -> bool:
        return self.sim_start is not None

    def now(self) -> datetime:
        return self.at_wall(time.time())

    def at_wall(self, wall_epoch_s: float) -> datetime:
        """The simulated time at a wall-clock instant (epoch seconds)."""
        wall = datetime.fromtimestamp(wall_epoch_s, UTC)
        if self.sim_start is None or self.wall_start is None:
            return wall
        return self.sim_start + (wall - self.wall_start) * self.speed

    def wall_seconds(self, sim_seconds: float) -> float:
        """Wall-clock seconds that ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed

    def wall_delay_until(self, sim_time: datetime) -> float:
        """Wall seconds from now until the clock shows ``sim_time`` (may be negative)."""
        return (sim_time - self.now()).total_seconds() / self.speed

    @classmethod
    def parse(cls, spec: str) -> Clock:
        """The clock of a spec. Memoised (a Clock is immutable): ``Settings.clock``
        is read on hot paths such as every resident lookup."""
        return _parse_spec(spec)

    @classmethod
    def _from_spec(cls, spec: str) -> Clock:
        s = "".join(spec.split())
        if s in ("", "system"):
            return cls()
        if not s.startswith("replay:"):
            raise ValueError(f"clock spec {spec!r}: expected 'system' or 'replay:<sim_start>@<wall_start>x<speed>'")
        body = s[len("replay:"):]
        try:
            times, speed = body.rsplit("x", 1)
            sim, wall = times.split("@", 1)
            return cls(_parse_time(sim), _parse_time(wall), float(speed))
        except ValueError as exc:
            raise ValueError(f"clock spec {spec!r}: {exc}") from None

    @classmethod
    def replay(cls, sim_start: datetime, speed: float, wall_start: datetime | None = None) -> Clock:
        return cls(sim_start.astimezone(UTC),
                   (wall_start or datetime.now(UTC)).astimezone(UTC), float(speed))

    def spec(self) -> str:
        if self.sim_start is None or self.wall_start is None:
            return "system"
        return f"replay:{_fmt(self.sim_start)}@{_fmt(self.wall_start)}x{self.speed:g}"


SYSTEM_CLOCK = Clock()


@functools.lru_cache(maxsize=64)
def _parse_spec(spec: str) -> Clock:
    return Clock._from_spec(spec)

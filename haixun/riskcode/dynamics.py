"""Hysteresis and manual override: pure state in, state out.

Rules (docs/riskcode.md):
* an upgrade (raw level ranks above the shown level) applies at once;
* leaving ``unknown`` for a known level applies at once (data are back);
* a downgrade happens only after the raw level has stayed below the held
  level for ``dwell_s``; it then goes to the highest raw level seen during
  that wait (never skipping a level that occurred), and a new wait starts if
  the raw level is still lower;
* a known warning whose inputs go stale goes to ``unknown`` after the dwell
  (the last known danger is held meanwhile, never replaced by a safe colour);
* an active override sets the shown level (up or down), bypassing the
  hysteresis; the held level keeps evolving underneath and is shown again
  when the override expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from haixun.riskcode.levels import Level, worst
from haixun.riskcode.model import Override, iso


@dataclass(frozen=True, slots=True)
class LevelState:
    """Hysteresis state of one subject. ``level`` is the held level, ``since`` when it was entered."""

    level: Level
    since: datetime
    raw_level: Level
    below_since: datetime | None = None
    pending_max: Level | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level.value, "since": iso(self.since), "raw_level": self.raw_level.value,
                "below_since": iso(self.below_since), "pending_max": self.pending_max.value if self.pending_max else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LevelState:
        return cls(level=Level(d["level"]), since=datetime.fromisoformat(d["since"]), raw_level=Level(d["raw_level"]),
                   below_since=datetime.fromisoformat(d["below_since"]) if d.get("below_since") else None,
                   pending_max=Level(d["pending_max"]) if d.get("pending_max") else None)


def step(prev: LevelState | None, raw_level: Level, now: datetime, dwell_s: float) -> tuple[LevelState, bool]:
    """Advance the hysteresis by one evaluation; returns (new state, held level changed)."""
    if prev is None:
        return LevelState(raw_level, now, raw_level), True
    if raw_level is prev.level:
        return LevelState(prev.level, prev.since, raw_level), False
    upgrade = raw_level.rank > prev.level.rank or (prev.level is Level.UNKNOWN and raw_level is not Level.UNKNOWN)
    if upgrade:
        return LevelState(raw_level, now, raw_level), True
    # raw is below the held level: wait for the dwell time
    below_since = prev.below_since or now
    pending = raw_level if prev.pending_max is None else worst([prev.pending_max, raw_level])
    if (now - below_since).total_seconds() < dwell_s:
        return LevelState(prev.level, prev.since, raw_level, below_since, pending), False
    new_level = pending
    if new_level is prev.level:  # cannot happen (pending < level) but keep the invariant explicit
        return LevelState(prev.level, prev.since, raw_level), False
    if raw_level.rank < new_level.rank:
        return LevelState(new_level, now, raw_level, now, raw_level), True
    return LevelState(new_level, now, raw_level), True


def active_override(overrides: Sequence[Override], subject_id: str, now: datetime) -> Override | None:
    """The most recent active override for the subject (a subject-specific one beats an all-segments one)."""
    cands = [o for o in overrides if o.active(now) and o.segment_id in (subject_id, None)]
    if not cands:
        return None
    return max(cands, key=lambda o: (o.segment_id is not None, o.set_at))


def shown_level(state: LevelState, override: Override | None) -> Level:
    return override.level if override is not None else state.level


__all__ = ["LevelState", "step", "active_override", "shown_level", "replace"]

"""Hysteresis and manual override: pure state in, state out.

Rules (docs/riskcode.md "Hysteresis"). A level is a :class:`Status` (a
colour, or unknown with a floor: the worst level known for certain):

* an upgrade of the floor (raw floor above the held floor) applies at once;
* the same floor with a different unknown flag applies at once: data lost
  ("blue" -> "unknown, at least blue") or data back ("unknown, at least
  blue" -> "blue");
* a raw level that turns unknown is shown as unknown AT ONCE, its floor being
  the held floor while the dwell runs (the last known danger is the floor of
  the unknown, never replaced by a safe colour, never hidden either);
* a downgrade of the floor happens only after the raw floor has stayed below
  the held floor for ``dwell_s``; it then goes to the highest raw floor seen
  during that wait (never skipping a level that occurred), unknown if the
  current raw level is unknown (the dwell never steps down to a colour while
  the raw level is unknown), and a new wait starts if the raw is still lower;
* an active override sets the shown level (up or down), bypassing the
  hysteresis; the held level keeps evolving underneath and is shown again
  when the override expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from haixun.riskcode.levels import Level, Status
from haixun.riskcode.model import Override, iso


@dataclass(frozen=True, slots=True)
class LevelState:
    """Hysteresis state of one subject. ``level``/``floor`` is the held status, ``since`` when it was
    entered; ``raw_level``/``raw_floor`` the last raw status; ``pending_max`` the highest raw floor
    seen while waiting to come down (since ``below_since``)."""

    level: Level
    since: datetime
    raw_level: Level
    below_since: datetime | None = None
    pending_max: Level | None = None
    floor: Level = Level.NONE
    raw_floor: Level = Level.NONE

    def __post_init__(self) -> None:
        # normalise through Status (a known level is its own floor; unknown over red is red)
        st, raw = Status(self.level, self.floor), Status(self.raw_level, self.raw_floor)
        object.__setattr__(self, "level", st.level)
        object.__setattr__(self, "floor", st.floor)
        object.__setattr__(self, "raw_level", raw.level)
        object.__setattr__(self, "raw_floor", raw.floor)

    @property
    def status(self) -> Status:
        return Status(self.level, self.floor)

    @property
    def raw(self) -> Status:
        return Status(self.raw_level, self.raw_floor)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level.value, "floor": self.floor.value, "since": iso(self.since),
                "raw_level": self.raw_level.value, "raw_floor": self.raw_floor.value,
                "below_since": iso(self.below_since), "pending_max": self.pending_max.value if self.pending_max else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LevelState:
        return cls(level=Level(d["level"]), since=datetime.fromisoformat(d["since"]), raw_level=Level(d["raw_level"]),
                   below_since=datetime.fromisoformat(d["below_since"]) if d.get("below_since") else None,
                   pending_max=Level(d["pending_max"]) if d.get("pending_max") else None,
                   floor=Level(d.get("floor") or "none"), raw_floor=Level(d.get("raw_floor") or "none"))


def _state(held: Status, since: datetime, raw: Status, below_since: datetime | None = None,
           pending: Level | None = None) -> LevelState:
    return LevelState(held.level, since, raw.level, below_since, pending, held.floor, raw.floor)


def step(prev: LevelState | None, raw_level: Level | Status, now: datetime, dwell_s: float) -> tuple[LevelState, bool]:
    """Advance the hysteresis by one evaluation; returns (new state, held status changed).

    ``raw_level``: a bare Level (unknown = "unknown, floor none") or a Status."""
    raw = Status.of(raw_level)
    if prev is None:
        return _state(raw, now, raw), True
    held = prev.status
    if raw == held:
        return _state(held, prev.since, raw), False
    rf, hf = Status(raw.floor).severity, Status(held.floor).severity
    if rf >= hf:
        # floor up (upgrade), or the same floor with the unknown flag changed: at once
        return _state(raw, now, raw), True
    # the raw floor is below the held floor: wait for the dwell time
    below_since = prev.below_since or now
    pending = raw.floor if prev.pending_max is None or Status(prev.pending_max).severity < rf else prev.pending_max
    if (now - below_since).total_seconds() < dwell_s:
        # meanwhile the held floor is kept; an unknown raw is shown as unknown at once (with the held floor),
        # a known raw keeps the held floor as the colour
        shown = Status(Level.UNKNOWN, held.floor) if raw.is_unknown else Status(held.floor)
        return _state(shown, prev.since if shown == held else now, raw, below_since, pending), shown != held
    # dwell elapsed: down to the highest raw floor seen while waiting, unknown if the raw is unknown now
    new = Status(Level.UNKNOWN, pending) if raw.is_unknown else Status(pending)
    if Status(raw.floor).severity < Status(new.floor).severity:
        return _state(new, now, raw, now, raw.floor), new != held
    return _state(new, now, raw), new != held


def active_override(overrides: Sequence[Override], subject_id: str, now: datetime) -> Override | None:
    """The most recent active override for the subject (a subject-specific one beats an all-segments one)."""
    cands = [o for o in overrides if o.active(now) and o.segment_id in (subject_id, None)]
    if not cands:
        return None
    return max(cands, key=lambda o: (o.segment_id is not None, o.set_at))


def shown_level(state: LevelState, override: Override | None) -> Status:
    return Status(override.level) if override is not None else state.status


__all__ = ["LevelState", "step", "active_override", "shown_level", "replace"]

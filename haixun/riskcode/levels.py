"""Warning levels: none < blue < yellow < orange < red, and unknown.

``unknown`` is outside the scale: the inputs are missing or too old. It must
never be shown as a safe colour. A subject's state is a :class:`Status`: a
``level`` (a colour or ``unknown``) and a ``floor``, the worst level that is
known for certain (local hazards and official bulletins). "unknown, at least
blue" is ``Status(UNKNOWN, BLUE)``: a known blue never hides an unknown key
hazard, and an unknown never hides a known danger (its floor). Every consumer
that compares severity uses :meth:`Status.severity` / :func:`combine`, never
``Level.rank`` of an ``unknown`` alone. ``unknown`` with a red floor is red:
nothing can be worse (docs/riskcode.md "Unknown and its floor").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Level(str, Enum):
    UNKNOWN = "unknown"
    NONE = "none"
    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        """Severity order of a bare level; a bare unknown (floor none) ranks between none and blue.

        Never compare an unknown that has a floor by this rank: use :class:`Status`."""
        return _RANK[self]

    @property
    def is_warning(self) -> bool:
        return self in (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED)

    @property
    def official_grade(self) -> str | None:
        """Chinese warning grade: IV blue, III yellow, II orange, I red."""
        return {Level.BLUE: "IV", Level.YELLOW: "III", Level.ORANGE: "II", Level.RED: "I"}.get(self)

    def __str__(self) -> str:
        return self.value


_RANK = {Level.NONE: 0, Level.UNKNOWN: 1, Level.BLUE: 2, Level.YELLOW: 3, Level.ORANGE: 4, Level.RED: 5}

WARNING_LEVELS: tuple[Level, ...] = (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED)


def worst(levels: Iterable[Level]) -> Level:
    """The most severe level; ``none`` for an empty input."""
    out = Level.NONE
    for lv in levels:
        if lv.rank > out.rank:
            out = lv
    return out


def parse_level(s: str) -> Level:
    try:
        return Level(s.strip().lower())
    except ValueError:
        raise ValueError(f"unknown level {s!r}: expected one of {', '.join(lv.value for lv in Level)}") from None


_KNOWN_RANK = {Level.NONE: 0, Level.BLUE: 1, Level.YELLOW: 2, Level.ORANGE: 3, Level.RED: 4}


def _known_rank(lv: Level) -> int:
    return _KNOWN_RANK[lv]


@dataclass(frozen=True, slots=True)
class Status:
    """A level with its floor: ``Status(BLUE)`` is plain blue, ``Status(UNKNOWN, BLUE)`` is
    "unknown, at least blue". Invariants: ``floor`` is a colour or none (never unknown);
    a known ``level`` equals its floor; unknown with a red floor is red (normalised)."""

    level: Level
    floor: Level = Level.NONE

    def __post_init__(self) -> None:
        if self.floor is Level.UNKNOWN:
            raise ValueError("a floor is a known level, never unknown")
        if self.level is not Level.UNKNOWN and self.floor is not self.level:
            if self.floor is Level.NONE:
                object.__setattr__(self, "floor", self.level)
            else:
                raise ValueError(f"a known level {self.level.value} has itself as floor, not {self.floor.value}")
        if self.level is Level.UNKNOWN and self.floor is Level.RED:
            object.__setattr__(self, "level", Level.RED)

    @classmethod
    def of(cls, level: Level | Status) -> Status:
        if isinstance(level, Status):
            return level
        plain = _PLAIN.get(level)
        return plain if plain is not None else cls(level)

    @classmethod
    def unknown(cls, floor: Level = Level.NONE) -> Status:
        shared = _UNKNOWN_AT_LEAST.get(floor)
        return shared if shared is not None else cls(Level.UNKNOWN, floor)  # (raises: an unknown floor)

    @property
    def is_unknown(self) -> bool:
        return self.level is Level.UNKNOWN

    @property
    def severity(self) -> int:
        """Total order for "worst of": none < ?none < blue < ?blue < ... < orange < ?orange < red.
        An unknown ranks just above its floor: it is at least the floor, and may be worse."""
        return 2 * _known_rank(self.floor) + (1 if self.is_unknown else 0)

    @property
    def is_warning(self) -> bool:
        """At least blue for certain (the floor warns)."""
        return self.floor.is_warning

    def at_least(self, level: Level) -> bool:
        """True when this status is known to be at least ``level`` (a colour)."""
        return _known_rank(self.floor) >= _known_rank(level) if level is not Level.UNKNOWN else self.is_unknown

    @property
    def label(self) -> str:
        if self.is_unknown:
            return "unknown" if self.floor is Level.NONE else f"unknown, at least {self.floor.value}"
        return self.level.value

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level.value, "floor": self.floor.value}

    def __str__(self) -> str:
        return self.label


# The statuses there are (immutable values): shared instead of built again in every comparison.
_PLAIN: dict[Level, Status] = {lv: Status(lv) for lv in Level}
_UNKNOWN_AT_LEAST: dict[Level, Status] = {f: Status(Level.UNKNOWN, f) for f in Level if f is not Level.UNKNOWN}


def combine(items: Iterable[Level | Status]) -> Status:
    """Worst of several subjects (e.g. the segments in front of a village): the floor is the
    highest floor; the result is unknown when any part is unknown (that part could be worse than
    every known one), unless the floor is red. ``none`` for an empty input."""
    floor, unknown = Level.NONE, False
    for it in items:
        s = Status.of(it)
        if _known_rank(s.floor) > _known_rank(floor):
            floor = s.floor
        unknown = unknown or s.is_unknown
    return _UNKNOWN_AT_LEAST[floor] if unknown else _PLAIN[floor]


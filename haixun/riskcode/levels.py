"""Warning levels: none < blue < yellow < orange < red, and unknown.

``unknown`` is outside the scale: the inputs are missing or too old. It must
never be shown as a safe colour, and it never hides a known danger: combining
``unknown`` with ``orange`` gives ``orange`` (with the unknown noted in the
reasons), combining it with ``none`` gives ``unknown``.
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable


class Level(str, Enum):
    UNKNOWN = "unknown"
    NONE = "none"
    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def rank(self) -> int:
        """Severity order; unknown ranks between none and blue for max()."""
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
        raise ValueError(f"unknown level {s!r}: expected one of {', '.join(l.value for l in Level)}") from None

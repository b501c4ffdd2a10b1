"""Status values are shared (Status.of, Status.unknown, combine): equal to freshly built ones, and the
invariants still refuse an unknown floor."""

from __future__ import annotations

import itertools

import pytest

from haixun.riskcode.levels import Level, Status, combine

COLOURS = [lv for lv in Level if lv is not Level.UNKNOWN]


def test_shared_statuses_equal_built_ones() -> None:
    for lv in Level:
        assert Status.of(lv) == Status(lv) and Status.of(lv).floor == Status(lv).floor
    for f in COLOURS:
        assert Status.unknown(f) == Status(Level.UNKNOWN, f)
    assert Status.unknown(Level.RED).level is Level.RED  # normalised, as built
    for a, b in itertools.product([*Level, *(Status.unknown(f) for f in COLOURS)], repeat=2):
        sa, sb = Status.of(a), Status.of(b)
        floor = max(sa.floor, sb.floor, key=lambda lv: COLOURS.index(lv))
        want = Status(Level.UNKNOWN, floor) if (sa.is_unknown or sb.is_unknown) else Status(floor)
        assert combine([a, b]) == want


def test_an_unknown_floor_is_still_refused() -> None:
    with pytest.raises(ValueError):
        Status.unknown(Level.UNKNOWN)
    with pytest.raises(ValueError):
        Status(Level.UNKNOWN, Level.UNKNOWN)

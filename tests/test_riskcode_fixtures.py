"""The riskcode builders (tests/support/riskcode.py) build what they say."""

from __future__ import annotations

from tests.support.riskcode import obs_for, segment


def test_fixtures_build() -> None:
    s = segment(3)
    assert s.id == "PH03" and s.coords[0][0] > 121.03
    assert obs_for(1)["T01"]["tide_level"].value == 2.2

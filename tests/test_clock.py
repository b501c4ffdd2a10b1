from datetime import UTC, datetime, timedelta

import pytest

from haixun.clock import Clock
from haixun.settings import Settings

T0 = datetime(2021, 7, 25, 12, 0, tzinfo=UTC)
W0 = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def test_system_clock_is_wall_time():
    c = Clock.parse("system")
    assert not c.is_replay
    assert abs((c.now() - datetime.now(UTC)).total_seconds()) < 1


def test_replay_runs_speed_times_faster_from_its_anchor():
    c = Clock(T0, W0, 60)
    assert c.at_wall(W0.timestamp()) == T0
    assert c.at_wall(W0.timestamp() + 60) == T0 + timedelta(hours=1)
    assert c.wall_seconds(3600) == 60


def test_spec_round_trip_and_spaces():
    c = Clock.parse("replay: 2021-07-25T12:00:00Z @ 2026-11-25T17:00:00+00:00 x 60")
    assert (c.sim_start, c.wall_start, c.speed) == (T0, W0, 60)
    assert Clock.parse(c.spec()) == c


@pytest.mark.parametrize("spec", ["replay:2021-07-25T12:00:00Z x60", "replay:2021-07-25T12:00:00@2026-11-25T17:00:00Zx60",
                                  "replay:2021-07-25T12:00:00Z@2026-11-25T17:00:00Zx0", "sometimes"])
def test_bad_specs_are_refused_with_the_spec_named(spec):
    with pytest.raises(ValueError, match="clock"):
        Clock.parse(spec)


def test_settings_hand_out_the_configured_clock(monkeypatch):
    monkeypatch.setenv("HAIXUN_CLOCK", "replay:2021-07-25T12:00:00Z@2026-11-25T17:00:00Zx60")
    assert Settings().clock.speed == 60
    monkeypatch.delenv("HAIXUN_CLOCK")
    assert not Settings().clock.is_replay


def test_settings_take_the_clock_by_name_and_refuse_a_bad_one():
    assert Settings(clock_spec="replay:2021-07-25T12:00:00Z@2026-11-25T17:00:00Zx10").clock.speed == 10
    with pytest.raises(ValueError, match="clock"):
        Settings(clock_spec="replay:soon")

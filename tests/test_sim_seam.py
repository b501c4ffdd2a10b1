"""Calm-weather days are built with their own seed: the weather must not step at 00:00 UTC."""

from datetime import UTC, datetime, timedelta

import pytest

from haixun.simulators.geo import load_sim_geography
from haixun.simulators.source import ModelSource


@pytest.fixture(scope="module")
def source() -> ModelSource:
    return ModelSource(load_sim_geography(), track=None, seed=3)  # calm weather only


@pytest.mark.parametrize("day", [datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)])
def test_weather_is_continuous_across_the_day_boundary(source, day):
    station = next(s for s in source.geo.stations if "air_pressure" in s.quantities)
    before = source.station_state(station.id, day - timedelta(seconds=60))
    after = source.station_state(station.id, day + timedelta(seconds=60))
    # two minutes of calm weather: far below the QC rate limit (6 hPa/h = 0.2 hPa in 2 min)
    assert abs(after.pressure - before.pressure) < 0.2
    assert abs(after.wind_speed - before.wind_speed) < 1.5
    # the steps inside the blend window are no larger than elsewhere in the day
    steps = [abs(source.station_state(station.id, day + timedelta(minutes=k + 1)).pressure
                 - source.station_state(station.id, day + timedelta(minutes=k)).pressure) for k in range(0, 240, 5)]
    assert max(steps) < 0.2


def test_blend_leaves_the_deterministic_tide_alone(source):
    gauge = next(s for s in source.geo.stations if "tide_level" in s.quantities)
    day = datetime(2026, 11, 25, tzinfo=UTC)
    t = day + timedelta(hours=1)
    blended = source.station_state(gauge.id, t)
    m = source.model_time(t)
    unblended = source.scenario_at(m).station_state(gauge.id, m)
    assert blended.tide_astro == pytest.approx(unblended.tide_astro, abs=1e-9)

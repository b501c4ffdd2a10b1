"""utide harmonic analysis, serialisation, projected high water and time to threshold."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from haixun.riskcode.tides import (
    TideModel,
    TidePrediction,
    fit_tide,
    high_waters,
    next_high_water,
    predict,
    time_to_level,
)

# Constituent frequencies (cycles per hour, standard astronomical values as tabulated in t_tide/utide)
# with synthetic amplitudes (m) and phases (deg) of a Hangzhou-Bay-like semidiurnal tide.
SYNTH = {
    "M2": (0.0805114007, 2.00, 30.0),
    "S2": (0.0833333333, 0.80, 75.0),
    "N2": (0.0789992487, 0.35, 10.0),
    "K1": (0.0417807462, 0.30, 200.0),
    "O1": (0.0387306544, 0.20, 150.0),
    "M4": (0.1610228013, 0.15, 300.0),
}
T0 = datetime(2021, 6, 1, tzinfo=UTC)
MEAN = 2.5


def _synthetic(times: list[datetime]) -> np.ndarray:
    h = np.array([(t - T0).total_seconds() / 3600.0 for t in times])
    out = np.full(h.shape, MEAN)
    for f, a, ph in SYNTH.values():
        out += a * np.cos(2 * math.pi * f * h - math.radians(ph))
    return out


@pytest.fixture(scope="module")
def record() -> tuple[list[datetime], np.ndarray]:
    times = [T0 + timedelta(hours=k) for k in range(30 * 24)]
    return times, _synthetic(times)


def test_recovers_synthetic_amplitudes(record) -> None:
    times, levels = record
    model = fit_tide(times, levels, lat=30.6, nodal=False)
    got = model.constituents
    for name, (_, amp, _) in SYNTH.items():
        assert got[name][0] == pytest.approx(amp, abs=0.01), name
    assert float(model.coef["mean"]) == pytest.approx(MEAN, abs=0.01)


def test_predicts_within_5_cm_for_three_days(record) -> None:
    times, levels = record
    model = fit_tide(times, levels, lat=30.6)  # with nodal corrections, as in production
    future = [times[-1] + timedelta(minutes=30 * k) for k in range(1, 3 * 48)]
    err = np.abs(predict(model, future) - _synthetic(future))
    assert err.max() < 0.05
    assert model.rms_residual_m < 0.05


def test_model_json_round_trip_predicts_identically(record) -> None:
    times, levels = record
    model = fit_tide(times, levels, lat=30.6)
    again = TideModel.from_json(model.to_json())
    future = [times[-1] + timedelta(hours=k) for k in range(24)]
    np.testing.assert_allclose(predict(again, future), predict(model, future), atol=1e-9)
    assert again.n_obs == model.n_obs and again.fitted_to == model.fitted_to


def test_fit_refuses_short_records_and_naive_times() -> None:
    times = [T0 + timedelta(hours=k) for k in range(10 * 24)]
    with pytest.raises(ValueError, match="at least 15 days"):
        fit_tide(times, _synthetic(times), lat=30.6)
    with pytest.raises(ValueError, match="naive"):
        fit_tide([datetime(2021, 1, 1) + timedelta(hours=k) for k in range(400)], np.zeros(400), lat=30.6)


def _cosine_prediction(now: datetime, amp: float = 2.0, mean: float = 3.0, peak_after_h: float = 3.0) -> TidePrediction:
    period = 12.4206
    times = [now - timedelta(hours=1) + timedelta(minutes=10 * k) for k in range(6 * 30)]
    h = np.array([(t - now).total_seconds() / 3600.0 for t in times])
    return TidePrediction.from_series(times, mean + amp * np.cos(2 * math.pi * (h - peak_after_h) / period))


def test_next_high_water_adds_decayed_surge() -> None:
    now = datetime(2021, 7, 26, 0, 0, tzinfo=UTC)
    pred = _cosine_prediction(now, peak_after_h=3.0)
    first, highest = next_high_water(pred, now, surge_m=1.0, efold_h=12.0, horizon_h=12.0)
    assert first is not None and highest is not None
    assert abs((first.at - now).total_seconds() - 3 * 3600) < 120  # parabola-refined peak within 2 min
    # 3 + 2 (astronomical HW) + 1.0 * exp(-3/12)
    assert first.level_m == pytest.approx(5.0 + math.exp(-0.25), abs=0.005)
    assert first.surge_m == pytest.approx(math.exp(-0.25), abs=0.002)


def test_time_to_level_first_crossing() -> None:
    now = datetime(2021, 7, 26, 0, 0, tzinfo=UTC)
    pred = _cosine_prediction(now, peak_after_h=3.0)
    # with zero surge: 3 + 2 cos(2 pi (h-3)/12.4206) = 4.5 -> h = 3 - acos(0.75)*12.4206/(2 pi)
    expect_h = 3.0 - math.acos(0.75) * 12.4206 / (2 * math.pi)
    at = time_to_level(pred, now, 0.0, 12.0, 12.0, 4.5)
    assert at is not None
    assert (at - now).total_seconds() / 3600.0 == pytest.approx(expect_h, abs=0.01)
    assert time_to_level(pred, now, 0.0, 12.0, 12.0, 5.5) is None  # never within horizon
    assert time_to_level(pred, now, 3.0, 12.0, 12.0, 5.5) == now  # already above


def test_high_waters_finds_each_peak() -> None:
    t = np.arange(0, 48 * 3600, 600.0)
    lv = np.cos(2 * math.pi * t / (12.4206 * 3600))
    peaks = high_waters(t, lv)
    assert [round(p[0] / 3600, 1) for p in peaks] == [12.4, 24.8, 37.3]

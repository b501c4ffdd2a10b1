"""Surge forecast that sees a growing storm (issue 13).

The case of the issue: at 00:00 CST on 26 July 2021 (In-fa) the surge had been
rising for hours; persistence with a 12 h e-folding projected the 10:40 high
water 1.4 m too low. Here the surge rises 0.1 m/h from 18:00 (0 m) to 0.6 m at
00:00 and on to 1.67 m at 10:40: the projection from the surge trend and the
skew surges of the recent high waters must see it; an official surge forecast
ranks above both; a steady or wiggling surge stays persistence.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.riskcode import Level
from haixun.riskcode.model import FeedItem, Observation
from haixun.riskcode.segment import evaluate_segment
from haixun.riskcode.tides import TidePrediction
from tests.support.riskcode import CONFIG, obs_for, segment

CST = timezone(timedelta(hours=8))
NOW = datetime(2021, 7, 26, 0, 0, tzinfo=CST)
HW = datetime(2021, 7, 26, 10, 40, tzinfo=CST)
M2_H = 12.4206
SEG = segment(1, crest=20.0)  # storm tide isolated from overtopping


def prediction() -> TidePrediction:
    """M2 on CN1985 (mean 0.2, amplitude 2.7: HW 2.9 m) with a high water at 10:40 on 26 July."""
    start = NOW - timedelta(hours=30)
    times = [start + timedelta(minutes=10 * k) for k in range(int(44 * 6))]
    th = np.array([(t - HW).total_seconds() / 3600.0 for t in times])
    return TidePrediction.from_series(times, 0.2 + 2.7 * np.cos(2 * math.pi * th / M2_H))


def growing_surge(t: datetime) -> float:
    h = (t - datetime(2021, 7, 25, 18, 0, tzinfo=CST)).total_seconds() / 3600.0
    return max(0.0, 0.1 * h)


def observed(pred: TidePrediction, surge, hours: float = 26.0) -> list[Observation]:
    out = []
    k = int(hours * 6)
    for i in range(k, -1, -1):
        t = NOW - timedelta(minutes=10 * i)
        out.append(Observation(round(pred.at(t) + surge(t), 3), t))
    return out


def forecast(pred, series, feeds=()):
    obs = obs_for(1, tide=series[-1].value, hs=0.0, ts=NOW)
    d = evaluate_segment(CONFIG, SEG, obs, pred, [], list(feeds), NOW, recent={"T01": {"tide_level": series}})
    return d, next(h for h in d.hazards if h.hazard == "storm_tide_forecast")


def test_the_issue_case_sees_the_growing_surge() -> None:
    pred = prediction()
    truth = pred.at(HW) + growing_surge(HW)  # 2.9 + 1.67 = 4.57 m: orange (4.2)
    d, f = forecast(pred, observed(pred, growing_surge))
    hw = max((h for h in [d.next_high_water] if h is not None), key=lambda h: h.level_m)
    assert abs((hw.at - HW).total_seconds()) < 600
    assert abs(f.value - truth) < 0.2, (f.value, truth)
    assert f.level is Level.ORANGE
    assert "growing surge" in f.detail and "trend" in f.detail
    # persistence alone (no history given) is what the old code did: 1.4 m too low, a missed orange
    _, old = forecast(pred, observed(pred, growing_surge, hours=0.0))
    assert truth - old.value > 1.2 and old.level.rank < Level.ORANGE.rank


def test_a_steady_or_wiggling_surge_stays_persistence() -> None:
    pred = prediction()
    # 0.4 m surge with a 0.15 m tide-surge phase wiggle at the M2 period: no growth
    wiggle = lambda t: 0.4 + 0.15 * math.sin(2 * math.pi * (t - NOW).total_seconds() / 3600.0 / M2_H)  # noqa: E731
    d, f = forecast(pred, observed(pred, wiggle))
    surge_now = wiggle(NOW)
    dt_h = (d.next_high_water.at - NOW).total_seconds() / 3600.0
    assert d.next_high_water.surge_m == pytest.approx(surge_now * math.exp(-dt_h / 12.0), abs=0.01)
    assert "not growing" in f.detail


def test_an_official_surge_forecast_ranks_above_the_local_projection() -> None:
    pred = prediction()
    feed = FeedItem("F9", "Zhejiang Marine Forecast Station", "surge_forecast", Level.YELLOW,
                    NOW - timedelta(hours=1), NOW + timedelta(hours=24), "storm surge", surge_m=1.0)
    d, f = forecast(pred, observed(pred, growing_surge), [feed])
    assert d.next_high_water.surge_m == pytest.approx(1.0)
    assert "official surge forecast 1.00 m" in f.detail and "ranked above local" in f.detail
    # outside its validity the local projection applies again
    late = FeedItem("F9", "x", "surge_forecast", Level.YELLOW, NOW - timedelta(hours=1), NOW + timedelta(hours=2),
                    "", surge_m=1.0)
    d, _ = forecast(pred, observed(pred, growing_surge), [late])
    assert d.next_high_water.surge_m > 1.5


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.0, 0.3), extra=st.floats(0.0, 1.0))
def test_more_surge_never_lowers_the_forecast(rate: float, extra: float) -> None:
    pred = prediction()
    base = lambda t: rate * max(0.0, (t - NOW).total_seconds() / 3600.0 + 6.0)  # noqa: E731
    more = lambda t: base(t) + extra  # noqa: E731
    _, f1 = forecast(pred, observed(pred, base))
    _, f2 = forecast(pred, observed(pred, more))
    # (observations are rounded to the gauges' 1 mm: the trend may differ by that)
    assert f2.value >= f1.value - 2e-3 and f2.level.rank >= f1.level.rank


async def test_the_engine_feeds_the_day_of_tide_levels_to_the_projection(settings) -> None:
    import asyncio

    import psycopg

    from haixun.engine.service import EngineService
    from haixun.engine.tide_import import import_constants
    from haixun.simulators import tide as sim
    from tests.support.engine import (
        FAST,
        calm,
        decision_with_next_high_water,
        insert_geography_stations,
    )
    from tests.support.tide import official_table

    now = datetime.now(UTC).replace(microsecond=0)
    astro = lambda t: float(sim.tide_levels(np.array([t.timestamp()]), sim.ZHAPU)[0])  # noqa: E731
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        import_constants(conn, "XB-M01", official_table(0.0, now))
        rows = []
        for k in range(8 * 6, 0, -1):  # 8 h of 10-min levels with a surge rising 0.1 m/h
            t = now - timedelta(minutes=10 * k)
            rows.append(("XB-M01", "tide_level", t, astro(t) + 0.1 * (8 - k / 6), 1, t))
        conn.cursor().executemany("INSERT INTO readings (station_id, quantity, ts, value, qc, received_at)"
                                  " VALUES (%s, %s, %s, %s, %s, %s)", rows)
        calm(conn, now, tide=astro(now) + 0.8)
        async with EngineService(settings, options=FAST) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)

            d = await decision_with_next_high_water(conn)
    hw = d["next_high_water"]
    assert "growing surge" in hw["method"]
    assert hw["surge_m"] > 0.8  # grows instead of decaying


async def test_an_official_numeric_surge_forecast_flows_from_the_api_to_the_decision(settings, db_url,
                                                                                     tmp_path) -> None:
    import asyncio

    import httpx
    import psycopg
    from prometheus_client import CollectorRegistry

    from haixun.contract import format_ts
    from haixun.engine.service import EngineService
    from haixun.engine.tide_import import import_constants
    from haixun.simulators import tide as sim
    from tests.support.api import add_user, running_api
    from tests.support.engine import (
        FAST,
        calm,
        current_level,
        insert_geography_stations,
    )
    from tests.support.tide import official_table
    from tests.support.wait import eventually

    add_user(db_url, "dora", "duty")
    now = datetime.now(UTC).replace(microsecond=0)
    astro = float(sim.tide_levels(np.array([now.timestamp()]), sim.ZHAPU)[0])
    with psycopg.connect(db_url, autocommit=True) as conn:
        insert_geography_stations(conn)
        import_constants(conn, "XB-M01", official_table(0.0, now))
        calm(conn, now, tide=astro + 0.3)
        async with running_api(settings, tmp_path, project_geography=True) as api, \
                httpx.AsyncClient(base_url=api.base) as c, \
                EngineService(settings, options=FAST, registry=CollectorRegistry()) as engine:
            await asyncio.wait_for(engine.leading.wait(), 5)
            token = (await c.post("/api/v1/auth/login", json={"username": "dora",
                                                              "password": "correct horse battery"})).json()
            auth = {"Authorization": f"Bearer {token['access_token']}"}
            body = {"identifier": "SS-9", "sent": format_ts(now - timedelta(minutes=1)),
                    "issuer": "浙江省海洋监测预报中心", "kind": "surge_forecast", "level": "yellow",
                    "area": {"segments": ["PH01"]}, "valid_from": format_ts(now - timedelta(minutes=1)),
                    "valid_to": format_ts(now + timedelta(hours=24)), "forecast": {"peak_surge_m": 50.0}}
            r = await c.post("/api/v1/feeds/zj_marine", json=body, headers=auth)
            assert r.status_code == 422 and "peak_surge_m" in r.text
            body["forecast"] = {"peak_surge_m": 1.5, "peak_at": format_ts(now + timedelta(hours=5))}
            r = await c.post("/api/v1/feeds/zj_marine", json=body, headers=auth)
            assert r.status_code == 201, r.text
            assert r.json()["surge_m"] == 1.5

            def official():
                row = current_level(conn, "segment", "PH01")
                hw = row and row[3].get("next_high_water")
                return hw if hw and "official surge forecast" in hw["method"] else None
            hw = await eventually(official, timeout=60)
    assert hw["surge_m"] == pytest.approx(1.5)


def test_an_official_peak_surge_at_low_water_does_not_raise_the_high_water() -> None:
    """The bulletin's peak surge (2.3 m) falls at low water; its forecast high water is 3.6 m
    (surge 0.7 m at high water): the high water is projected at 3.6 m, not HW + peak surge = 5.2 m
    (a false red; the demo's In-fa replay showed it on 25 July)."""
    pred = prediction()
    hw_level = pred.at(HW) + 0.7
    feed = FeedItem("F10", "Zhejiang Marine Forecast Station", "surge_forecast", Level.YELLOW,
                    NOW - timedelta(hours=1), NOW + timedelta(hours=12), "storm surge", surge_m=2.3,
                    peak_level_m=hw_level, peak_at=HW)
    d, f = forecast(pred, observed(pred, lambda t: 0.5), [feed])
    assert d.next_high_water.surge_m == pytest.approx(0.7, abs=0.01)
    assert f.value == pytest.approx(hw_level, abs=0.02) and f.level is Level.BLUE, (f.value, f.level, f.detail)
    assert "at its high water" in f.detail
    # a bulletin with the peak surge only stays the conservative upper bound
    bare = FeedItem("F11", "x", "surge_forecast", Level.YELLOW, NOW - timedelta(hours=1), NOW + timedelta(hours=12),
                    "", surge_m=2.3)
    d, f = forecast(pred, observed(pred, lambda t: 0.5), [bare])
    assert d.next_high_water.surge_m == pytest.approx(2.3) and "(peak surge)" in f.detail


# --------------------------------------------------------------------------- after the peak (In-fa replay, issue 13)

def _falling_surge(t: datetime) -> float:
    """In-fa-like: 0.9 m at the morning high water of 25 July, 1.6 m in the evening, held to 23:00,
    then falling 0.12 m/h through the night."""
    h = (t - datetime(2021, 7, 25, 9, 50, tzinfo=CST)).total_seconds() / 3600.0
    if h <= 10.17:
        return 0.9 + 0.7 * max(0.0, h) / 10.17
    fall = (t - datetime(2021, 7, 25, 23, 0, tzinfo=CST)).total_seconds() / 3600.0
    return 1.6 - 0.12 * max(0.0, fall)


def _forecast_at(now: datetime, pred: TidePrediction, surge, feeds=(), hours: float = 26.0):
    k = int(hours * 6)
    series = [Observation(round(pred.at(now - timedelta(minutes=10 * i)) + surge(now - timedelta(minutes=10 * i)), 3),
                          now - timedelta(minutes=10 * i)) for i in range(k, -1, -1)]
    obs = obs_for(1, tide=series[-1].value, hs=0.0, ts=now)
    d = evaluate_segment(CONFIG, SEG, obs, pred, [], list(feeds), now, recent={"T01": {"tide_level": series}})
    return d, next(h for h in d.hazards if h.hazard == "storm_tide_forecast")


def _long_prediction() -> TidePrediction:
    start = NOW - timedelta(hours=30)
    times = [start + timedelta(minutes=10 * k) for k in range(int(80 * 6))]
    th = np.array([(t - HW).total_seconds() / 3600.0 for t in times])
    return TidePrediction.from_series(times, 0.2 + 2.7 * np.cos(2 * math.pi * th / M2_H))


def test_a_falling_surge_is_not_projected_from_the_skew_surges_of_the_peak() -> None:
    """At 06:00 on 26 July the surge (0.76 m) has fallen 0.7 m in 6 h: the 10:40 high water gets
    persistence of the surge now (3.4 m, blue), not the 1.6 m skew surge of the overnight high
    water grown by its rise from the morning (the old code: 1.86 m, 4.76 m red)."""
    pred = _long_prediction()
    now = datetime(2021, 7, 26, 6, 0, tzinfo=CST)
    d, f = _forecast_at(now, pred, _falling_surge)
    truth = pred.at(HW) + _falling_surge(HW)  # 2.9 + 0.2
    hw = d.next_high_water
    assert abs((hw.at - HW).total_seconds()) < 600
    dt_h = (hw.at - now).total_seconds() / 3600.0
    assert hw.surge_m == pytest.approx(_falling_surge(now) * math.exp(-dt_h / 12.0), abs=0.03), f.detail
    assert f.level.rank <= Level.BLUE.rank and f.value - truth < 0.5, (f.value, f.level, f.detail)
    assert "falling" in f.detail


@settings(max_examples=60, deadline=None)
@given(peak=st.floats(0.6, 2.5), fall=st.floats(0.06, 0.3), hours_after=st.floats(3.5, 10.0))
def test_a_falling_surge_never_projects_above_persistence(peak: float, fall: float, hours_after: float) -> None:
    """Property: once the surge has fallen by at least the growth threshold over the trend window,
    every projected high water is at most the predicted high water + the surge now (persistence bound)."""
    pred = _long_prediction()
    top = datetime(2021, 7, 25, 22, 15, tzinfo=CST)

    def surge(t: datetime) -> float:
        h = (t - top).total_seconds() / 3600.0
        return peak * (0.5 + 0.5 * min(1.0, (h + 12.4) / 12.4)) if h <= 0 else peak - fall * h

    now = top + timedelta(hours=hours_after)
    if fall * min(hours_after, 6.0) < CONFIG.storm_tide.surge_trend_min_rise_m:
        return  # not falling enough to count: outside the property
    d, f = _forecast_at(now, pred, surge)
    hw = d.next_high_water
    assert hw is not None
    # + 5 mm: the prediction is a 10-minute series read by linear interpolation, off the cosine by up to
    # A (w dt)^2 / 8 = 2.4 mm between its points (hypothesis found 0.3 mm over a surge of 0 once)
    assert hw.surge_m <= max(surge(now), 0.0) + 0.005, (hw.surge_m, surge(now), f.detail)


def test_an_official_forecast_applies_at_its_own_high_water_only() -> None:
    """A bulletin forecasting 4.9 m (surge 2.0 m) for the high water of 23:05 on 26 July says nothing
    about the 10:40 one: 10:40 is projected by the local rule (steady 0.5 m: persistence), not 2.9 + 2.0
    = 4.9 m red (the old code, in the replay the overnight surge on the morning high water of 25 July)."""
    pred = _long_prediction()
    later = HW + timedelta(hours=M2_H)
    feed = FeedItem("F12", "Zhejiang Marine Forecast Station", "surge_forecast", Level.ORANGE,
                    NOW - timedelta(hours=1), NOW + timedelta(hours=26), "storm surge", surge_m=2.0,
                    peak_level_m=pred.at(later) + 2.0, peak_at=later)
    d, f = _forecast_at(NOW, pred, lambda t: 0.5, [feed])
    dt_h = (d.next_high_water.at - NOW).total_seconds() / 3600.0
    assert abs((d.next_high_water.at - HW).total_seconds()) < 600
    assert d.next_high_water.surge_m == pytest.approx(0.5 * math.exp(-dt_h / 12.0), abs=0.03), f.detail
    assert f.level.rank <= Level.BLUE.rank, (f.value, f.level, f.detail)


def test_an_official_peak_before_the_high_water_gives_the_bulletins_level() -> None:
    """The bulletin's highest water 4.55 m (orange) comes 1 h before the astronomical high water
    (the surge falls over the high water): the high water is projected at 4.55 m, not at the
    astronomical high water + the surge at the peak time (2.9 + 1.99 = 4.89 m, a false red; the
    replay's Huanggu gauge showed 4.70 m red from a 4.49 m orange bulletin)."""
    pred = _long_prediction()
    peak_at = HW - timedelta(hours=1)
    feed = FeedItem("F13", "Zhejiang Marine Forecast Station", "surge_forecast", Level.ORANGE,
                    NOW - timedelta(hours=1), NOW + timedelta(hours=24), "storm surge", surge_m=2.2,
                    peak_level_m=4.55, peak_at=peak_at)
    d, f = _forecast_at(NOW, pred, lambda t: 1.0, [feed])
    assert f.value == pytest.approx(4.55, abs=0.02) and f.level is Level.ORANGE, (f.value, f.level, f.detail)
    assert "at its high water 4.55 m" in f.detail


def test_an_official_high_water_beyond_the_prediction_is_not_applied_as_a_bare_peak_surge() -> None:
    """The bulletin names its high water, but the tide prediction ends before it: its surge is not
    placed on the high waters the prediction does see (the old code fell back to adding the peak
    surge to them: the replay's Huanggu red at 08:45 on 25 July)."""
    pred = prediction()  # ends 14 h after NOW
    far = HW + timedelta(hours=M2_H)
    feed = FeedItem("F14", "Zhejiang Marine Forecast Station", "surge_forecast", Level.ORANGE,
                    NOW - timedelta(hours=1), NOW + timedelta(hours=26), "storm surge", surge_m=2.0,
                    peak_level_m=4.9, peak_at=far)
    d, f = forecast(pred, observed(pred, lambda t: 0.5), [feed])
    assert d.next_high_water.surge_m < 0.6 and f.level.rank <= Level.BLUE.rank, (f.value, f.level, f.detail)


def test_a_surge_that_stopped_rising_is_not_grown_from_the_skew_surges_of_the_day_before() -> None:
    """In-fa replay, 22:49 on 25 July: the surge rose from 0.9 m (morning high water) to 1.6 m by 16:00
    and has been flat since. The skew surges of the last two high waters (0.4, 0.9 m) rose by 0.5 m, but
    the surge did not rise over the 6 h window: no growth (the documented rule: growth when the surge
    rose by at least 0.3 m over the window). The old code grew 1.6 m by 0.04 m/h for 11.9 h to the
    10:40 high water: 2.08 m, 4.98 m red."""
    pred = _long_prediction()

    def surge(t: datetime) -> float:
        h0 = (t - datetime(2021, 7, 25, 0, 0, tzinfo=CST)).total_seconds() / 3600.0
        if h0 <= 0:
            return 0.4
        if h0 <= 9.85:
            return 0.4 + 0.5 * h0 / 9.85
        return min(1.6, 0.9 + 0.7 * (h0 - 9.85) / 6.15)

    now = datetime(2021, 7, 25, 22, 45, tzinfo=CST)
    d, f = _forecast_at(now, pred, surge)
    assert max(h.surge_m for h in [d.next_high_water] if h) <= surge(now) + 1e-6
    assert f.level.rank < Level.RED.rank, (f.value, f.level, f.detail)
    assert "not rising now" in f.detail


def test_an_official_forecast_highest_water_caps_the_local_growth_inside_its_validity() -> None:
    """In-fa replay, 22:47 on 25 July at Jiulongshan: the bulletin forecasts the highest water of its
    horizon, 4.31 m at the overnight high water (just past); the surge still rises 0.06 m/h (0.36 m in
    6 h), and the local growth extrapolated it 11.9 h onto the 10:40 high water: 2.90 + 2.29 = 5.19 m red.
    The bulletin ranks above the local projection: no high water of its validity above its 4.31 m."""
    pred = _long_prediction()
    own_hw = HW - timedelta(hours=M2_H)  # 22:15 on 25 July
    now = own_hw + timedelta(minutes=30)

    def surge(t: datetime) -> float:
        return min(1.58, max(0.5, 1.58 - 0.06 * (now - t).total_seconds() / 3600.0))

    feed = FeedItem("F15", "Zhejiang Marine Forecast Station", "surge_forecast", Level.ORANGE,
                    now - timedelta(hours=1), now + timedelta(hours=13), "storm surge", surge_m=1.6,
                    peak_level_m=4.31, peak_at=own_hw)
    _, local = _forecast_at(now, pred, surge)
    assert local.level is Level.RED and "growing surge" in local.detail  # the local rule alone
    d, f = _forecast_at(now, pred, surge, [feed])
    assert abs((d.next_high_water.at - HW).total_seconds()) < 600
    assert f.value == pytest.approx(4.31, abs=0.01) and f.level is Level.ORANGE, (f.value, f.level, f.detail)

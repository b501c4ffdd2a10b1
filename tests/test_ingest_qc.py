"""Ingest QC without I/O: the streamed flat-line test against ioos_qc, state handling, the other tests."""

from __future__ import annotations

import random
import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ioos_qc import qartod

from haixun.ingest.qc import FAIL, PASS, SUSPECT, FlatLine, QcConfig, QcEngine, QcInput, QuantityQc, load_qc_config

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _flat_only(suspect_s: float, fail_s: float, tolerance: float) -> QcConfig:
    """A config in which only the flat-line test can flag 'x'."""
    return QcConfig(version="test", future_fail_s=1e12, max_age_suspect_s=0, roc_max_gap_s=10800,
                    spike_window_s=3600,
                    quantities={"x": QuantityQc(fail_span=(-1e9, 1e9), flat_suspect_s=suspect_s,
                                                flat_fail_s=fail_s, flat_tolerance=tolerance)})


def _ioos_flat(values: list[float], dt_s: int, suspect_s: float, fail_s: float, tol: float) -> list[int]:
    times = (T0.timestamp() + dt_s * np.arange(len(values))) * 1000.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        flags = qartod.flat_line_test(np.array(values), times.astype("datetime64[ms]"), suspect_s, fail_s, tol)
    return [int(f) for f in np.ma.getdata(flags)]


def _engine_flags(values: list[float], dt_s: int, cfg: QcConfig, cuts: list[int]) -> list[int]:
    """Feed the series in batches split at ``cuts``, committing each, like the service does."""
    engine = QcEngine(cfg)
    items = [QcInput("S1", "x", T0 + timedelta(seconds=dt_s * k), v, T0) for k, v in enumerate(values)]
    out: list[int] = []
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(items)), len(items)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        res = engine.evaluate(items[a:b])
        engine.commit(res)
        out.extend(res.flags)
    return out


def _series(rng: random.Random, n: int, tol: float) -> list[float]:
    """Random walk whose steps are around the tolerance, with stuck stretches and in-tolerance jitter."""
    v, out, mode = 10.0, [], "walk"
    for _ in range(n):
        if rng.random() < 0.08:
            mode = rng.choice(["walk", "stuck", "jitter", "drift"])
        if mode == "walk":
            v += rng.choice([-1, 1]) * rng.choice([0.2, 0.6, 0.99, 1.0, 1.5, 3.0]) * tol
        elif mode == "jitter":
            v += rng.uniform(-0.45, 0.45) * tol
        elif mode == "drift":
            v += 0.07 * tol
        out.append(round(v, 9))
    return out


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 400), dt_s=st.sampled_from([60, 300, 600, 900, 1200]),
       thresholds=st.sampled_from([(3600, 10800), (3600, 3600), (7200, 21600), (10800, 43200)]),
       tol=st.sampled_from([0.002, 0.01, 0.5]), cuts=st.lists(st.integers(1, 399), max_size=6))
def test_streamed_flat_line_equals_ioos_qc(seed, n, dt_s, thresholds, tol, cuts):
    suspect_s, fail_s = thresholds
    values = _series(random.Random(seed), n, tol)
    expected = _ioos_flat(values, dt_s, suspect_s, fail_s, tol)
    assert _engine_flags(values, dt_s, _flat_only(suspect_s, fail_s, tol), cuts) == expected


def test_flat_line_equivalence_exercises_every_flag():
    # guard against a vacuous comparison: the random series do produce all three flags
    rng = random.Random(7)
    seen: set[int] = set()
    for _ in range(50):
        values = _series(rng, 300, 0.01)
        seen.update(_ioos_flat(values, 300, 3600, 10800, 0.01))
    assert seen == {PASS, SUSPECT, FAIL}


def test_zero_tolerance_never_flags_like_ioos_qc():
    values = [5.0] * 200
    assert set(_ioos_flat(values, 60, 3600, 7200, 0.0)) == {PASS}
    # so a zero tolerance is refused, in the config and in FlatLine, rather than a silently dead test
    with pytest.raises(ValueError, match="flat_tolerance"):
        _flat_only(3600, 7200, 0.0)
    with pytest.raises(ValueError):
        FlatLine(0.0, 3600)


def test_flat_line_counts_observed_seconds_across_gaps():
    # stuck at 5-min sampling with 30 min missing: suspect once the run spans one hour
    cfg = _flat_only(3600, 10800, 0.01)
    engine = QcEngine(cfg)
    minutes = [m for m in range(0, 125, 5) if not 20 <= m < 50]
    res = engine.evaluate([QcInput("S1", "x", T0 + timedelta(minutes=m), 1.0, T0) for m in minutes])
    flagged = [m for m, f in zip(minutes, res.flags, strict=True) if f == SUSPECT]
    assert flagged[0] == 60 and all(f == PASS for m, f in zip(minutes, res.flags, strict=True) if m < 60)


def test_flat_line_memory_stays_bounded_when_stuck():
    fl = FlatLine(0.01, 3600)
    for k in range(20000):
        fl.add(60.0 * k, 1.0 + (k % 3) * 0.001)  # stuck with jitter inside the tolerance
    assert len(fl._run) <= 3600 / 60 + 2
    assert len(fl._lo) <= len(fl._run) and len(fl._hi) <= len(fl._run)


def test_evaluate_without_commit_leaves_state_alone():
    engine = QcEngine(load_qc_config().with_max_age(0))
    rat = T0 + timedelta(hours=1)
    first = [QcInput("S1", "tide_level", T0 + timedelta(minutes=k), 2.0 + 0.01 * k, rat) for k in range(10)]
    assert engine.evaluate(first).flags == [PASS] * 10
    engine.commit(engine.evaluate(first))
    spike = [QcInput("S1", "tide_level", T0 + timedelta(minutes=10), 3.5, rat)]  # 1.4 m off the trend: fail
    a = engine.evaluate(spike).flags
    b = engine.evaluate(spike).flags  # the uncommitted first call did not enter the history
    assert a == b == [FAIL]
    assert engine.history("S1", "tide_level")[-1] == ((T0 + timedelta(minutes=9)).timestamp(), pytest.approx(2.09))


def test_spike_roc_time_and_gross_range_flags():
    engine = QcEngine(load_qc_config())
    now = datetime.now(UTC).replace(microsecond=0)
    t = now - timedelta(hours=3)
    items = [QcInput("S1", "tide_level", t + timedelta(minutes=20 * k), 2.0 + 0.01 * k, now) for k in range(6)]
    items.append(QcInput("S1", "tide_level", t + timedelta(minutes=120), 2.06 + 0.7, now))  # spike 0.7 > 0.5
    items.append(QcInput("S1", "tide_level", t + timedelta(minutes=140), 2.07, now))        # back to normal
    items.append(QcInput("S2", "air_pressure", t, 1000.0, now))
    items.append(QcInput("S2", "air_pressure", t + timedelta(minutes=1), 1000.6, now))     # 0.6 > 20 hPa/h x 1 min + 0.1: suspect
    items.append(QcInput("S3", "tide_level", now + timedelta(hours=1), 2.0, now))         # from the future
    items.append(QcInput("S3", "wind_speed", now - timedelta(days=8), 5.0, now))          # older than 7 days
    items.append(QcInput("S3", "wind_gust", now, 95.0, now))                              # beyond the sensor span
    items.append(QcInput("S3", "unknown", now, 1.0, now))                                 # no config: pass
    flags = engine.evaluate(items).flags
    assert flags == [PASS] * 6 + [SUSPECT, PASS, PASS, SUSPECT, FAIL, SUSPECT, FAIL, PASS]


def test_zero_flat_tolerance_with_a_window_is_refused():
    import tomllib
    from importlib import resources

    from haixun.ingest.qc import QcConfig

    data = tomllib.loads((resources.files("haixun.ingest") / "qc.toml").read_text(encoding="utf-8"))
    data["quantity"]["wind_speed"]["flat_tolerance"] = 0.0
    with pytest.raises(ValueError, match="quantity.wind_speed.flat_tolerance: must be > 0"):
        QcConfig.from_dict(data)


def test_packaged_config_flags_a_stuck_anemometer():
    from datetime import datetime, timedelta

    from haixun.ingest.qc import FAIL, PASS, SUSPECT, QcEngine, QcInput, load_qc_config

    cfg = load_qc_config()
    wind = cfg.quantities["wind_speed"]
    engine = QcEngine(cfg)
    t0 = datetime(2026, 7, 1, tzinfo=UTC)
    flags = []
    n = int(wind.flat_fail_s // 600) + 2
    for k in range(n):  # identical 10-min means
        ts = t0 + timedelta(seconds=600 * k)
        res = engine.evaluate([QcInput("W1", "wind_speed", ts, 7.3, ts)])
        engine.commit(res)
        flags.append(res.flags[0])
    assert flags[0] == PASS
    first_suspect = flags.index(SUSPECT) * 600
    assert first_suspect == pytest.approx(wind.flat_suspect_s, abs=600)
    assert flags[-1] == FAIL

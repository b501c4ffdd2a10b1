"""Real-time QARTOD quality control of readings (config: ``qc.toml``).

Tests, per value (flag = the worst of them; 1 pass, 3 suspect, 4 fail):

* timestamp: more than ``future_fail_s`` ahead of the receive time -> fail;
  older than ``max_age_suspect_s`` -> suspect (0 disables). "Receive time" is
  the system clock's time at receipt: ``received_at`` on the wall clock, or,
  with a replay clock (``HAIXUN_CLOCK``), the simulated time at that instant
  (``Clock.at_wall(received_at)``), so a replay passes with the packaged limits;
* gross range (``ioos_qc.qartod.gross_range_test``), sensor span -> fail,
  climatological span -> suspect;
* rate of change against the previous value of the same station/quantity,
  interval-aware: flagged when |dx| > roc * dt + roc_allow (``ioos_qc``'s
  ``rate_of_change_test`` is |dx| / dt > roc, the case roc_allow = 0; computed
  here because of the allowance and the tide prediction);
* flat line: the rule of ``ioos_qc.qartod.flat_line_test`` (a value is
  suspect/fail when the range max - min of the values in the last
  ``flat_suspect_s``/``flat_fail_s`` seconds, up to and including it, is
  below ``flat_tolerance``), computed incrementally here, see below;
* spike: |x_n - reference|, the reference being the median of the previous
  values and, for ``spike_trend`` quantities, also their Theil-Sen line at t_n
  (flagged only when neither explains x_n), or prediction + median surge where
  a tide model exists. References reset after ``spike_max_gap_s``; a value
  failed by its history is followed by at most one more (recovery); tide
  gauges cross-check flagged jumps with neighbours/prediction (docs/ingest.md
  "Storm-proof history tests"). Hand-written because
  ``ioos_qc.qartod.spike_test`` is centred (it flags x[n-1] once x[n] is
  known) and we must flag the newest value before it reaches latest_readings.

Cost. The ioos_qc functions cost 0.1-0.4 ms per call, so this module calls
them once per batch and quantity (gross range), never once per value.

Why the flat line is streamed by hand: ``flat_line_test`` needs the whole
window (hours of values) on every call, i.e. one 0.1-0.4 ms call per
(station, quantity) and batch on up to hundreds of points. At steady state
(an hour of history per key, thousands of keys) that alone took ~400 us per
5-quantity message, more than the rest of ingest together. ``FlatLine`` keeps
the current "flat run" (the longest suffix of the series whose range is below
the tolerance) with monotonic min/max queues, amortised O(1) per value: a
value is flagged for a threshold T when the run reaches back to a value at
least T seconds older. ``tests/test_ingest_qc.py`` checks that the flags equal
``flat_line_test``'s on random regularly sampled series. Differences from
calling ``flat_line_test`` on a window: ioos_qc converts T into a number of
points with the median sampling interval of the array it is given, so on
irregular or gappy series its answer depended on how much history happened
to be passed; here T is always seconds of observed time (for a regular
interval dividing T both are the same). ``flat_tolerance = 0`` could never
flag (the range is never < 0), exactly as in ioos_qc, so the config loader
refuses it whenever a flat-line window is set.

State: per (station, quantity) the last ``SPIKE_REFERENCE_N`` accepted values
and the flat run. Evaluation is two-phase (``evaluate`` then ``commit``) so a
batch that could not be stored (spooled for later) does not leave its values
in the history: ``evaluate`` works on copies of the touched keys' state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from ioos_qc import qartod
from pydantic import Field, model_validator

from haixun.clock import SYSTEM_CLOCK, Clock
from haixun.ingest.configfile import (
    ConfigFileError,
    Flag,
    NonNeg,
    Positive,
    PositiveInt,
    Span,
    StrictModel,
    Version,
    naming_file,
    parse_toml,
    validate,
)

PASS, NOT_EVALUATED, SUSPECT, FAIL = 1, 2, 3, 4
SPIKE_REFERENCE_N = 5
_EVALUATED = frozenset((PASS, SUSPECT, FAIL))


# ---- configuration (qc.toml), validated with pydantic like riskcode.toml -------------
class QcConfigError(ConfigFileError):
    """qc.toml is invalid; ``errors`` lists "key: problem" lines."""

    label = "qc configuration"



def _span(name: str, span: tuple[float, float]) -> None:
    if span[0] > span[1]:
        raise ValueError(f"{name}: {list(span)} has its min above its max (written [min, max])")


def _ordered(low_name: str, low: float | None, high_name: str, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"{high_name}: {high} is below {low_name} = {low}")


class QuantityQc(StrictModel):
    """``[quantity.<name>]``: the tests of one quantity; a test is off when its keys are absent."""

    fail_span: Span
    suspect_span: Span | None = None
    spike_suspect: Positive | None = None
    spike_fail: Positive | None = None
    roc_suspect: NonNeg | None = None
    roc_fail: NonNeg | None = None
    flat_suspect_s: Positive | None = None
    flat_fail_s: Positive | None = None
    flat_tolerance: NonNeg = 0.0
    # Interval-aware rate of change: flagged when |dx| > roc * dt + roc_allow (the change
    # always allowed between two readings: sensor noise, resolution, short-period motion).
    roc_allow_suspect: NonNeg = 0.0
    roc_allow_fail: NonNeg = 0.0
    # Spike reference: False = median of the references; True = their robust trend
    # (Theil-Sen line) at the value's time, so a steadily rising tide is no spike at
    # 5- or 10-minute reporting. With a tide model, always the prediction + current surge.
    spike_trend: Flag = False
    # Tide gauge: a jump its own history flags (or a value without history) is
    # cross-checked against neighbouring gauges and the prediction ([tide_crosscheck]).
    crosscheck: Flag = False

    @model_validator(mode="after")
    def _consistent(self) -> QuantityQc:
        _span("fail_span", self.fail_span)
        if self.suspect_span is not None:
            _span("suspect_span", self.suspect_span)
            lo, hi = self.suspect_span
            if lo < self.fail_span[0] or hi > self.fail_span[1]:
                # ioos_qc's gross range test refuses it too, but only at the first reading
                raise ValueError(f"suspect_span: {list(self.suspect_span)} must lie within fail_span "
                                 f"{list(self.fail_span)} (climatological limits inside the sensor's)")
        _ordered("spike_suspect", self.spike_suspect, "spike_fail", self.spike_fail)
        _ordered("roc_suspect", self.roc_suspect, "roc_fail", self.roc_fail)
        if self.roc_fail is not None and self.roc_suspect is None:
            raise ValueError("roc_fail: set without roc_suspect (the rate-of-change test runs on roc_suspect)")
        _ordered("roc_allow_suspect", self.roc_allow_suspect, "roc_allow_fail", self.roc_allow_fail)
        if (self.flat_suspect_s is None) != (self.flat_fail_s is None):
            raise ValueError("flat_fail_s: flat_suspect_s and flat_fail_s go together (the flat-line test needs both)")
        _ordered("flat_suspect_s", self.flat_suspect_s, "flat_fail_s", self.flat_fail_s)
        if self.flat_suspect_s is not None and not self.flat_tolerance > 0:
            # range < tolerance can never hold for 0: the test would be silently off
            raise ValueError(f"flat_tolerance: must be > 0 when a flat-line window is set (use about half "
                             f"the sensor's resolution), got {self.flat_tolerance}")
        return self


class CrossCheckQc(StrictModel):
    """Neighbour / prediction cross-check of tide gauges (qc.toml ``[tide_crosscheck]``)."""

    max_km: Positive = 12.0
    max_age_s: Positive = 900.0
    surge_tolerance_m: Positive = 0.4
    level_tolerance_m: Positive = 0.8
    surge_band_m: Span = (-1.0, 3.0)
    surge_max_age_s: Positive = 10800.0
    max_neighbours: PositiveInt = 8

    @model_validator(mode="after")
    def _band(self) -> CrossCheckQc:
        _span("surge_band_m", self.surge_band_m)
        return self


class TimeQc(StrictModel):
    """``[time]``: every key required (no hidden default thresholds)."""

    future_fail_s: NonNeg
    max_age_suspect_s: NonNeg  # 0 disables the test
    roc_max_gap_s: Positive
    spike_window_s: Positive
    spike_max_gap_s: Positive


class QcFile(StrictModel):
    """The whole of qc.toml."""

    version: Version
    time: TimeQc
    tide_crosscheck: CrossCheckQc
    quantity: dict[str, QuantityQc] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class QcConfig:
    version: str
    future_fail_s: float
    max_age_suspect_s: float
    roc_max_gap_s: float
    spike_window_s: float
    quantities: dict[str, QuantityQc]
    # a value more than this after the newest reference starts the references afresh
    spike_max_gap_s: float = 1200.0
    crosscheck: CrossCheckQc = field(default_factory=CrossCheckQc)

    @property
    def history_s(self) -> float:
        """How much history per key the tests need."""
        flats = [q.flat_fail_s or q.flat_suspect_s or 0.0 for q in self.quantities.values()]
        return max([self.roc_max_gap_s, self.spike_window_s, *flats])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QcConfig:
        """Validate a parsed qc.toml; raises ``QcConfigError`` listing "key: problem"."""
        f = validate(QcFile, data, QcConfigError)
        t = f.time
        return cls(version=f.version, future_fail_s=t.future_fail_s, max_age_suspect_s=t.max_age_suspect_s,
                   roc_max_gap_s=t.roc_max_gap_s, spike_window_s=t.spike_window_s, quantities=dict(f.quantity),
                   spike_max_gap_s=t.spike_max_gap_s, crosscheck=f.tide_crosscheck)

    @classmethod
    def from_toml(cls, text: str) -> QcConfig:
        return cls.from_dict(parse_toml(text, QcConfigError))

    def with_max_age(self, max_age_suspect_s: float) -> QcConfig:
        return replace(self, max_age_suspect_s=max_age_suspect_s)


def load_qc_config(path: Path | None = None) -> QcConfig:
    """The packaged ``qc.toml``, or the file at ``path``; raises ``QcConfigError`` naming each bad key."""
    if path is None:
        text = (resources.files("haixun.ingest") / "qc.toml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    try:
        return QcConfig.from_toml(text)
    except QcConfigError as exc:
        raise naming_file(exc, str(path or "qc.toml (packaged)")) from None


@dataclass(frozen=True, slots=True)
class QcInput:
    station_id: str
    quantity: str
    ts: datetime
    value: float
    received_at: datetime


class QcItem(Protocol):
    """What ``QcEngine.evaluate`` reads from an item (``QcInput``, ``pipeline.ReadingRow``)."""

    @property
    def station_id(self) -> str: ...
    @property
    def quantity(self) -> str: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def value(self) -> float: ...
    @property
    def received_at(self) -> datetime: ...


Key = tuple[str, str]
Point = tuple[float, float]  # (epoch seconds, value)


class FlatLine:
    """Incremental QARTOD flat-line test of one series (see the module docstring).

    ``add(t, v)`` takes values in increasing ``t`` and returns the time of the
    first value of the current flat run: the values from there to ``v`` have a
    range (max - min) below ``tolerance``, and including the value before it
    would not. The caller flags ``v`` for a threshold T when that time is at
    least T seconds before ``t``. Values older than the last one at or before
    ``t - horizon_s`` (the largest threshold) can never matter again and are
    dropped, so memory is bounded by the flat run within ``horizon_s``.

    Plain lists, not deques: a run is short unless the sensor is stuck, and
    ``evaluate`` copies the state of every key it touches (two-phase commit),
    which is several times cheaper for small lists than for deques.
    """

    __slots__ = ("tolerance", "horizon_s", "_run", "_lo", "_hi")

    def __init__(self, tolerance: float, horizon_s: float) -> None:
        if tolerance <= 0:
            raise ValueError("a flat line with tolerance <= 0 never flags")
        self.tolerance = tolerance
        self.horizon_s = horizon_s
        self._run: list[float] = []     # times of the flat run, oldest first
        self._lo: list[Point] = []      # candidates for its minimum: values and times increase
        self._hi: list[Point] = []      # candidates for its maximum: values decrease, times increase

    def copy(self) -> FlatLine:
        other = FlatLine.__new__(FlatLine)
        other.tolerance, other.horizon_s = self.tolerance, self.horizon_s
        other._run, other._lo, other._hi = self._run[:], self._lo[:], self._hi[:]
        return other

    def add(self, t: float, v: float) -> float:
        run, lo, hi = self._run, self._lo, self._hi
        p = (t, v)
        run.append(t)
        while lo and lo[-1][1] >= v:
            lo.pop()
        lo.append(p)
        while hi and hi[-1][1] <= v:
            hi.pop()
        hi.append(p)
        # Range too wide: the run must start after the earlier of the two
        # extremes. Never empties a list: with tolerance > 0 the fronts are
        # two different values, and the newer one (at worst p) stays.
        if hi[0][1] - lo[0][1] >= self.tolerance:
            tol = self.tolerance
            i = j = 0
            cut = 0.0
            while hi[j][1] - lo[i][1] >= tol:
                if lo[i][0] <= hi[j][0]:
                    cut = lo[i][0]
                    i += 1
                else:
                    cut = hi[j][0]
                    j += 1
            del lo[:i], hi[:j]
            k = 0
            while run[k] <= cut:
                k += 1
            del run[:k]
        # Keep one value at or before the horizon, drop what precedes it.
        limit = t - self.horizon_s
        if len(run) > 1 and run[1] <= limit:
            k = 0
            while k + 1 < len(run) and run[k + 1] <= limit:
                k += 1
            del run[:k]
            start = run[0]
            k = 0
            while lo[k][0] < start:
                k += 1
            del lo[:k]
            k = 0
            while hi[k][0] < start:
                k += 1
            del hi[:k]
        return run[0]


class Series:
    """QC state of one (station, quantity): the last accepted values and the flat run."""

    __slots__ = ("recent", "flat", "last_fail")

    def __init__(self, recent: tuple[Point, ...], flat: FlatLine | None, last_fail: Point | None = None) -> None:
        self.recent = recent  # last SPIKE_REFERENCE_N accepted values, oldest first (immutable: copies are free)
        self.flat = flat
        # the newest value failed by the history tests alone (newer than ``recent``): when the
        # next value agrees with it, the level really moved (recovery, see ``evaluate``)
        self.last_fail = last_fail

    def copy(self) -> Series:
        return Series(self.recent, self.flat.copy() if self.flat is not None else None, self.last_fail)


@dataclass(slots=True)
class QcResult:
    flags: list[int]
    updates: dict[Key, Series] = field(default_factory=dict)


def _threshold_flag(x: float, suspect: float | None, fail: float | None) -> int:
    if fail is not None and x > fail:
        return FAIL
    if suspect is not None and x > suspect:
        return SUSPECT
    return PASS


def _median(values: list[float]) -> float:
    # statistics.median's definition, without its overhead
    data = sorted(values)
    n = len(data)
    if n % 2 == 1:
        return data[n // 2]
    return (data[n // 2 - 1] + data[n // 2]) / 2


def _theil_sen_at(ref: list[Point], t: float) -> float:
    """Robust line through the references (median of pairwise slopes), evaluated at ``t``."""
    slopes = [(b[1] - a[1]) / (b[0] - a[0]) for j, a in enumerate(ref) for b in ref[j + 1:] if b[0] != a[0]]
    if not slopes:
        return _median([hv for _, hv in ref])
    m = _median(slopes)
    return _median([hv + m * (t - ht) for ht, hv in ref])


def _ioos_flags(arr: Any) -> list[int]:
    """ioos_qc returns masked arrays; element access on those is slow."""
    return [int(f) for f in np.ma.getdata(arr).tolist()]


@dataclass(frozen=True, slots=True)
class _Rules:
    """Per-quantity parameters of the history tests, resolved once."""

    roc: bool
    spike: bool
    spike_suspect: float | None
    spike_fail: float | None
    flat_suspect_s: float
    flat_fail_s: float
    flat_tolerance: float  # <= 0: no flat-line test
    roc_suspect: float = 0.0
    roc_fail: float = math.inf
    roc_allow_suspect: float = 0.0
    roc_allow_fail: float = 0.0
    spike_trend: bool = False
    crosscheck: bool = False


class QcEngine:
    """Stateful real-time QC over a stream of readings (one per ingest process)."""

    def __init__(self, config: QcConfig, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self._replay_clock = clock if clock.is_replay else None
        # computed once (the property walks all quantities)
        self._history_s = config.history_s
        self._rules: dict[str, _Rules] = {}
        for name, q in config.quantities.items():
            has_flat = q.flat_suspect_s is not None and q.flat_fail_s is not None and q.flat_tolerance > 0
            self._rules[name] = _Rules(
                roc=q.roc_suspect is not None,
                spike=q.spike_suspect is not None or q.spike_fail is not None,
                spike_suspect=q.spike_suspect, spike_fail=q.spike_fail,
                flat_suspect_s=float(q.flat_suspect_s or 0.0) if has_flat else 0.0,
                flat_fail_s=float(q.flat_fail_s or 0.0) if has_flat else 0.0,
                flat_tolerance=q.flat_tolerance if has_flat else 0.0,
                roc_suspect=float(q.roc_suspect or 0.0),
                roc_fail=float(q.roc_fail) if q.roc_fail is not None else math.inf,
                roc_allow_suspect=q.roc_allow_suspect, roc_allow_fail=q.roc_allow_fail,
                spike_trend=q.spike_trend, crosscheck=q.crosscheck,
            )
        self._state: dict[Key, Series] = {}
        # station id -> metres to add to its levels to get CN1985 (stations.datum_offset_m;
        # applied by pipeline.process before QC, haixun/data/datum.py)
        self.datum_offsets: dict[str, float] = {}
        # Station context for the tide cross-check (``qcstore.refresh_station_context``):
        # tide station -> neighbouring tide stations within ``crosscheck.max_km``, and the
        # astronomical prediction (epoch seconds, levels) of stations with a tide model.
        self.neighbours: dict[str, tuple[str, ...]] = {}
        self.neighbours_of: list[tuple[str, float, float]] = []  # the gauges (id, lat, lon) they were found for
        self.predictions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.prediction_meta: dict[str, tuple[Any, float]] = {}
        self.crosscheck_notes: list[tuple[str, str, float, float, str]] = []  # last evaluate's verdicts
        self.restored = False  # QC state restored from the database (qcstore.restore_state)
        self.clock = clock

    def restore(self, station_id: str, quantity: str, points: Sequence[Point]) -> None:
        """Seed one key's state from stored accepted values (oldest first), as if evaluated."""
        st = self._new_series(quantity)
        for t, v in points:
            if st.flat is not None:
                st.flat.add(t, v)
        st.recent = tuple(points[-SPIKE_REFERENCE_N:])
        self._state[(station_id, quantity)] = st

    def _pred_at(self, station_id: str, t: float) -> float | None:
        p = self.predictions.get(station_id)
        if p is None:
            return None
        ts, lv = p
        if t < ts[0] or t > ts[-1]:
            return None
        return float(np.interp(t, ts, lv))

    def _deviation(self, ref: list[Point], t: float, v: float, pred: Callable[[float], float | None] | None,
                   trend: bool) -> float:
        """How far ``v`` is from what the references say the series should read at ``t``.

        With a tide prediction: prediction + the references' median surge. Otherwise the
        median of the references and, with ``trend``, also their Theil-Sen line at ``t``:
        a value is a spike only when neither explains it (the line follows a rising tide
        at 10-min reporting; the median is robust to one odd reference among three)."""
        if pred is not None:
            at = pred(t)
            res = [hv - a for ht, hv in ref if (a := pred(ht)) is not None]
            if at is not None and len(res) >= 2:
                return abs(v - at - _median(res))
        dev = abs(v - _median([hv for _, hv in ref]))
        if trend:
            dev = min(dev, abs(v - _theil_sen_at(ref, t)))
        return dev

    def _crosscheck(self, station_id: str, quantity: str, t: float, v: float, st: Series,
                    work: dict[Key, Series]) -> tuple[int, str] | None:
        """Neighbouring gauges and the prediction on a tide value; None without evidence."""
        cc = self.config.crosscheck
        mine = self._pred_at(station_id, t)
        implied: list[float] = []
        tol = cc.level_tolerance_m
        for n in self.neighbours.get(station_id, ()):
            sn = work.get((n, quantity)) or self._state.get((n, quantity))
            if sn is None or not sn.recent:
                continue
            tn, vn = sn.recent[-1]
            if abs(t - tn) > cc.max_age_s:
                continue
            theirs = self._pred_at(n, tn)
            if mine is not None and theirs is not None:
                implied.append(mine + (vn - theirs))  # their surge on my tide
                tol = cc.surge_tolerance_m
            else:
                implied.append(vn)
        if implied:
            basis = f"neighbours {_median(implied):.2f} m"
            dev = abs(v - _median(implied))
        elif mine is not None:
            fresh = [(ht, hv) for ht, hv in st.recent if t - cc.surge_max_age_s <= ht < t]
            res = [hv - a for ht, hv in fresh if (a := self._pred_at(station_id, ht)) is not None]
            if res:
                expected = mine + _median(res)
                basis = f"prediction + surge {expected:.2f} m"
                dev = abs(v - expected)
            else:
                lo, hi = mine + cc.surge_band_m[0], mine + cc.surge_band_m[1]
                basis = f"prediction {mine:.2f} m with a surge in [{cc.surge_band_m[0]}, {cc.surge_band_m[1]}] m"
                dev = max(0.0, lo - v, v - hi)
            tol = cc.surge_tolerance_m
        else:
            return None
        flag = PASS if dev <= tol else SUSPECT if dev <= 2 * tol else FAIL
        return flag, basis

    def history(self, station_id: str, quantity: str) -> list[Point]:
        """The last accepted values (epoch seconds, value) kept for the spike/rate tests."""
        st = self._state.get((station_id, quantity))
        return list(st.recent) if st is not None else []

    def commit(self, result: QcResult) -> None:
        self._state.update(result.updates)

    def _new_series(self, quantity: str) -> Series:
        r = self._rules.get(quantity)
        if r is None or r.flat_tolerance <= 0:
            return Series((), None)
        return Series((), FlatLine(r.flat_tolerance, max(r.flat_suspect_s, r.flat_fail_s)))

    def evaluate(self, items: Sequence[QcItem]) -> QcResult:
        cfg = self.config
        n = len(items)
        flags = [PASS] * n
        if n == 0:
            return QcResult(flags)
        future_fail_s, max_age_s = cfg.future_fail_s, cfg.max_age_suspect_s
        rules = self._rules
        replay = self._replay_clock

        # 1. timestamps (pure arithmetic; ioos_qc has no receive-time test).
        # Readings of one message share their datetime objects: compute once.
        # Also: epoch seconds, and the indices per quantity for step 2.
        impossible = [False] * n  # clock too far ahead: no history test
        epochs = [0.0] * n
        by_quantity: dict[str, list[int]] = {}
        last_ts: datetime | None = None
        last_rat: datetime | None = None
        t = 0.0
        ts_flag = PASS
        future = False
        for i, it in enumerate(items):
            ts, rat = it.ts, it.received_at
            if ts is not last_ts or rat is not last_rat:
                if ts is not last_ts:
                    t = ts.timestamp()
                last_ts, last_rat = ts, rat
                # the clock's time at receipt (received_at itself on the system clock)
                lead = (ts - (rat if replay is None else replay.at_wall(rat.timestamp()))).total_seconds()
                future = lead > future_fail_s
                ts_flag = FAIL if future else SUSPECT if max_age_s > 0 and -lead > max_age_s else PASS
            epochs[i] = t
            if ts_flag != PASS:
                flags[i] = ts_flag
                impossible[i] = future
            idx = by_quantity.get(it.quantity)
            if idx is None:
                by_quantity[it.quantity] = [i]
            else:
                idx.append(i)

        # 2. gross range, vectorised per quantity
        for name, idx in by_quantity.items():
            qcfg = cfg.quantities.get(name)
            if qcfg is None:
                continue
            gr = _ioos_flags(qartod.gross_range_test(np.array([items[i].value for i in idx]),
                                                     qcfg.fail_span, qcfg.suspect_span))
            for i, g in zip(idx, gr, strict=True):
                if g > flags[i] and g in _EVALUATED:
                    flags[i] = g

        # 3. history tests, sequential per key. Interval-aware (issue 13): references are
        # reset after a gap of more than ``spike_max_gap_s``; the rate of change allows
        # ``roc_allow`` between any two readings; the spike reference follows the trend
        # (or the tide prediction + current surge). Out-of-order values are tested against
        # the references around their time (issue 14) but do not feed the flat line.
        state = self._state
        self.crosscheck_notes = []
        work: dict[Key, Series] = {}
        spike_window_s, roc_max_gap_s, history_s = cfg.spike_window_s, cfg.roc_max_gap_s, self._history_s
        max_gap_s = cfg.spike_max_gap_s
        keep = SPIKE_REFERENCE_N
        for i, it in enumerate(items):
            quantity = it.quantity
            key = (it.station_id, quantity)
            st = work.get(key)
            if st is None:
                base = state.get(key)
                st = work[key] = base.copy() if base is not None else self._new_series(quantity)
            r = rules.get(quantity)
            if r is None or impossible[i]:
                continue  # no history test for unknown config or an impossible clock
            t, v = epochs[i], it.value
            recent = st.recent
            if any(ht == t for ht, _ in recent):
                continue  # duplicate: gross range and time only
            in_order = not recent or t > recent[-1][0]
            if in_order and recent and t - recent[-1][0] > max_gap_s:
                recent = st.recent = ()  # after a gap the old references say nothing about now
                st.last_fail = None
            sid = it.station_id
            pred = (lambda x, s_=sid: self._pred_at(s_, x)) if sid in self.predictions else None
            hist = PASS
            if r.roc and recent:
                pt, pv = recent[-1] if in_order else min(recent, key=lambda p: abs(p[0] - t))
                dt = abs(t - pt)
                if dt <= roc_max_gap_s:
                    d = abs(v - pv)
                    if pred is not None:
                        a_t, a_p = pred(t), pred(pt)
                        if a_t is not None and a_p is not None:
                            d = abs((v - a_t) - (pv - a_p))  # rate of the surge, not of the tide
                    if d > r.roc_fail * dt + r.roc_allow_fail:
                        hist = FAIL
                    elif d > r.roc_suspect * dt + r.roc_allow_suspect:
                        hist = SUSPECT
            if r.spike:
                ref = [p for p in recent if abs(t - p[0]) <= spike_window_s]
                if len(ref) >= 2:
                    f = _threshold_flag(self._deviation(ref, t, v, pred, r.spike_trend), r.spike_suspect,
                                        r.spike_fail)
                    if f > hist:
                        hist = f
            if r.crosscheck and (hist != PASS or not recent or flags[i] != PASS):
                verdict = self._crosscheck(sid, quantity, t, v, st, work)
                if verdict is not None:
                    if hist != PASS and verdict[0] == PASS:
                        recent = st.recent = ()  # the gauge is right, its own references are stale
                    hist = verdict[0]
                    if verdict[0] != PASS:
                        self.crosscheck_notes.append((sid, quantity, t, v, verdict[1]))
            if hist == FAIL and flags[i] != FAIL and in_order and st.last_fail is not None:
                # Recovery: the previous value also failed only its history, and this one
                # agrees with it: the level really moved (an outage, a surge step). Never
                # more than one good reading fails in a row (issue 13).
                lt, lv = st.last_fail
                if t - lt <= max_gap_s and abs(v - lv) <= (r.spike_suspect or 0.0) + r.roc_suspect * (t - lt):
                    hist = SUSPECT
                    recent = st.recent = (st.last_fail,)
            if hist > flags[i]:
                flags[i] = hist
            if flags[i] != FAIL:
                # failed values do not become the reference for the next ones
                st.last_fail = None
                if in_order:
                    st.recent = (*recent[-(keep - 1):], (t, v)) if keep > 1 else ((t, v),)
                    flat = st.flat
                    if flat is not None:
                        start = flat.add(t, v)
                        if start <= t - r.flat_fail_s:
                            flags[i] = FAIL
                        elif start <= t - r.flat_suspect_s and flags[i] < SUSPECT:
                            flags[i] = SUSPECT
                else:
                    st.recent = tuple(sorted((*recent, (t, v))))[-keep:]
            else:
                if hist == FAIL and in_order:
                    st.last_fail = (t, v)
                if recent and recent[-1][0] < t - history_s:
                    # everything kept is older than the history horizon: start afresh
                    work[key] = self._new_series(quantity)
        return QcResult(flags, work)

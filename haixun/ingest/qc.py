"""Real-time QARTOD quality control of readings (config: ``qc.toml``).

Tests, per value (flag = the worst of them; 1 pass, 3 suspect, 4 fail):

* timestamp: more than ``future_fail_s`` ahead of the receive time -> fail;
  older than ``max_age_suspect_s`` -> suspect (0 disables);
* gross range (``ioos_qc.qartod.gross_range_test``), sensor span -> fail,
  climatological span -> suspect;
* rate of change (``ioos_qc.qartod.rate_of_change_test``) against the
  previous value of the same station/quantity;
* flat line (``ioos_qc.qartod.flat_line_test``) on the recent window;
* spike: |x_n - median(previous values)|. Hand-written because
  ``ioos_qc.qartod.spike_test`` is centred (it flags x[n-1] once x[n] is
  known) and we must flag the newest value before it reaches latest_readings.

The ioos_qc functions cost 0.1-0.4 ms per call, so this module calls them once
per batch and quantity (gross range, rate of change: interleaved pairs) and
once per (station, quantity) and batch (flat line), not once per value.

State: a short per-(station, quantity) history window in memory. Evaluation
is two-phase (``evaluate`` then ``commit``) so a batch that could not be
stored (spooled for later) does not leave its values in the history.
"""

from __future__ import annotations

import statistics
import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from ioos_qc import qartod

PASS, NOT_EVALUATED, SUSPECT, FAIL = 1, 2, 3, 4
SPIKE_REFERENCE_N = 5
HISTORY_MAX_POINTS = 512


@dataclass(frozen=True, slots=True)
class QuantityQc:
    fail_span: tuple[float, float]
    suspect_span: tuple[float, float] | None = None
    spike_suspect: float | None = None
    spike_fail: float | None = None
    roc_suspect: float | None = None
    roc_fail: float | None = None
    flat_suspect_s: float | None = None
    flat_fail_s: float | None = None
    flat_tolerance: float = 0.0


@dataclass(frozen=True, slots=True)
class QcConfig:
    version: str
    future_fail_s: float
    max_age_suspect_s: float
    roc_max_gap_s: float
    spike_window_s: float
    quantities: dict[str, QuantityQc]

    @property
    def history_s(self) -> float:
        """How much history per key the tests need."""
        flats = [q.flat_fail_s or q.flat_suspect_s or 0.0 for q in self.quantities.values()]
        return max([self.roc_max_gap_s, self.spike_window_s, *flats])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QcConfig:
        t = data.get("time", {})
        quantities: dict[str, QuantityQc] = {}
        for name, q in data.get("quantity", {}).items():
            kw = dict(q)
            kw["fail_span"] = tuple(kw["fail_span"])
            if "suspect_span" in kw:
                kw["suspect_span"] = tuple(kw["suspect_span"])
            quantities[name] = QuantityQc(**kw)
        return cls(
            version=str(data["version"]),
            future_fail_s=float(t.get("future_fail_s", 300)),
            max_age_suspect_s=float(t.get("max_age_suspect_s", 7 * 86400)),
            roc_max_gap_s=float(t.get("roc_max_gap_s", 3 * 3600)),
            spike_window_s=float(t.get("spike_window_s", 3600)),
            quantities=quantities,
        )

    def with_max_age(self, max_age_suspect_s: float) -> QcConfig:
        return QcConfig(self.version, self.future_fail_s, max_age_suspect_s, self.roc_max_gap_s,
                        self.spike_window_s, self.quantities)


def load_qc_config(path: Path | None = None) -> QcConfig:
    """The packaged ``qc.toml``, or the file at ``path``."""
    if path is None:
        text = (resources.files("haixun.ingest") / "qc.toml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return QcConfig.from_dict(tomllib.loads(text))


@dataclass(frozen=True, slots=True)
class QcInput:
    station_id: str
    quantity: str
    ts: datetime
    value: float
    received_at: datetime


Key = tuple[str, str]
History = list[tuple[float, float]]  # (epoch seconds, value), ascending ts


@dataclass(slots=True)
class QcResult:
    flags: list[int]
    updates: dict[Key, History] = field(default_factory=dict)


def _worst(*flags: int) -> int:
    # 2 (not evaluated) never hides a pass/suspect/fail verdict of another test.
    evaluated = [f for f in flags if f in (PASS, SUSPECT, FAIL)]
    return max(evaluated) if evaluated else PASS


def _threshold_flag(x: float, suspect: float | None, fail: float | None) -> int:
    if fail is not None and x > fail:
        return FAIL
    if suspect is not None and x > suspect:
        return SUSPECT
    return PASS


class QcEngine:
    """Stateful real-time QC over a stream of readings (one per ingest process)."""

    def __init__(self, config: QcConfig) -> None:
        self.config = config
        self._history: dict[Key, History] = {}

    def history(self, station_id: str, quantity: str) -> History:
        return list(self._history.get((station_id, quantity), []))

    def commit(self, result: QcResult) -> None:
        self._history.update(result.updates)

    def evaluate(self, items: Sequence[QcInput]) -> QcResult:
        cfg = self.config
        n = len(items)
        flags = [PASS] * n
        if n == 0:
            return QcResult(flags)

        # 1. timestamps (pure arithmetic; ioos_qc has no receive-time test)
        for i, it in enumerate(items):
            lead = (it.ts - it.received_at).total_seconds()
            if lead > cfg.future_fail_s:
                flags[i] = FAIL
            elif cfg.max_age_suspect_s > 0 and -lead > cfg.max_age_suspect_s:
                flags[i] = SUSPECT

        # 2. gross range, vectorised per quantity
        by_quantity: dict[str, list[int]] = {}
        for i, it in enumerate(items):
            by_quantity.setdefault(it.quantity, []).append(i)
        for name, idx in by_quantity.items():
            qcfg = cfg.quantities.get(name)
            if qcfg is None:
                continue
            gr = qartod.gross_range_test(np.array([items[i].value for i in idx]), qcfg.fail_span, qcfg.suspect_span)
            for j, i in enumerate(idx):
                flags[i] = _worst(flags[i], int(gr[j]))

        # 3. history tests, sequential per key (in-order values only)
        work: dict[Key, History] = {}
        for it in items:
            key = (it.station_id, it.quantity)
            if key not in work:
                work[key] = list(self._history.get(key, []))
        roc_pairs: dict[str, list[tuple[int, float, float, float, float]]] = {}
        new_points: dict[Key, list[tuple[int, float]]] = {}
        for i, it in enumerate(items):
            qcfg = cfg.quantities.get(it.quantity)
            key = (it.station_id, it.quantity)
            hist = work[key]
            t = it.ts.timestamp()
            if qcfg is None or flags[i] == FAIL and (it.ts - it.received_at).total_seconds() > cfg.future_fail_s:
                continue  # no history test for unknown config or an impossible clock
            if hist and t <= hist[-1][0]:
                continue  # duplicate / out of order: gross range and time only
            if hist:
                pt, pv = hist[-1]
                if qcfg.roc_suspect is not None and t - pt <= cfg.roc_max_gap_s:
                    roc_pairs.setdefault(it.quantity, []).append((i, pt, pv, t, it.value))
                if qcfg.spike_suspect is not None or qcfg.spike_fail is not None:
                    ref = [v for (ht, v) in hist[-SPIKE_REFERENCE_N:] if t - ht <= cfg.spike_window_s]
                    if len(ref) >= 2:
                        dev = abs(it.value - statistics.median(ref))
                        flags[i] = _worst(flags[i], _threshold_flag(dev, qcfg.spike_suspect, qcfg.spike_fail))
            if flags[i] != FAIL:
                # failed values do not become the reference for the next ones
                hist.append((t, it.value))
                new_points.setdefault(key, []).append((i, t))
            horizon = t - cfg.history_s
            while hist and (hist[0][0] < horizon or len(hist) > HISTORY_MAX_POINTS):
                hist.pop(0)

        # rate of change: one ioos_qc call per quantity on interleaved
        # (previous, new) pairs; only the odd positions (new vs its own
        # previous) are read back.
        for name, pairs in roc_pairs.items():
            qcfg = cfg.quantities[name]
            vals = np.array([v for (_, _, pv, _, nv) in pairs for v in (pv, nv)])
            times = np.array([tt for (_, pt, _, nt, _) in pairs for tt in (pt, nt)]) * 1000.0
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                roc = qartod.rate_of_change_test(vals, times.astype("datetime64[ms]"), qcfg.roc_suspect, qcfg.roc_fail)
            for j, (i, *_rest) in enumerate(pairs):
                flags[i] = _worst(flags[i], int(roc[2 * j + 1]))

        # flat line: one ioos_qc call per key on its window
        for key, points in new_points.items():
            qcfg = cfg.quantities.get(key[1])
            if qcfg is None or qcfg.flat_suspect_s is None or qcfg.flat_fail_s is None:
                continue
            hist = work[key]
            if len(hist) < 3 or hist[-1][0] - hist[0][0] < qcfg.flat_suspect_s:
                continue
            ts_arr = (np.array([h[0] for h in hist]) * 1000.0).astype("datetime64[ms]")
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                fl = qartod.flat_line_test(np.array([h[1] for h in hist]), ts_arr, qcfg.flat_suspect_s,
                                           qcfg.flat_fail_s, qcfg.flat_tolerance)
            pos = {h[0]: j for j, h in enumerate(hist)}
            for i, t in points:
                j = pos.get(t)
                if j is not None:
                    flags[i] = _worst(flags[i], int(fl[j]))
        return QcResult(flags, work)

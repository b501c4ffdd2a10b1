"""Tidal models per tide station: fit (riskcode.tides / utide), store in
``tide_models``, and keep prediction series cached in memory.

A station gets a model once it has at least ``tide_min_days`` (15, tide_fit.toml
``min_days``) of tide_level history (one sample per hour: the reading nearest the
full hour, from the last ``tide_history_days``); below ``full_days`` (29) the fit
infers N2/K2/P1 from M2/S2/K1 (``method`` 'utide+infer'), and the 6-hourly refit
replaces it by a plain fit once 29 days are there. Until then it has no
prediction and riskcode reports surge and forecast high water as unavailable.

Which readings count (``USABLE`` in store/tide_models.py): QC pass (1), and suspect (3) only when the
reading reached ingest more than ``tide_late_suspect_s`` after its timestamp.
Ingest flags every reading older than ``max_age_suspect_s`` (7 days) at
receipt as suspect, so a history backfill or a gauge's buffer dump would
otherwise never count. The stored flag does not say which test raised it: a
late reading that was also a spike is used as well (utide's least squares on
hundreds of hourly values; one bad hour moves the constants by millimetres).
Recent suspect readings (spike, rate of change, flat line) are not used.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from haixun.engine.leader import LeaderLock
from haixun.engine.options import EngineOptions
from haixun.riskcode.tides import TideModel, TidePrediction, fit_tide
from haixun.store import tide_models as store
from haixun.store.tide_models import OFFICIAL_METHOD

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Cached:
    model: TideModel
    prediction: TidePrediction | None = None
    computed_for: datetime | None = None


class TideCache:
    """Models loaded from ``tide_models`` and their prediction series."""

    def __init__(self, options: EngineOptions) -> None:
        self._opts = options
        self._stations: dict[str, _Cached] = {}

    @property
    def stations_with_model(self) -> list[str]:
        return sorted(self._stations)

    async def load(self, conn: psycopg.AsyncConnection) -> None:
        for sid, model in await store.stored_models(conn):
            try:
                self._stations[sid] = _Cached(TideModel.from_json(model))
            except (ValueError, KeyError) as exc:
                log.warning("tide model of %s unreadable (%s); it will be refitted", sid, exc)

    async def tide_stations(self, conn: psycopg.AsyncConnection) -> list[str]:
        return await store.tide_station_ids(conn)

    async def ready_without_model(self, conn: psycopg.AsyncConnection, now: datetime) -> list[str]:
        """Tide stations without a model whose usable history already spans ``tide_min_days``.

        Cheap (min/max of ts per station on the readings primary key), run
        every ``tide_check_every_s`` so a fresh system gets its models as soon
        as the history is there, not at the next 6-hourly refit.
        """
        opts = self._opts
        return await store.ready_without_model(
            conn, lo=now - timedelta(days=opts.tide_history_days), hi=now, have=self.stations_with_model,
            late=timedelta(seconds=opts.tide_late_suspect_s), span=timedelta(days=opts.tide_min_days))

    async def refit(self, conn: psycopg.AsyncConnection, station_id: str, now: datetime, *,
                    write_lock: asyncio.Lock, lock: LeaderLock) -> bool | None:
        """Fit and store a model. True = fitted, False = not enough history, None = not the leader."""
        opts = self._opts
        lat = await store.station_lat(conn, station_id)
        if lat is None:
            return False
        have = await store.stored_model(conn, station_id)
        if have is not None and have.method == OFFICIAL_METHOD:
            # imported official constants (haixun tide-import) are never replaced by a fit
            self._stations[station_id] = _Cached(TideModel.from_json(have.model_json))
            return True
        rows = await store.hourly_levels(conn, station_id, lo=now - timedelta(days=opts.tide_history_days), hi=now,
                                         late=timedelta(seconds=opts.tide_late_suspect_s))
        if len(rows) < 2 or (rows[-1][0] - rows[0][0]).total_seconds() < opts.tide_min_days * 86400:
            log.info("tide station %s: %d hourly values, less than %g days: no model yet", station_id,
                     len(rows), opts.tide_min_days)
            return False
        times, levels = [r[0] for r in rows], [r[1] for r in rows]
        try:
            model = await asyncio.to_thread(fit_tide, times, levels, lat)
        except ValueError as exc:
            log.warning("tide fit of %s failed: %s", station_id, exc)
            return False
        span = model.span_days
        method = "utide+infer" if model.inferred else "utide"
        async with write_lock:
            if not lock.held:
                return None
            await store.save_model(lock.conn, station_id, store.StoredTideModel(
                json.loads(model.to_json()), now, model.fitted_from, model.fitted_to, model.n_obs, span,
                model.rms_residual_m, method))
        self._stations[station_id] = _Cached(model)
        log.info("tide station %s: fitted %d hourly values over %.1f days (%s; rms residual %.3f m)", station_id,
                 model.n_obs, span, model.basis, model.rms_residual_m)
        return True

    def predictions(self, now: datetime) -> dict[str, TidePrediction]:
        """Per station with a model: astronomical levels from now - lookback to at
        least now + horizon (re-predicted every ``tide_recompute_s``)."""
        opts = self._opts
        out: dict[str, TidePrediction] = {}
        for sid, c in self._stations.items():
            if c.prediction is None or c.computed_for is None \
                    or (now - c.computed_for).total_seconds() >= opts.tide_recompute_s:
                start = now - timedelta(seconds=opts.tide_lookback_s)
                end = now + timedelta(seconds=opts.tide_horizon_s + opts.tide_recompute_s)
                c.prediction = TidePrediction.from_model(c.model, start, end, step_s=opts.tide_step_s)
                c.computed_for = now
            out[sid] = c.prediction
        return out

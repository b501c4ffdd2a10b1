"""Tidal models per tide station: fit (riskcode.tides / utide), store in
``tide_models``, and keep prediction series cached in memory.

A station gets a model once it has at least ``tide_min_days`` (15, tide_fit.toml
``min_days``) of tide_level history (one sample per hour: the reading nearest the
full hour, from the last ``tide_history_days``); below ``full_days`` (29) the fit
infers N2/K2/P1 from M2/S2/K1 (``method`` 'utide+infer'), and the 6-hourly refit
replaces it by a plain fit once 29 days are there. Until then it has no
prediction and riskcode reports surge and forecast high water as unavailable.

Which readings count (``USABLE``): QC pass (1), and suspect (3) only when the
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
from psycopg.types.json import Jsonb

from haixun.engine.leader import LeaderLock
from haixun.engine.options import EngineOptions
from haixun.riskcode.tides import TideModel, TidePrediction, fit_tide

log = logging.getLogger(__name__)

OFFICIAL_METHOD = "official"  # tide_models.method of imported harmonic constants (haixun tide-import)

# %(late)s: tide_late_suspect_s as an interval
USABLE = "(qc = 1 OR (qc = 3 AND received_at - ts > %(late)s))"

_HOURLY_SQL = (
    "SELECT DISTINCT ON (date_trunc('hour', ts + interval '30 minutes')) ts, value FROM readings"
    " WHERE station_id = %(sid)s AND quantity = 'tide_level' AND " + USABLE + " AND ts >= %(lo)s AND ts <= %(hi)s"
    " ORDER BY date_trunc('hour', ts + interval '30 minutes'),"
    " abs(extract(epoch FROM ts - date_trunc('hour', ts + interval '30 minutes')))"
)


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
        cur = await conn.execute("SELECT station_id, model FROM tide_models")
        for sid, model in await cur.fetchall():
            try:
                self._stations[sid] = _Cached(TideModel.from_json(_as_text(model)))
            except (ValueError, KeyError) as exc:
                log.warning("tide model of %s unreadable (%s); it will be refitted", sid, exc)

    async def tide_stations(self, conn: psycopg.AsyncConnection) -> list[str]:
        cur = await conn.execute(
            "SELECT id FROM stations WHERE active AND (kind = 'tide_gauge' OR 'tide_level' = ANY(quantities))"
            " ORDER BY id")
        return [r[0] for r in await cur.fetchall()]

    async def ready_without_model(self, conn: psycopg.AsyncConnection, now: datetime) -> list[str]:
        """Tide stations without a model whose usable history already spans ``tide_min_days``.

        Cheap (min/max of ts per station on the readings primary key), run
        every ``tide_check_every_s`` so a fresh system gets its models as soon
        as the history is there, not at the next 6-hourly refit.
        """
        opts = self._opts
        cur = await conn.execute(
            "SELECT s.id FROM stations s, LATERAL (SELECT min(ts) AS lo, max(ts) AS hi FROM readings r"
            "  WHERE r.station_id = s.id AND r.quantity = 'tide_level' AND r.ts >= %(lo)s AND r.ts <= %(hi)s"
            "  AND " + USABLE + ") h"
            " WHERE s.active AND (s.kind = 'tide_gauge' OR 'tide_level' = ANY(s.quantities))"
            " AND NOT (s.id = ANY(%(have)s)) AND h.hi - h.lo >= %(span)s ORDER BY s.id",
            {"lo": now - timedelta(days=opts.tide_history_days), "hi": now, "have": self.stations_with_model,
             "late": timedelta(seconds=opts.tide_late_suspect_s), "span": timedelta(days=opts.tide_min_days)})
        return [r[0] for r in await cur.fetchall()]

    async def refit(self, conn: psycopg.AsyncConnection, station_id: str, now: datetime, *,
                    write_lock: asyncio.Lock, lock: LeaderLock) -> bool | None:
        """Fit and store a model. True = fitted, False = not enough history, None = not the leader."""
        opts = self._opts
        cur = await conn.execute("SELECT lat FROM stations WHERE id = %s", (station_id,))
        row = await cur.fetchone()
        if row is None:
            return False
        lat = float(row[0])
        cur = await conn.execute("SELECT method, model FROM tide_models WHERE station_id = %s", (station_id,))
        have = await cur.fetchone()
        if have is not None and have[0] == OFFICIAL_METHOD:
            # imported official constants (haixun tide-import) are never replaced by a fit
            self._stations[station_id] = _Cached(TideModel.from_json(_as_text(have[1])))
            return True
        cur = await conn.execute(_HOURLY_SQL, {"sid": station_id, "lo": now - timedelta(days=opts.tide_history_days),
                                               "hi": now, "late": timedelta(seconds=opts.tide_late_suspect_s)})
        rows = await cur.fetchall()
        if len(rows) < 2 or (rows[-1][0] - rows[0][0]).total_seconds() < opts.tide_min_days * 86400:
            log.info("tide station %s: %d hourly values, less than %g days: no model yet", station_id,
                     len(rows), opts.tide_min_days)
            return False
        times, levels = [r[0] for r in rows], [float(r[1]) for r in rows]
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
            conn_w = lock.conn
            async with conn_w.transaction():
                await conn_w.execute(
                    "INSERT INTO tide_models (station_id, fitted_at, data_start, data_end, n_obs, span_days,"
                    " rms_residual_m, method, model) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (station_id) DO UPDATE SET fitted_at = EXCLUDED.fitted_at,"
                    " data_start = EXCLUDED.data_start, data_end = EXCLUDED.data_end, n_obs = EXCLUDED.n_obs,"
                    " span_days = EXCLUDED.span_days, rms_residual_m = EXCLUDED.rms_residual_m,"
                    " method = EXCLUDED.method, model = EXCLUDED.model",
                    (station_id, now, model.fitted_from, model.fitted_to, model.n_obs, span, model.rms_residual_m,
                     method, Jsonb(_json_obj(model))))
                await conn_w.execute(
                    "INSERT INTO tide_model_fits (station_id, fitted_at, n_obs, span_days, rms_residual_m, method)"
                    " VALUES (%s, %s, %s, %s, %s, %s)", (station_id, now, model.n_obs, span,
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


def _json_obj(model: TideModel) -> dict:
    return json.loads(model.to_json())


def _as_text(model: object) -> str:
    return model if isinstance(model, str) else json.dumps(model)

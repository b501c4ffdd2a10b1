"""GET /api/v1/stations/{id}/tide: astronomical tide from the engine's stored model.

The engine fits a harmonic model per tide station (``tide_models``,
docs/engine.md); this endpoint evaluates it with riskcode's ``predict``
(utide) on a regular grid and puts the observed level (mean of the stored
readings around each grid time, QC fail excluded) and the surge (observed -
predicted) next to it where observations exist.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query

from haixun.api.context import ApiContext, get_ctx
from haixun.api.errors import check_ts
from haixun.api.live import iso
from haixun.api.models import TideOut
from haixun.errors import HaixunError, InvalidInput, NotFound
from haixun.riskcode.tides import FULL_FIT_DAYS, MIN_FIT_DAYS, TideModel, predict
from haixun.store.stations import station_exists
from haixun.store.tide_models import observed_on_grid, tide_model

router = APIRouter(prefix="/api/v1", tags=["public"])

MAX_POINTS = 20_000
MAX_SPAN = timedelta(days=62)
NO_MODEL_MSG = ("no tidal model for station {sid!r} yet: the engine fits one as soon as the station has "
                "{days:g} days of tide_level history (N2/K2/P1 inferred below {full:g} days)")


class UnreadableTideModel(HaixunError):
    """The stored harmonic model cannot be read back (a 500 that says which station's)."""

    public = True




def _aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return check_ts(ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC))


def prediction_grid(start: datetime, end: datetime, step_s: int) -> np.ndarray:
    """Epoch seconds start, start + step, ... <= end."""
    t0 = start.timestamp()
    n = int((end.timestamp() - t0) // step_s) + 1
    return t0 + step_s * np.arange(n, dtype=float)


def _predict(model: TideModel, t_s: np.ndarray) -> np.ndarray:
    return predict(model, t_s.astype("int64").astype("datetime64[s]"))


@router.get("/stations/{station_id}/tide",
            summary="Astronomical tide prediction of a station (stored harmonic model), with observed and surge",
            response_model=TideOut)
async def get_tide(station_id: str,
                   from_: Annotated[datetime | None, Query(alias="from")] = None,
                   to: datetime | None = None,
                   step: Annotated[int, Query(ge=60, le=86_400, description="grid step in seconds")] = 600,
                   ctx: ApiContext = Depends(get_ctx)) -> dict[str, Any]:
    now = ctx.settings.clock.now()
    start = _aware(from_) or now - timedelta(hours=24)
    end = _aware(to) or check_ts(start + timedelta(hours=48))
    if start >= end:
        raise InvalidInput("'from' must be before 'to'")
    if end - start > MAX_SPAN or (end - start).total_seconds() / step + 1 > MAX_POINTS:
        raise InvalidInput(f"too many points: at most {MAX_SPAN.days} days and {MAX_POINTS} steps")
    async with ctx.db().connection() as conn:
        if not await station_exists(conn, station_id):
            raise NotFound(f"unknown station {station_id!r}")
        row = await tide_model(conn, station_id)
        if row is None:
            raise NotFound(NO_MODEL_MSG.format(sid=station_id, days=MIN_FIT_DAYS, full=FULL_FIT_DAYS))
        observed = await observed_on_grid(conn, station_id, t0=start.timestamp(), step_s=step,
                                          lo=start - timedelta(seconds=step / 2), hi=end + timedelta(seconds=step / 2))
    doc = row.model
    try:
        model = TideModel.from_json(doc if isinstance(doc, str) else json.dumps(doc))
    except (ValueError, KeyError) as exc:
        raise UnreadableTideModel(f"stored tidal model of {station_id!r} is unreadable: {exc}") from None
    t_s = prediction_grid(start, end, step)
    levels = await asyncio.to_thread(_predict, model, t_s)
    points = []
    for k, (t, p) in enumerate(zip(t_s.tolist(), levels.tolist(), strict=False)):
        obs = observed.get(k)
        points.append({"ts": iso(datetime.fromtimestamp(t, UTC)), "predicted_m": round(p, 3),
                       "observed_m": None if obs is None else round(obs, 3),
                       "surge_m": None if obs is None else round(obs - p, 3)})
    return {
        "station_id": station_id, "from": iso(start), "to": iso(end), "step_s": step, "datum": "CN1985",
        "model": {"method": row.method, "fitted_at": iso(row.fitted_at), "data_start": iso(row.data_start),
                  "data_end": iso(row.data_end), "n_obs": row.n_obs, "span_days": round(row.span_days, 2),
                  "rms_residual_m": None if row.rms_residual_m is None else round(row.rms_residual_m, 4)},
        "points": points,
    }

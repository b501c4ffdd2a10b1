"""The engine's stored harmonic tide models (tide_models, migration 021) as the API reads them, and the
observed tide levels binned on a prediction grid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from haixun.store.readings import FAIL


@dataclass(frozen=True, slots=True)
class StoredTideModel:
    model: Any  # jsonb: riskcode.tides.TideModel.to_json()
    fitted_at: datetime
    data_start: datetime
    data_end: datetime
    n_obs: int
    span_days: float
    rms_residual_m: float | None
    method: str


_OBS_SQL = (
    "SELECT floor((extract(epoch FROM ts) - %(t0)s) / %(step)s + 0.5)::bigint AS k, avg(value) AS v"
    " FROM readings WHERE station_id = %(sid)s AND quantity = 'tide_level' AND qc <> %(fail)s"
    " AND ts >= %(lo)s AND ts < %(hi)s GROUP BY k ORDER BY k"
)


async def tide_model(conn: psycopg.AsyncConnection[Any], station_id: str) -> StoredTideModel | None:
    cur = conn.cursor(row_factory=class_row(StoredTideModel))
    await cur.execute("SELECT model, fitted_at, data_start, data_end, n_obs, span_days, rms_residual_m, method"
                      " FROM tide_models WHERE station_id = %s", (station_id,))
    return await cur.fetchone()


async def observed_on_grid(conn: psycopg.AsyncConnection[Any], station_id: str, *, t0: float, step_s: float,
                           lo: datetime, hi: datetime) -> dict[int, float]:
    """Grid index k (time t0 + k * step_s, epoch seconds) -> mean tide_level of the readings nearest to it
    (lo <= ts < hi, QC fail excluded)."""
    cur = await conn.execute(_OBS_SQL, {"t0": t0, "step": step_s, "sid": station_id, "fail": FAIL, "lo": lo, "hi": hi})
    return {int(k): float(v) for k, v in await cur.fetchall()}

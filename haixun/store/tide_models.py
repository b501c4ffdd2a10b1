"""Tide models per station (``tide_models``, migration 021; history in ``tide_model_fits``) and the
tide-level readings around them: read by the API (``tide_model``, ``observed_on_grid``), the engine
(engine/tide.py) and ingest's QC (ingest/qcstore.py); written by the engine's fit and ``haixun
tide-import`` (``save_model``). Models are JSONB; ``stored_models``/``stored_model`` hand out their
JSON text (``TideModel.from_json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

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


OFFICIAL_METHOD = "official"  # tide_models.method of imported harmonic constants (haixun tide-import)

# Which readings a fit counts (engine/tide.py explains why): QC pass, and suspect only when the
# reading reached ingest more than %(late)s (an interval) after its timestamp.
USABLE = "(qc = 1 OR (qc = 3 AND received_at - ts > %(late)s))"
_TIDE_STATION = "active AND (kind = 'tide_gauge' OR 'tide_level' = ANY(quantities))"

_HOURLY_SQL = (
    "SELECT DISTINCT ON (date_trunc('hour', ts + interval '30 minutes')) ts, value FROM readings"
    " WHERE station_id = %(sid)s AND quantity = 'tide_level' AND " + USABLE + " AND ts >= %(lo)s AND ts <= %(hi)s"
    " ORDER BY date_trunc('hour', ts + interval '30 minutes'),"
    " abs(extract(epoch FROM ts - date_trunc('hour', ts + interval '30 minutes')))"
)
_READY_SQL = (
    "SELECT s.id FROM stations s, LATERAL (SELECT min(ts) AS lo, max(ts) AS hi FROM readings r"
    "  WHERE r.station_id = s.id AND r.quantity = 'tide_level' AND r.ts >= %(lo)s AND r.ts <= %(hi)s"
    "  AND " + USABLE + ") h"
    " WHERE s.active AND (s.kind = 'tide_gauge' OR 'tide_level' = ANY(s.quantities))"
    " AND NOT (s.id = ANY(%(have)s)) AND h.hi - h.lo >= %(span)s ORDER BY s.id"
)
_UPSERT_MODEL = (
    "INSERT INTO tide_models (station_id, fitted_at, data_start, data_end, n_obs, span_days,"
    " rms_residual_m, method, model) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (station_id) DO UPDATE SET fitted_at = EXCLUDED.fitted_at,"
    " data_start = EXCLUDED.data_start, data_end = EXCLUDED.data_end, n_obs = EXCLUDED.n_obs,"
    " span_days = EXCLUDED.span_days, rms_residual_m = EXCLUDED.rms_residual_m,"
    " method = EXCLUDED.method, model = EXCLUDED.model"
)
_INSERT_FIT = ("INSERT INTO tide_model_fits (station_id, fitted_at, n_obs, span_days, rms_residual_m, method)"
               " VALUES (%s, %s, %s, %s, %s, %s)")


class StoredModel(NamedTuple):
    method: str
    model_json: str


class TideStation(NamedTuple):
    id: str
    lat: float
    lon: float


def _as_text(model: object) -> str:
    return model if isinstance(model, str) else json.dumps(model)


async def stored_models(conn: psycopg.AsyncConnection[Any]) -> list[tuple[str, str]]:
    """(station id, model JSON) of every station with a model."""
    cur = await conn.execute("SELECT station_id, model FROM tide_models")
    return [(sid, _as_text(model)) for sid, model in await cur.fetchall()]


async def model_versions(conn: psycopg.AsyncConnection[Any]) -> dict[str, datetime]:
    """station id -> fitted_at of its model."""
    cur = await conn.execute("SELECT station_id, fitted_at FROM tide_models")
    return {sid: fitted for sid, fitted in await cur.fetchall()}


async def stored_model(conn: psycopg.AsyncConnection[Any], station_id: str) -> StoredModel | None:
    cur = await conn.execute("SELECT method, model FROM tide_models WHERE station_id = %s", (station_id,))
    row = await cur.fetchone()
    return StoredModel(row[0], _as_text(row[1])) if row is not None else None


async def tide_station_ids(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Active stations that measure the tide level, by id."""
    cur = await conn.execute(f"SELECT id FROM stations WHERE {_TIDE_STATION} ORDER BY id")
    return [r[0] for r in await cur.fetchall()]


async def tide_stations(conn: psycopg.AsyncConnection[Any]) -> list[TideStation]:
    """Active stations that measure the tide level, with their positions."""
    cur = await conn.execute(f"SELECT id, lat, lon FROM stations WHERE {_TIDE_STATION}")
    return [TideStation(sid, float(lat), float(lon)) for sid, lat, lon in await cur.fetchall()]


async def station_lat(conn: psycopg.AsyncConnection[Any], station_id: str) -> float | None:
    cur = await conn.execute("SELECT lat FROM stations WHERE id = %s", (station_id,))
    row = await cur.fetchone()
    return float(row[0]) if row is not None else None


async def ready_without_model(conn: psycopg.AsyncConnection[Any], *, lo: datetime, hi: datetime, have: list[str],
                              late: timedelta, span: timedelta) -> list[str]:
    """Tide stations not in ``have`` whose usable tide levels in [lo, hi] already span ``span``
    (min/max of ts per station on the readings primary key: cheap)."""
    cur = await conn.execute(_READY_SQL, {"lo": lo, "hi": hi, "have": have, "late": late, "span": span})
    return [r[0] for r in await cur.fetchall()]


async def hourly_levels(conn: psycopg.AsyncConnection[Any], station_id: str, *, lo: datetime, hi: datetime,
                        late: timedelta) -> list[tuple[datetime, float]]:
    """One usable tide level per hour in [lo, hi] (the reading nearest the full hour), oldest first."""
    cur = await conn.execute(_HOURLY_SQL, {"sid": station_id, "lo": lo, "hi": hi, "late": late})
    return [(ts, float(value)) for ts, value in await cur.fetchall()]


def _model_params(station_id: str, m: StoredTideModel) -> tuple[Any, ...]:
    return (station_id, m.fitted_at, m.data_start, m.data_end, m.n_obs, m.span_days, m.rms_residual_m, m.method,
            Jsonb(m.model))


def _fit_params(station_id: str, m: StoredTideModel) -> tuple[Any, ...]:
    return (station_id, m.fitted_at, m.n_obs, m.span_days, m.rms_residual_m, m.method)


async def save_model(conn: psycopg.AsyncConnection[Any], station_id: str, m: StoredTideModel) -> None:
    """Store the station's model (``m.model``: its JSON document) and its fit-history line in one transaction."""
    async with conn.transaction():
        await conn.execute(_UPSERT_MODEL, _model_params(station_id, m))
        await conn.execute(_INSERT_FIT, _fit_params(station_id, m))


def save_model_sync(conn: psycopg.Connection[Any], station_id: str, m: StoredTideModel) -> None:
    """``save_model`` on a blocking connection (the ``haixun tide-import`` command)."""
    with conn.transaction():
        conn.execute(_UPSERT_MODEL, _model_params(station_id, m))
        conn.execute(_INSERT_FIT, _fit_params(station_id, m))


class StationDatum(NamedTuple):
    lat: float
    datum: str
    datum_offset_m: float


def station_datum_sync(conn: psycopg.Connection[Any], station_id: str) -> StationDatum | None:
    """Latitude, datum name and offset to CN1985 of a station (blocking)."""
    row = conn.execute("SELECT lat, datum, datum_offset_m FROM stations WHERE id = %s", (station_id,)).fetchone()
    return StationDatum(float(row[0]), str(row[1]), float(row[2])) if row is not None else None

"""What ingest's QC needs from the database (the only I/O of QC).

* ``refresh_station_context`` (with the station cache, every 30 s): datum
  offsets (``stations.datum_offset_m``), the neighbouring tide gauges of each
  tide gauge (positions), the astronomical prediction of every station with a
  row in ``tide_models`` (re-predicted when the model changes or the window
  runs short), and, once per process, the QC state (``restore_state``).
* ``restore_state``: QC state lived only in memory, so after every restart
  the spike/rate references were empty and the first value of each station
  (a spoofed 7.0 m included) passed. It is rebuilt from the accepted readings
  (qc 1-3) of each station and quantity within that quantity's history horizon.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from haixun.ingest.qc import QcEngine
from haixun.riskcode.tides import TideModel, TidePrediction
from haixun.store import readings, stations, tide_models

log = logging.getLogger(__name__)

PREDICTION_BACK_S = 2 * 86400.0   # readings up to 2 days old are still checked against the prediction
PREDICTION_AHEAD_S = 2 * 86400.0  # and future-dated ones up to the QC future limit; re-predicted daily
PREDICTION_STEP_S = 600.0
_EARTH_KM = 6371.0


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(math.sqrt(a))


def tide_neighbours(gauges: list[tuple[str, float, float]], max_km: float, most: int) -> dict[str, tuple[str, ...]]:
    """gauge -> its nearest ``most`` other gauges within ``max_km`` (great-circle, ``_km``), nearest first
    (equal distances: list order). Gauges are binned in cells of about ``max_km``, so a gauge is compared
    with the gauges of its own and the adjacent cells only, by one numpy haversine each, and the exact
    ``_km`` decides among the nearest: not every pair (10,000 gauges were 10^8 pairs, minutes of CPU)."""
    if not gauges:
        return {}
    lat = np.array([g[1] for g in gauges], dtype=float)
    lon = np.array([g[2] for g in gauges], dtype=float)
    cell_deg = max_km / 111.0                                    # a degree of latitude ~111 km
    lon_scale = max(1e-6, float(np.cos(np.radians(min(89.0, float(np.max(np.abs(lat))))))))
    ci = np.floor(lat / cell_deg).astype(np.int64)
    cj = np.floor(lon * lon_scale / cell_deg).astype(np.int64)  # cells at least max_km wide everywhere
    members: dict[tuple[int, int], list[int]] = {}
    for k, key in enumerate(zip(ci.tolist(), cj.tolist(), strict=True)):
        members.setdefault(key, []).append(k)
    cells = {key: np.array(v, dtype=np.int64) for key, v in members.items()}
    p = np.radians(lat)
    eps = 1e-9  # km: far above the rounding difference of the two haversines, far below any gauge spacing
    out: dict[str, tuple[str, ...]] = {}
    for k, (sid, la, lo) in enumerate(gauges):
        cand = np.concatenate([cells.get((int(ci[k]) + di, int(cj[k]) + dj), np.empty(0, dtype=np.int64))
                               for di in (-1, 0, 1) for dj in (-1, 0, 1)])
        cand = cand[cand != k]
        dp, dl = p[cand] - p[k], np.radians(lon[cand] - lo)
        a = np.sin(dp / 2) ** 2 + np.cos(p[k]) * np.cos(p[cand]) * np.sin(dl / 2) ** 2
        approx = 2 * _EARTH_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
        keep = approx <= max_km + eps
        cand, approx = cand[keep], approx[keep]
        if len(cand) > most:  # the nearest ``most`` by the exact distance are among these (ties kept)
            kth = float(np.partition(approx, most - 1)[most - 1])
            cand = cand[approx <= kth + 2 * eps]
        exact = sorted((d, int(i)) for i in cand.tolist() if (d := _km(la, lo, gauges[i][1], gauges[i][2])) <= max_km)
        out[sid] = tuple(gauges[i][0] for _, i in exact[:most])
    return out


def _now(qc: QcEngine) -> datetime:
    clock = getattr(qc, "clock", None)
    return clock.now() if clock is not None else datetime.now(UTC)


async def refresh_station_context(conn: psycopg.AsyncConnection, qc: QcEngine) -> None:
    """Datum offsets, tide neighbours and predictions into ``qc``; the QC state on first call."""
    qc.datum_offsets = await stations.datum_offsets(conn)
    tide = [(t.id, t.lat, t.lon) for t in await tide_models.tide_stations(conn)]
    if tide != qc.neighbours_of:  # found again only when the gauges changed (seconds at 10,000 gauges)
        qc.neighbours = tide_neighbours(tide, qc.config.crosscheck.max_km, qc.config.crosscheck.max_neighbours)
        qc.neighbours_of = tide
    await _refresh_predictions(conn, qc)
    if not qc.restored:
        await restore_state(conn, qc)


async def _refresh_predictions(conn: psycopg.AsyncConnection, qc: QcEngine) -> None:
    now = _now(qc).timestamp()
    seen = qc.prediction_meta  # station -> (fitted_at of the model predicted, re-predict after)
    current = await tide_models.model_versions(conn)
    for sid in list(qc.predictions):
        if sid not in current:
            qc.predictions.pop(sid)
            seen.pop(sid, None)
    for sid, fitted in current.items():
        have = seen.get(sid)
        if have is not None and have[0] == fitted and now < have[1] - PREDICTION_AHEAD_S / 2:
            continue
        stored = await tide_models.stored_model(conn, sid)
        if stored is None:
            continue
        try:
            model = TideModel.from_json(stored.model_json)
            start = datetime.fromtimestamp(now - PREDICTION_BACK_S, UTC)
            end = datetime.fromtimestamp(now + PREDICTION_AHEAD_S, UTC)
            pred = TidePrediction.from_model(model, start, end, step_s=PREDICTION_STEP_S)
        except Exception as exc:  # an unreadable model only costs the cross-check its prediction
            log.warning("QC: tide model of %s unusable (%s)", sid, exc)
            qc.predictions.pop(sid, None)
            continue
        qc.predictions[sid] = (np.asarray(pred.t_s, dtype=float), np.asarray(pred.level_m, dtype=float))
        seen[sid] = (fitted, now + PREDICTION_AHEAD_S)


async def restore_state(conn: psycopg.AsyncConnection, qc: QcEngine) -> int:
    """Rebuild the QC history from the accepted readings; returns the number of keys restored."""
    now = _now(qc)
    cfg = qc.config
    horizons = []
    for name, q in cfg.quantities.items():
        span = max(cfg.spike_window_s, cfg.roc_max_gap_s if q.roc_suspect is not None else 0.0,
                   float(q.flat_fail_s or q.flat_suspect_s or 0.0))
        horizons.append((name, now - timedelta(seconds=span)))
    if not horizons:
        qc.restored = True
        return 0
    n = 0
    key: tuple[str, str] | None = None
    points: list[tuple[float, float]] = []
    async for sid, quantity, t, v in readings.accepted_series(conn, horizons,
                                                              now + timedelta(seconds=cfg.future_fail_s)):
        if (sid, quantity) != key:
            if key is not None:
                qc.restore(key[0], key[1], points)
                n += 1
            key, points = (sid, quantity), []
        points.append((t, v))
    if key is not None:
        qc.restore(key[0], key[1], points)
        n += 1
    qc.restored = True
    log.info("QC state restored from the database: %d station/quantity series", n)
    return n

"""GET /api/v1/stations/{id}/tide: prediction from the stored model, observed and surge, 404s."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from haixun.riskcode.tides import fit_tide
from haixun.settings import Settings
from tests.api_support import running_api

M2_H, S2_H = 12.4206012, 12.0
T0 = datetime(2024, 7, 1, tzinfo=UTC)


def astro(t: datetime) -> float:
    h = (t - T0).total_seconds() / 3600.0
    return 2.0 + 1.8 * math.cos(2 * math.pi * h / M2_H - 0.6) + 0.6 * math.cos(2 * math.pi * h / S2_H - 1.3)


def store_model(conn: psycopg.Connection, station: str) -> None:
    times = [T0 + timedelta(hours=k) for k in range(30 * 24)]
    rng = np.random.default_rng(1)
    model = fit_tide(times, [astro(t) + float(rng.normal(0, 0.02)) for t in times], lat=30.6)
    conn.execute(
        "INSERT INTO tide_models (station_id, fitted_at, data_start, data_end, n_obs, span_days, rms_residual_m,"
        " method, model) VALUES (%s, now(), %s, %s, %s, 30, %s, 'utide', %s)",
        (station, model.fitted_from, model.fitted_to, model.n_obs, model.rms_residual_m,
         Jsonb(json.loads(model.to_json()))))


def add_station(conn: psycopg.Connection, sid: str) -> None:
    conn.execute("INSERT INTO stations (id, kind, name, lat, lon, quantities) VALUES (%s, 'tide_gauge', %s, 30.6,"
                 " 121.05, ARRAY['tide_level'])", (sid, sid))


async def test_tide_prediction_observed_and_surge(settings: Settings, db_url: str, tmp_path: Path) -> None:
    start = T0 + timedelta(days=31)
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_station(conn, "TT-T01")
        add_station(conn, "TT-T02")
        store_model(conn, "TT-T01")
        # observed every minute for the first 2 h, 0.6 m above the tide; one failed reading ignored
        rows = [("TT-T01", "tide_level", start + timedelta(minutes=m), astro(start + timedelta(minutes=m)) + 0.6, 1)
                for m in range(-5, 120)]
        rows.append(("TT-T01", "tide_level", start + timedelta(seconds=30), 40.0, 4))
        conn.cursor().executemany("INSERT INTO readings (station_id, quantity, ts, value, qc, received_at)"
                                  " VALUES (%s, %s, %s, %s, %s, now())", rows)
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        r = await c.get("/api/v1/stations/TT-T01/tide",
                        params={"from": start.isoformat(), "to": (start + timedelta(hours=6)).isoformat(), "step": 600})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["step_s"] == 600 and body["model"]["method"] == "utide" and body["model"]["n_obs"] == 720
        pts = body["points"]
        assert len(pts) == 37 and pts[0]["ts"] == start.isoformat().replace("+00:00", "Z")
        for p in pts:
            t = datetime.fromisoformat(p["ts"].replace("Z", "+00:00"))
            assert abs(p["predicted_m"] - astro(t)) < 0.06, p
        observed = [p for p in pts if p["observed_m"] is not None]
        assert len(observed) == 13  # grid times 0 .. 120 min (+-5 min buckets; the fail value at 30 s ignored)
        assert all(abs(p["surge_m"] - 0.6) < 0.08 for p in observed)
        assert all(p["surge_m"] is None for p in pts[13:])

        r = await c.get("/api/v1/stations/TT-T02/tide")
        assert r.status_code == 404 and "no tidal model" in r.json()["detail"] and "15 days" in r.json()["detail"]
        r = await c.get("/api/v1/stations/NOPE/tide")
        assert r.status_code == 404 and "unknown station" in r.json()["detail"]
        bad = [{"from": start.isoformat(), "to": (start - timedelta(hours=1)).isoformat()},
               {"step": 10}, {"from": start.isoformat(), "to": (start + timedelta(days=90)).isoformat()}]
        for params in bad:
            assert (await c.get("/api/v1/stations/TT-T01/tide", params=params)).status_code == 422, params

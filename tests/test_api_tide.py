"""GET /api/v1/stations/{id}/tide: prediction from the stored model, observed and surge, 404s."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from haixun.settings import Settings
from tests.support.api import running_api
from tests.support.tide import MODEL_T0 as T0
from tests.support.tide import add_station, astro, store_model


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

"""The engine tests' pieces: fast engine options, stations from the packaged
geography, readings written the way ingest writes them, NOTIFY haixun_ingest."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

import psycopg

from haixun.engine.options import EngineOptions
from tests.support.clock import utcnow
from tests.support.wait import eventually

FAST = EngineOptions(lock_poll_s=0.2, heartbeat_s=0.2, heartbeat_timeout_s=2.0, debounce_s=0.05,
                     station_refresh_s=3600.0, tide_check_every_s=1.0)


def insert_geography_stations(conn: psycopg.Connection) -> list[str]:
    features = json.loads((resources.files("haixun.data") / "pinghu.geojson").read_text(encoding="utf-8"))["features"]
    ids = []
    for f in features:
        p = f["properties"]
        if p["layer"] != "station":
            continue
        lon, lat = f["geometry"]["coordinates"][:2]
        conn.execute(
            "INSERT INTO stations (id, kind, name, lat, lon, segment_id, gateway_id, quantities)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (p["id"], p["kind"], p["name"], lat, lon, p.get("segment_id"), p.get("gateway_id"), p.get("quantities", [])))
        ids.append(p["id"])
    return ids


def write_readings(conn: psycopg.Connection, station: str, ts: datetime, values: dict[str, float], *,
                   qc: int = 1, notify: bool = True) -> None:
    """Store readings like ingest: readings + latest_readings, then NOTIFY haixun_ingest."""
    received = utcnow()
    with conn.transaction():
        for q, v in values.items():
            conn.execute("INSERT INTO readings (station_id, quantity, ts, value, qc, received_at)"
                         " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", (station, q, ts, v, qc, received))
            conn.execute(
                "INSERT INTO latest_readings (station_id, quantity, ts, value, qc, received_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (station_id, quantity) DO UPDATE SET"
                " ts = EXCLUDED.ts, value = EXCLUDED.value, qc = EXCLUDED.qc, received_at = EXCLUDED.received_at"
                " WHERE latest_readings.ts <= EXCLUDED.ts", (station, q, ts, v, qc, received))
        if notify:
            conn.execute("SELECT pg_notify('haixun_ingest', %s)", (json.dumps(
                {"stations": [station], "n": len(values), "max_received_at": received.isoformat()}),))


def calm(conn: psycopg.Connection, ts: datetime, tide: float = 2.2) -> None:
    """Fresh calm readings for the PH01 stations (tide/wind XB-M01, waves ZP-B01)."""
    write_readings(conn, "XB-M01", ts, {"tide_level": tide, "wind_speed": 3.0, "wind_gust": 5.0})
    write_readings(conn, "ZP-B01", ts, {"wave_height": 0.4, "wave_period": 4.0})


def current_level(conn: psycopg.Connection, kind: str, sid: str) -> tuple[str, str, datetime, dict] | None:
    return conn.execute("SELECT level, raw_level, since, decision FROM current_levels"
                        " WHERE subject_kind = %s AND subject_id = %s", (kind, sid)).fetchone()


async def decision_with_next_high_water(conn: psycopg.Connection, segment_id: str = "PH01",
                                        timeout: float = 60.0) -> dict[str, Any]:
    """The engine's decision for ``segment_id`` once it carries a next high water (a tide model is in use)."""
    def decided() -> dict[str, Any] | None:
        row = current_level(conn, "segment", segment_id)
        return row[3] if row and row[3].get("next_high_water") else None
    return dict(await eventually(decided, timeout=timeout, what=f"a decision for {segment_id} with a next high water"))

"""Reference: raw COPY speed into the same readings table, no MQTT, no QC."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg

QUANTITIES = ("tide_level", "wind_speed", "wind_gust", "wind_dir", "air_pressure")


def rows(n: int, stations: int, start: datetime):
    now = datetime.now(UTC)
    per_station = max(1, n // (stations * len(QUANTITIES)))
    for s in range(stations):
        sid = f"B{s:05d}"
        for k in range(per_station):
            ts = start + timedelta(seconds=k)
            for q in QUANTITIES:
                yield (sid, q, ts, 1.0 + k * 0.001, 1, now)


def copy_rate(url: str, n: int = 500_000, stations: int = 1000) -> tuple[int, float]:
    """COPY n readings straight into ``readings``; returns (rows, rows/s)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    data = list(rows(n, stations, start))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT haixun_ensure_readings_partition(%s::date)", (start.date(),))
        conn.execute("SELECT haixun_ensure_readings_partition(%s::date)", ((start + timedelta(days=1)).date(),))
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy("COPY readings (station_id, quantity, ts, value, qc, received_at) FROM STDIN") as cp:
                for r in data:
                    cp.write_row(r)
        dt = time.perf_counter() - t0
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    return stored, stored / dt

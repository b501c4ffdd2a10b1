"""Scratch-database contents the services need: virtual stations and the Pinghu geography."""

from __future__ import annotations

import time

import psycopg

from bench.common import ComponentUnavailable

# Pinghu shoreline bounding box (virtual stations are spread over it).
LAT0, LAT1 = 30.58, 30.66
LON0, LON1 = 120.95, 121.25


def seed_stations(url: str, ids: list[str], quantities: tuple[str, ...] = ("tide_level", "wind_speed")) -> None:
    """Register virtual stations so ingest accepts them (unknown stations are dead-lettered)."""
    n = max(1, len(ids))
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        with cur.copy("COPY stations (id, kind, name, lat, lon, quantities) FROM STDIN") as cp:
            for i, sid in enumerate(ids):
                f = i / n
                cp.write_row((sid, "multi", f"bench {sid}", LAT0 + (LAT1 - LAT0) * f, LON0 + (LON1 - LON0) * f,
                              list(quantities)))


def load_geography(url: str) -> None:
    """The packaged Pinghu geography into the scratch database (segments, stations, areas)."""
    try:
        from haixun.data.geography import load_geography as load_geo
        from haixun.data.sync import sync_to_db
    except ImportError as exc:
        raise ComponentUnavailable(f"component haixun.data (load_geography/sync_to_db) not available: {exc}") from exc
    with psycopg.connect(url) as conn:
        sync_to_db(conn, load_geo())
        conn.commit()


def count_readings(conn: psycopg.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])


def wait_stored(url: str, expected: int, timeout_s: float, poll_s: float = 0.2) -> tuple[int, float]:
    """Poll until ``expected`` readings are stored or the count stops growing for a while.

    Returns (count, time.time() when the final count was first seen).
    """
    deadline = time.monotonic() + timeout_s
    last, last_change = -1, time.monotonic()
    seen_at = time.time()
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            n = count_readings(conn)
            if n != last:
                last, last_change, seen_at = n, time.monotonic(), time.time()
            if n >= expected:
                break
            if time.monotonic() - last_change > 20.0:
                break
            time.sleep(poll_s)
    return last, seen_at

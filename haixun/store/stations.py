"""Stations as the API lists them (stations with their gateway's online flag: migrations 001, 004)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True, slots=True)
class StationListing:
    id: str
    kind: str
    name: str
    name_en: str | None
    lat: float
    lon: float
    segment_id: str | None
    gateway_id: str | None
    active: bool
    online: bool | None  # the gateway's last status; None: never reported


async def station_exists(conn: psycopg.AsyncConnection[Any], station_id: str) -> bool:
    row = await (await conn.execute("SELECT 1 FROM stations WHERE id = %s", (station_id,))).fetchone()
    return row is not None


async def station_listing(conn: psycopg.AsyncConnection[Any]) -> list[StationListing]:
    """Every station by id, with its gateway's online flag."""
    cur = conn.cursor(row_factory=class_row(StationListing))
    await cur.execute("SELECT s.id, s.kind, s.name, s.name_en, s.lat, s.lon, s.segment_id, s.gateway_id, s.active, "
                      "g.online FROM stations s LEFT JOIN gateway_status g ON g.gateway_id = s.gateway_id "
                      "ORDER BY s.id")
    return await cur.fetchall()

"""Stations and cameras: as the API lists them (with their gateway's online flag: migrations 001, 004),
and the directory ingest admits against, with the datum offsets of QC."""

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


@dataclass(frozen=True, slots=True)
class Directory:
    """Active stations (id -> declared quantities), active camera ids, and the gateways they belong to."""

    stations: dict[str, frozenset[str]]
    cameras: set[str]
    gateways: set[str]


async def directory(conn: psycopg.AsyncConnection[Any]) -> Directory:
    cur = await conn.execute("SELECT id, quantities, gateway_id FROM stations WHERE active")
    stations: dict[str, frozenset[str]] = {}
    gateways: set[str] = set()
    for sid, quantities, gw in await cur.fetchall():
        stations[sid] = frozenset(quantities or ())
        if gw:
            gateways.add(gw)
    cur = await conn.execute("SELECT id, gateway_id FROM cameras WHERE active")
    cameras: set[str] = set()
    for cid, gw in await cur.fetchall():
        cameras.add(cid)
        if gw:
            gateways.add(gw)
    return Directory(stations, cameras, gateways)


async def datum_offsets(conn: psycopg.AsyncConnection[Any]) -> dict[str, float]:
    """Active stations whose datum is not CN1985: id -> offset (m) to add to reach it."""
    cur = await conn.execute("SELECT id, datum_offset_m FROM stations WHERE active AND datum_offset_m <> 0")
    return {sid: float(off) for sid, off in await cur.fetchall()}

"""The geography loaded by ``haixun load-geo`` (tables of migration 010), as the engine reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True, slots=True)
class SegmentRow:
    props: dict[str, Any]     # the GeoJSON feature's properties
    geometry: dict[str, Any]  # GeoJSON LineString


@dataclass(frozen=True, slots=True)
class AreaRow:
    id: str
    town_id: str | None  # villages: the town; towns: None
    population: int
    geometry: dict[str, Any]  # GeoJSON Polygon
    ground_level_m: float | None = None  # villages: props.ground_level_m (CN1985), when the geography gives it


@dataclass(frozen=True, slots=True)
class LowPoint:
    """A road's low point (roads.low_points)."""

    road_id: str
    lon: float
    lat: float
    ground_level_m: float


async def segments(conn: psycopg.AsyncConnection[Any]) -> list[SegmentRow]:
    """Seawall segments in their order along the coast."""
    cur = await conn.execute("SELECT props, geometry FROM segments ORDER BY ordinal")
    return [SegmentRow(p, g) for p, g in await cur.fetchall()]


async def villages(conn: psycopg.AsyncConnection[Any]) -> list[AreaRow]:
    cur = await conn.execute("SELECT id, town_id, population, geometry, (props->>'ground_level_m')::float8"
                             " FROM villages ORDER BY id")
    return [AreaRow(i, t, pop, g, ground) for i, t, pop, g, ground in await cur.fetchall()]


async def towns(conn: psycopg.AsyncConnection[Any]) -> list[AreaRow]:
    cur = await conn.execute("SELECT id, population, geometry FROM towns ORDER BY id")
    return [AreaRow(i, None, pop, g) for i, pop, g in await cur.fetchall()]


async def road_low_points(conn: psycopg.AsyncConnection[Any]) -> list[LowPoint]:
    """Every road's low points, by road id."""
    cur = await conn.execute("SELECT id, low_points FROM roads ORDER BY id")
    return [LowPoint(rid, float(lp["lon"]), float(lp["lat"]), float(lp["ground_level_m"]))
            for rid, points in await cur.fetchall() for lp in (points or [])]

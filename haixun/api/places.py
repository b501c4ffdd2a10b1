"""Shelters and roads with their current status (the file's initial value until an
operator changes it: migration 010), shared by the public and the ops routes."""

from __future__ import annotations

from typing import Any

from shapely.geometry import mapping

from haixun.api.context import ApiContext
from haixun.api.live import iso
from haixun.store import places as store_places
from haixun.store.places import Place, PlaceStatus


async def _status_rows(ctx: ApiContext, kind: Place) -> dict[str, PlaceStatus]:
    async with ctx.db().connection() as conn:
        return await store_places.statuses(conn, kind)


def _status(row: PlaceStatus | None, initial: bool) -> tuple[bool, str | None, str | None]:
    """(value, updated_at, updated_by): the table row (migration 010), else the file's initial value."""
    if row is None:
        return initial, None, None
    return row.value, iso(row.updated_at), row.updated_by


async def shelter_items(ctx: ApiContext) -> list[dict[str, Any]]:
    status = await _status_rows(ctx, "shelter")
    items = []
    for sid in sorted(ctx.geo.shelters):
        s = ctx.geo.shelters[sid]
        is_open, at, by = _status(status.get(sid), s.open)
        items.append({"id": sid, "village_id": s.village_id, "name": s.name, "name_en": s.name_en,
                      "capacity": s.capacity, "address": s.address, "lat": s.lat, "lon": s.lon, "open": is_open,
                      "status_updated_at": at, "status_updated_by": by})
    return items


async def road_items(ctx: ApiContext) -> list[dict[str, Any]]:
    status = await _status_rows(ctx, "road")
    items = []
    for rid in sorted(ctx.geo.roads):
        r = ctx.geo.roads[rid]
        closed, at, by = _status(status.get(rid), r.closed)
        items.append({"id": rid, "name": r.name, "name_en": r.name_en, "closed": closed,
                      "status_updated_at": at, "status_updated_by": by, "geometry": mapping(r.geometry),
                      "low_points": [lp.as_dict() for lp in r.low_points]})
    return items

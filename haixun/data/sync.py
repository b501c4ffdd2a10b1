"""Write a validated :class:`Geography` into PostgreSQL (tables of 010_geography.sql).

``sync_to_db`` is idempotent: it upserts every feature, touches a row (and its
``updated_at``) only when something changed, removes rows that left the file
(stations and cameras from the file are deactivated instead, readings refer to
them) and records the file's version in ``store_info.geography_version``.

Runtime state (``shelters.open``, ``roads.closed``) set by anyone other than the
loader (``updated_by != 'load-geo'``) is kept unless ``force_state=True``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from shapely.geometry import mapping

from haixun.data.geography import Geography
from haixun.store.channels import ALARM_CHANNEL

LOADER_ACTOR = "load-geo"
GEOGRAPHY_SOURCE = "geography"  # stations.props.source / cameras.props.source for rows owned by the file


@dataclass(slots=True)
class SyncResult:
    version: str
    changed: dict[str, int] = field(default_factory=dict)   # table -> rows inserted or updated
    removed: dict[str, int] = field(default_factory=dict)   # table -> rows deleted or deactivated
    kept_state: list[str] = field(default_factory=list)     # "shelter S03" etc.: officer state not overwritten

    @property
    def total_changed(self) -> int:
        return sum(self.changed.values()) + sum(self.removed.values())


def _geojson(geom: Any) -> Jsonb:
    return Jsonb(mapping(geom))


def _upsert(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]],
            *, touch: str = "updated_at") -> int:
    """Insert or update rows by ``id``; only rows that differ are updated (and get ``touch`` = now())."""
    if not rows:
        return 0
    data_cols = [c for c in columns if c != "id"]
    query = sql.SQL(
        "INSERT INTO {t} ({cols}) VALUES ({vals}) ON CONFLICT (id) DO UPDATE SET {sets}, {touch} = now() "
        "WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        t=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=sql.SQL(", ").join(sql.Placeholder(c) for c in columns),
        sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in data_cols),
        touch=sql.Identifier(touch),
        old=sql.SQL(", ").join(sql.SQL("{t}.{c}").format(t=sql.Identifier(table), c=sql.Identifier(c))
                               for c in data_cols),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in data_cols),
    )
    changed = 0
    with conn.cursor() as cur:
        for row in rows:
            cur.execute(query, row)
            changed += cur.rowcount
    return changed


def _upsert_with_state(conn: psycopg.Connection, table: str, columns: Sequence[str], state_col: str,
                       rows: Sequence[dict[str, Any]], force: bool) -> tuple[int, list[str]]:
    """Like :func:`_upsert` for shelters/roads: the state column is reset from the file only while the
    loader owns it (``updated_by = 'load-geo'``) or when forced. Returns (changed rows, ids whose state was kept)."""
    data_cols = [c for c in columns if c not in ("id", state_col)]
    t = sql.Identifier(table)
    st = sql.Identifier(state_col)
    resettable = sql.SQL("(%(force)s OR {t}.updated_by = %(actor)s)").format(t=t)
    query = sql.SQL(
        "INSERT INTO {t} ({cols}, {st}, updated_by) VALUES ({vals}, {state}, %(actor)s) "
        "ON CONFLICT (id) DO UPDATE SET {sets}, "
        " synced_at = CASE WHEN ({old}) IS DISTINCT FROM ({new}) THEN now() ELSE {t}.synced_at END, "
        " {st} = CASE WHEN {resettable} THEN EXCLUDED.{st} ELSE {t}.{st} END, "
        " updated_at = CASE WHEN {resettable} AND ({t}.{st} IS DISTINCT FROM EXCLUDED.{st} "
        "                    OR {t}.updated_by <> %(actor)s) THEN now() ELSE {t}.updated_at END, "
        " updated_by = CASE WHEN {resettable} THEN %(actor)s ELSE {t}.updated_by END "
        "WHERE ({old}) IS DISTINCT FROM ({new}) "
        "   OR ({resettable} AND ({t}.{st} IS DISTINCT FROM EXCLUDED.{st} OR {t}.updated_by <> %(actor)s))"
    ).format(
        t=t, st=st, state=sql.Placeholder(state_col), resettable=resettable,
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in ["id", *data_cols]),
        vals=sql.SQL(", ").join(sql.Placeholder(c) for c in ["id", *data_cols]),
        sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in data_cols),
        old=sql.SQL(", ").join(sql.SQL("{t}.{c}").format(t=t, c=sql.Identifier(c)) for c in data_cols),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in data_cols),
    )
    changed = 0
    with conn.cursor() as cur:
        for row in rows:
            cur.execute(query, {**row, "force": force, "actor": LOADER_ACTOR})
            changed += cur.rowcount
        ids = [r["id"] for r in rows]
        cur.execute(sql.SQL("SELECT id FROM {t} WHERE id = ANY(%s) AND updated_by <> %s ORDER BY id").format(t=t),
                    (ids, LOADER_ACTOR))
        kept = [r[0] for r in cur.fetchall()]
    return changed, kept


def _delete_missing(conn: psycopg.Connection, table: str, ids: Sequence[str]) -> int:
    cur = conn.execute(sql.SQL("DELETE FROM {t} WHERE NOT (id = ANY(%s))").format(t=sql.Identifier(table)),
                       (list(ids),))
    return cur.rowcount


def _deactivate_missing(conn: psycopg.Connection, table: str, ids: Sequence[str]) -> int:
    cur = conn.execute(
        sql.SQL("UPDATE {t} SET active = false, updated_at = now() "
                "WHERE active AND props->>'source' = %s AND NOT (id = ANY(%s))").format(t=sql.Identifier(table)),
        (GEOGRAPHY_SOURCE, list(ids)))
    return cur.rowcount


def _town_rows(geo: Geography) -> list[dict[str, Any]]:
    return [{"id": t.id, "name": t.name, "name_en": t.name_en, "population": t.population,
             "population_source": t.population_source, "geometry": _geojson(t.geometry),
             "props": Jsonb({"assumed": list(t.assumed)})} for t in geo.towns]


def _village_rows(geo: Geography) -> list[dict[str, Any]]:
    return [{"id": v.id, "town_id": v.town_id, "name": v.name, "name_en": v.name_en, "population": v.population,
             "contact": Jsonb(v.contact.as_dict()) if v.contact else None, "geometry": _geojson(v.geometry),
             "props": Jsonb({"assumed": list(v.assumed), "ground_level_m": v.ground_level_m})} for v in geo.villages]


def _segment_rows(geo: Geography) -> list[dict[str, Any]]:
    return [{"id": s.id, "ordinal": i, "name": s.name, "name_en": s.name_en, "town_id": s.town_id,
             "structure": s.structure, "crest_level_m": s.crest_level_m, "slope_tan": s.slope_tan,
             "toe_level_m": s.toe_level_m, "foreshore_slope": s.foreshore_slope,
             "roughness_gamma_f": s.roughness_gamma_f, "warning_levels": Jsonb(s.warning_levels.as_dict()),
             "tide_station": s.tide_station, "wind_station": s.wind_station, "wave_station": s.wave_station,
             "orientation_deg": s.orientation_deg, "geometry": _geojson(s.geometry),
             "props": Jsonb(dict(s.properties))} for i, s in enumerate(geo.segments, start=1)]


def _station_rows(geo: Geography) -> list[dict[str, Any]]:
    return [{"id": s.id, "kind": s.kind, "name": s.name, "name_en": s.name_en, "lat": s.lat, "lon": s.lon,
             "elevation_m": s.elevation_m, "datum": s.datum, "datum_offset_m": s.datum_offset_m,
             "segment_id": s.segment_id, "gateway_id": s.gateway_id,
             "quantities": list(s.quantities), "active": True,
             "props": Jsonb({"source": GEOGRAPHY_SOURCE, "assumed": list(s.assumed),
                             **({"wave_period_kind": s.wave_period_kind} if s.wave_period_kind else {})})}
            for s in geo.stations]


def _camera_rows(geo: Geography) -> list[dict[str, Any]]:
    return [{"id": c.id, "kind": c.kind, "name": c.name, "lat": c.lat, "lon": c.lon,
             "segment_ids": list(c.segment_ids), "gateway_id": c.gateway_id, "active": True,
             "props": Jsonb({"source": GEOGRAPHY_SOURCE, "assumed": list(c.assumed)})} for c in geo.cameras]


def _shelter_rows(geo: Geography) -> list[dict[str, Any]]:
    return [{"id": s.id, "village_id": s.village_id, "name": s.name, "name_en": s.name_en, "capacity": s.capacity,
             "open": s.open, "address": s.address, "lat": s.lat, "lon": s.lon,
             "props": Jsonb({"initial_open": s.open, "assumed": list(s.assumed)})} for s in geo.shelters]


def _road_rows(geo: Geography) -> list[dict[str, Any]]:
    return [{"id": r.id, "name": r.name, "name_en": r.name_en, "closed": r.closed,
             "low_points": Jsonb([lp.as_dict() for lp in r.low_points]), "geometry": _geojson(r.geometry),
             "props": Jsonb({"initial_closed": r.closed, "assumed": list(r.assumed)})} for r in geo.roads]


def _columns(rows: list[dict[str, Any]], fallback: Sequence[str]) -> list[str]:
    return list(rows[0]) if rows else list(fallback)


def sync_to_db(conn: psycopg.Connection, geo: Geography, *, force_state: bool = False) -> SyncResult:
    """Fill/update the geography tables from ``geo`` in one transaction. ``geo`` must be validated."""
    result = SyncResult(version=geo.version)
    towns, villages, segments = _town_rows(geo), _village_rows(geo), _segment_rows(geo)
    stations, cameras = _station_rows(geo), _camera_rows(geo)
    shelters, roads = _shelter_rows(geo), _road_rows(geo)
    with conn.transaction():
        result.changed["towns"] = _upsert(conn, "towns", _columns(towns, ["id"]), towns)
        result.changed["villages"] = _upsert(conn, "villages", _columns(villages, ["id"]), villages)
        result.changed["segments"] = _upsert(conn, "segments", _columns(segments, ["id"]), segments)
        result.changed["stations"] = _upsert(conn, "stations", _columns(stations, ["id"]), stations)
        result.changed["cameras"] = _upsert(conn, "cameras", _columns(cameras, ["id"]), cameras)
        changed, kept = _upsert_with_state(conn, "shelters", _columns(shelters, ["id"]), "open", shelters,
                                           force_state)
        result.changed["shelters"] = changed
        result.kept_state += [f"shelter {i}" for i in kept]
        changed, kept = _upsert_with_state(conn, "roads", _columns(roads, ["id"]), "closed", roads, force_state)
        result.changed["roads"] = changed
        result.kept_state += [f"road {i}" for i in kept]
        lb = geo.land_boundary
        result.changed["served_area"] = _upsert(conn, "served_area", ["id", "geometry", "props"], [
            {"id": lb.id, "geometry": _geojson(lb.geometry), "props": Jsonb({"assumed": list(lb.assumed)})}])

        # Children first, so that foreign keys never block a removal.
        result.removed["shelters"] = _delete_missing(conn, "shelters", [r["id"] for r in shelters])
        result.removed["roads"] = _delete_missing(conn, "roads", [r["id"] for r in roads])
        result.removed["segments"] = _delete_missing(conn, "segments", [r["id"] for r in segments])
        result.removed["villages"] = _delete_missing(conn, "villages", [r["id"] for r in villages])
        result.removed["towns"] = _delete_missing(conn, "towns", [r["id"] for r in towns])
        result.removed["served_area"] = _delete_missing(conn, "served_area", [lb.id])
        result.removed["stations"] = _deactivate_missing(conn, "stations", [r["id"] for r in stations])
        result.removed["cameras"] = _deactivate_missing(conn, "cameras", [r["id"] for r in cameras])
        conn.execute("INSERT INTO store_info (key, value) VALUES ('geography_version', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (geo.version,))
        if any(result.changed[k] or result.removed[k] for k in ("shelters", "roads")):
            # the same event the API sends for a duty officer's status change: API
            # processes reload shelter/road status at once (delivered at commit)
            conn.execute("SELECT pg_notify(%s, %s)", (ALARM_CHANNEL, json.dumps({"event": "ops"})))
    return result

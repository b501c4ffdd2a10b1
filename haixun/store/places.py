"""Shelter and road status (shelters.open, roads.closed: migrations 010, 031), the duty room's changes
to it, and the NOTIFY that makes every API process reload it. ``haixun load-geo`` keeps a status
whose updated_by is not 'load-geo'."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from haixun.store.channels import ALARM_CHANNEL
from haixun.store.notify import notify

Place = Literal["shelter", "road"]
# kind -> (table, status column)
_TABLES: dict[Place, tuple[str, str]] = {"shelter": ("shelters", "open"), "road": ("roads", "closed")}


@dataclass(frozen=True, slots=True)
class PlaceStatus:
    """A shelter's ``open`` or a road's ``closed``, with who set it when."""

    id: str
    value: bool
    updated_at: datetime
    updated_by: str | None


def status_column(kind: Place) -> str:
    return _TABLES[kind][1]


async def statuses(conn: psycopg.AsyncConnection[Any], kind: Place) -> dict[str, PlaceStatus]:
    table, column = _TABLES[kind]
    cur = conn.cursor(row_factory=class_row(PlaceStatus))
    await cur.execute(sql.SQL("SELECT id, {} AS value, updated_at, updated_by FROM {}").format(
        sql.Identifier(column), sql.Identifier(table)))
    return {r.id: r for r in await cur.fetchall()}


async def status_values(conn: psycopg.AsyncConnection[Any], kind: Place) -> dict[str, bool]:
    """id -> open (shelters) or closed (roads)."""
    table, column = _TABLES[kind]
    cur = await conn.execute(sql.SQL("SELECT id, {} FROM {}").format(sql.Identifier(column), sql.Identifier(table)))
    return {str(i): bool(v) for i, v in await cur.fetchall()}


async def lock_status(conn: psycopg.AsyncConnection[Any], kind: Place, item_id: str) -> bool | None:
    """The current value, the row locked for update (inside the caller's transaction); None: no such row."""
    table, column = _TABLES[kind]
    cur = await conn.execute(sql.SQL("SELECT {} FROM {} WHERE id = %s FOR UPDATE").format(
        sql.Identifier(column), sql.Identifier(table)), (item_id,))
    row = await cur.fetchone()
    return None if row is None else bool(row[0])


async def set_status(conn: psycopg.AsyncConnection[Any], kind: Place, item_id: str, value: bool, actor: str) -> None:
    """Set the value and NOTIFY ``{"event": "ops"}`` (every API process reloads its status on commit)."""
    table, column = _TABLES[kind]
    await conn.execute(sql.SQL("UPDATE {} SET {} = %s, updated_by = %s, updated_at = now() WHERE id = %s").format(
        sql.Identifier(table), sql.Identifier(column)), (value, actor, item_id))
    await notify(conn, ALARM_CHANNEL, json.dumps({"event": "ops"}))

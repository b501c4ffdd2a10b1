"""NOTIFY and LISTEN on the channels of store/channels.py."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql


async def notify(conn: psycopg.AsyncConnection[Any], channel: str, payload: str) -> None:
    """``pg_notify``: inside a transaction PostgreSQL sends it at commit (never for a rollback)."""
    await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


async def listen(conn: psycopg.AsyncConnection[Any], channel: str) -> None:
    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

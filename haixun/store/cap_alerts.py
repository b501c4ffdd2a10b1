"""Issued CAP 1.2 alerts (cap_alerts, migration 029). Issuing is serialised across API processes by a
transaction-level advisory lock (``lock_issuing``), held from reading the last alert to storing the next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

CAP_LOCK = (0x6861_6978, 29)   # (class "haix", 29): serialises issuing across API processes
ALERT_COLUMNS = "identifier, sender, sent, msg_type, refs, fingerprint, xml"


@dataclass(frozen=True, slots=True)
class StoredAlert:
    identifier: str
    sender: str
    sent: datetime
    msg_type: str
    refs: str | None       # the CAP <references> value
    fingerprint: str       # the warned areas and levels it describes ('' = none)
    xml: str


@dataclass(frozen=True, slots=True)
class AlertListing:
    identifier: str
    sent: datetime
    msg_type: str
    refs: str | None
    fingerprint: str


async def lock_issuing(conn: psycopg.AsyncConnection[Any]) -> None:
    """Inside the caller's transaction: wait until no other process issues an alert."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", CAP_LOCK)


async def last_alert(conn: psycopg.AsyncConnection[Any]) -> StoredAlert | None:
    cur = conn.cursor(row_factory=class_row(StoredAlert))
    await cur.execute(f"SELECT {ALERT_COLUMNS} FROM cap_alerts ORDER BY id DESC LIMIT 1")
    return await cur.fetchone()


async def insert_alert(conn: psycopg.AsyncConnection[Any], alert: StoredAlert) -> StoredAlert:
    cur = conn.cursor(row_factory=class_row(StoredAlert))
    await cur.execute(f"INSERT INTO cap_alerts ({ALERT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                      f"RETURNING {ALERT_COLUMNS}",
                      (alert.identifier, alert.sender, alert.sent, alert.msg_type, alert.refs, alert.fingerprint,
                       alert.xml))
    row = await cur.fetchone()
    assert row is not None  # INSERT .. RETURNING of one row
    return row


async def recent_alerts(conn: psycopg.AsyncConnection[Any], limit: int = 200) -> list[AlertListing]:
    """Newest first."""
    cur = conn.cursor(row_factory=class_row(AlertListing))
    await cur.execute("SELECT identifier, sent, msg_type, refs, fingerprint FROM cap_alerts ORDER BY id DESC LIMIT %s",
                      (limit,))
    return await cur.fetchall()


async def alert_xml(conn: psycopg.AsyncConnection[Any], identifier: str) -> str | None:
    row = await (await conn.execute("SELECT xml FROM cap_alerts WHERE identifier = %s", (identifier,))).fetchone()
    return None if row is None else str(row[0])

"""API users and API keys (api_users, api_keys: migration 025). Hashing and key generation are the
API's (api/auth.py); this module stores and finds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from haixun.store.audit import write_audit_sync


@dataclass(frozen=True, slots=True)
class UserLogin:
    """An active user's name, stored password hash and role."""

    username: str
    password_hash: str
    role: str


@dataclass(frozen=True, slots=True)
class ActiveUser:
    username: str
    role: str


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """The holder of an active API key: its name, role and the feed sources it may post to (empty: all)."""

    name: str
    role: str
    sources: list[str]


@dataclass(frozen=True, slots=True)
class KeyListing:
    prefix: str
    name: str
    role: str
    sources: list[str]
    active: bool
    created_at: datetime
    last_used_at: datetime | None


async def login_user(conn: psycopg.AsyncConnection[Any], username: str) -> UserLogin | None:
    cur = conn.cursor(row_factory=class_row(UserLogin))
    await cur.execute("SELECT username, password_hash, role FROM api_users WHERE username = %s AND active",
                      (username,))
    return await cur.fetchone()


async def active_user(conn: psycopg.AsyncConnection[Any], username: str) -> ActiveUser | None:
    cur = conn.cursor(row_factory=class_row(ActiveUser))
    await cur.execute("SELECT username, role FROM api_users WHERE username = %s AND active", (username,))
    return await cur.fetchone()


async def record_login(conn: psycopg.AsyncConnection[Any], user: UserLogin, new_hash: str | None = None) -> None:
    """last_login_at = now(); with ``new_hash``, also the password hash (only if it is still the one read)."""
    if new_hash is not None:
        await conn.execute("UPDATE api_users SET last_login_at = now(), password_hash = %s "
                           "WHERE username = %s AND password_hash = %s",
                           (new_hash, user.username, user.password_hash))
    else:
        await conn.execute("UPDATE api_users SET last_login_at = now() WHERE username = %s", (user.username,))


async def use_api_key(conn: psycopg.AsyncConnection[Any], prefix: str, sha256: str) -> KeyHolder | None:
    """The active key with this prefix and digest (its last_used_at set to now), or None."""
    cur = conn.cursor(row_factory=class_row(KeyHolder))
    await cur.execute("UPDATE api_keys SET last_used_at = now() WHERE prefix = %s AND active AND key_sha256 = %s "
                      "RETURNING name, role, coalesce(sources, '{}') AS sources", (prefix, sha256))
    return await cur.fetchone()


def upsert_user(conn: psycopg.Connection[Any], *, username: str, password_hash: str, role: str, actor: str) -> bool:
    """Create the user, or update its hash and role and reactivate it; True when created. Audited."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO api_users (username, password_hash, role) VALUES (%s, %s, %s) "
            "ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, "
            "active = true RETURNING (xmax = 0)", (username, password_hash, role)).fetchone()
        created = bool(row and row[0])
        write_audit_sync(conn, actor=actor, action="user.create" if created else "user.update",
                         target=f"user:{username}", after={"role": role})
    return created


def insert_api_key(conn: psycopg.Connection[Any], *, name: str, prefix: str, sha256: str, role: str,
                   sources: list[str], actor: str) -> None:
    """Store a key by its prefix and SHA-256 (never the key). Audited."""
    with conn.transaction():
        conn.execute("INSERT INTO api_keys (name, prefix, key_sha256, role, sources) VALUES (%s, %s, %s, %s, %s)",
                     (name, prefix, sha256, role, sources))
        write_audit_sync(conn, actor=actor, action="apikey.create", target=f"api_key:{prefix}",
                         after={"name": name, "role": role})


def revoke_api_keys(conn: psycopg.Connection[Any], *, actor: str, prefix: str | None = None,
                    name: str | None = None) -> list[str]:
    """Deactivate the active key with ``prefix`` and/or every active key named ``name``; returns the prefixes.
    Audited."""
    if prefix is None and name is None:
        raise ValueError("revoke needs a prefix or a name")
    with conn.transaction():
        rows = conn.execute("UPDATE api_keys SET active = false WHERE active AND (%(p)s::text IS NULL OR prefix = %(p)s)"
                            " AND (%(n)s::text IS NULL OR name = %(n)s) RETURNING prefix",
                            {"p": prefix, "n": name}).fetchall()
        for (p,) in rows:
            write_audit_sync(conn, actor=actor, action="apikey.revoke", target=f"api_key:{p}")
    return [str(p) for (p,) in rows]


def api_keys(conn: psycopg.Connection[Any]) -> list[KeyListing]:
    cur = conn.cursor(row_factory=class_row(KeyListing))
    cur.execute("SELECT prefix, name, role, sources, active, created_at, last_used_at FROM api_keys ORDER BY id")
    return cur.fetchall()

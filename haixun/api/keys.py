"""API keys in the store (``api_keys``, migration 025): create and revoke,
with an audit row each. Used by ``haixun apikey`` and by ``haixun demo`` (its
replay posts official bulletins with a feed key)."""

from __future__ import annotations

import json

import psycopg

from haixun.api.auth import new_api_key


def add_api_key(conn: psycopg.Connection, *, name: str, role: str, sources: list[str], actor: str) -> tuple[str, str]:
    """Create a key; returns (key, prefix). The key is not stored (only its SHA-256)."""
    k = new_api_key()
    with conn.transaction():
        conn.execute("INSERT INTO api_keys (name, prefix, key_sha256, role, sources) VALUES (%s, %s, %s, %s, %s)",
                     (name, k.prefix, k.sha256, role, sources))
        conn.execute("INSERT INTO audit_log (actor, action, target, after) VALUES (%s, 'apikey.create', %s, %s)",
                     (actor, f"api_key:{k.prefix}", json.dumps({"name": name, "role": role})))
    return k.key, k.prefix


def revoke_api_keys(conn: psycopg.Connection, *, actor: str, prefix: str | None = None,
                    name: str | None = None) -> list[str]:
    """Deactivate the active key with ``prefix`` and/or every active key named ``name``; returns the prefixes."""
    if prefix is None and name is None:
        raise ValueError("revoke needs a prefix or a name")
    with conn.transaction():
        rows = conn.execute("UPDATE api_keys SET active = false WHERE active AND (%(p)s::text IS NULL OR prefix = %(p)s)"
                            " AND (%(n)s::text IS NULL OR name = %(n)s) RETURNING prefix",
                            {"p": prefix, "n": name}).fetchall()
        for (p,) in rows:
            conn.execute("INSERT INTO audit_log (actor, action, target) VALUES (%s, 'apikey.revoke', %s)",
                         (actor, f"api_key:{p}"))
    return [p for (p,) in rows]

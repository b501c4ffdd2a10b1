"""API keys: create and revoke (store/accounts.py keeps them, with an audit row each). Used by
``haixun apikey`` and by ``haixun demo`` (its replay posts official bulletins with a feed key)."""

from __future__ import annotations

from typing import Any

import psycopg

from haixun.api.auth import new_api_key
from haixun.store import accounts


def add_api_key(conn: psycopg.Connection[Any], *, name: str, role: str, sources: list[str],
                actor: str) -> tuple[str, str]:
    """Create a key; returns (key, prefix). The key is not stored (only its SHA-256)."""
    k = new_api_key()
    accounts.insert_api_key(conn, name=name, prefix=k.prefix, sha256=k.sha256, role=role, sources=sources, actor=actor)
    return k.key, k.prefix


def revoke_api_keys(conn: psycopg.Connection[Any], *, actor: str, prefix: str | None = None,
                    name: str | None = None) -> list[str]:
    """Deactivate the active key with ``prefix`` and/or every active key named ``name``; returns the prefixes."""
    return accounts.revoke_api_keys(conn, actor=actor, prefix=prefix, name=name)

"""Connection helpers: one async pool per process, created at the edge."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool


async def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, name: str = "haixun",
                    timeout: float = 30.0, connect_timeout: int | None = None,
                    statement_timeout_ms: int | None = None) -> AsyncConnectionPool:
    """Every connection is checked on checkout (``check_connection``: one round trip), so a connection the
    server closed (restart, ``pg_terminate_backend``, idle timeout) is replaced instead of handed out.
    ``timeout``: how long ``pool.connection()`` waits for a connection (then ``PoolTimeout``);
    ``connect_timeout`` (s) and ``statement_timeout_ms``: session settings of each connection."""
    kwargs: dict[str, Any] = {"autocommit": True}
    if connect_timeout is not None:
        kwargs["connect_timeout"] = connect_timeout
    if statement_timeout_ms is not None:
        kwargs["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
    pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, name=name, open=False, timeout=timeout,
                               kwargs=kwargs, check=AsyncConnectionPool.check_connection)
    try:
        await pool.open(wait=True, timeout=30)
    except BaseException:  # unreachable server, timeout, cancellation: no pool workers left behind
        await pool.close()
        raise
    return pool


async def table_exists(conn: psycopg.AsyncConnection[Any], name: str) -> bool:
    """Does the table (or view) ``name`` exist? (``to_regclass``: tables other packages own may be absent.)"""
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    row = await cur.fetchone()
    return bool(row and row[0])

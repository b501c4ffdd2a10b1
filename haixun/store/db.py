"""Connection helpers: one async pool per process, created at the edge."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


async def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, name: str = "haixun") -> AsyncConnectionPool:
    pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, name=name, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True, timeout=30)
    return pool

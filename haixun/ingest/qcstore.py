"""What ingest's QC needs from the database (the only I/O of QC).

* ``refresh_station_context``: per-station facts QC and the datum conversion
  use (``stations.datum_offset_m``, positions), loaded with the station cache.
"""

from __future__ import annotations

import psycopg

from haixun.ingest.qc import QcEngine


async def refresh_station_context(conn: psycopg.AsyncConnection, qc: QcEngine) -> None:
    """Load the datum offsets of the active stations into ``qc`` (haixun/data/datum.py)."""
    cur = await conn.execute("SELECT id, datum_offset_m FROM stations WHERE active AND datum_offset_m <> 0")
    qc.datum_offsets = {sid: float(off) for sid, off in await cur.fetchall()}

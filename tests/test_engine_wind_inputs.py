"""The engine feeds riskcode the recent gust readings (gust persistence rule, issue 13) and the buoys'
wave period kinds, from the real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg

from haixun.data.geography import load_geography
from haixun.data.sync import sync_to_db
from haixun.engine import inputs as inputs_mod
from tests.support.clock import utcnow
from tests.support.engine import write_readings


def test_gather_reads_recent_gusts_and_period_kinds(db_url: str) -> None:
    now = utcnow().replace(microsecond=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        sync_to_db(conn, load_geography())
        write_readings(conn, "XB-M01", now - timedelta(minutes=3), {"wind_gust": 15.0}, notify=False)
        write_readings(conn, "XB-M01", now - timedelta(minutes=40), {"wind_gust": 30.0}, notify=False)
        write_readings(conn, "XB-M01", now, {"wind_speed": 9.0, "wind_gust": 15.2, "tide_level": 0.5}, notify=False)

    async def run():
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            return await inputs_mod.gather(conn, now)

    raw = asyncio.run(run())
    assert [v for v, _, _ in raw.recent_gusts["XB-M01"]] == [15.0, 15.2]  # the 40-min-old one is outside
    assert raw.stations["ZP-B01"].wave_period_kind == "Tm-1,0"


class _InsertsAfterLatest(psycopg.AsyncConnection):
    """A real connection that, right after gather's latest_readings query, lets another session
    store a newer reading (what ingest does at any moment during an engine cycle)."""

    db_url = ""
    fired = False

    async def execute(self, query, params=None, **kw):  # type: ignore[no-untyped-def, override]
        cur = await super().execute(query, params, **kw)
        if not self.fired and "FROM latest_readings WHERE qc <> 4" in str(query):
            type(self).fired = True
            with psycopg.connect(self.db_url, autocommit=True) as other:
                write_readings(other, "XB-M01", utcnow(), {"tide_level": 4.45}, notify=False)
        return cur


def test_the_latency_mark_names_an_input_the_cycle_gathered(db_url: str) -> None:
    """Before: gather and the latency mark were two snapshots; a reading stored between them became
    this cycle's latency mark although the cycle never saw it (and the cycle that decided on it
    reported no latency: tests/test_engine.py saw only decided_at in CI)."""
    now = utcnow()
    with psycopg.connect(db_url, autocommit=True) as conn:
        sync_to_db(conn, load_geography())
        write_readings(conn, "XB-M01", now - timedelta(seconds=5), {"tide_level": 2.2}, notify=False)
    _InsertsAfterLatest.db_url = db_url

    async def run():
        async with await _InsertsAfterLatest.connect(db_url, autocommit=True) as conn:
            return await inputs_mod.gather_with_mark(conn, utcnow())

    raw, mark = asyncio.run(run())
    assert _InsertsAfterLatest.fired
    gathered = max(v.received_at for q in raw.latest.values() for v in q.values())
    assert mark is not None and mark.received_at == gathered
    assert raw.latest["XB-M01"]["tide_level"].value == 2.2

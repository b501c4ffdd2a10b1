"""The same readings, stored by ingest's writer into a timescale-mode and a partitioned-mode database,
give the same answer to every store query: latest, window, and the 1-minute / 1-hour rollups (continuous
aggregates with real-time aggregation vs trigger-maintained tables), before and after the aggregates are
materialised, after late readings, and after the old chunks are compressed. Both databases live on a
private TimescaleDB server (skipped, with the reason, without shared/timescaledb)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from haixun.ingest.pipeline import Processed
from haixun.store import readings
from haixun.store.batches import store_batch
from haixun.store.migrate import migrate
from haixun.store.rows import ReadingRow
from tests.support.db import drop_database_on, new_database

STATIONS = ("ZP-T01", "ZP-W02", "JS-T03")
QUANTITIES = ("tide_level", "wind_speed")
T0 = datetime(2021, 7, 25, 22, 0, 7, tzinfo=UTC)  # In-fa, not minute-aligned


@pytest.fixture
def both_modes(timescale_pg):
    urls = {m: new_database(timescale_pg) for m in ("timescale", "partitioned")}
    try:
        for m, url in urls.items():
            assert migrate(url, mode=m) == m
        with psycopg.connect(urls["timescale"], autocommit=True) as conn:  # the test runs the jobs itself
            conn.execute("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs"
                         " WHERE job_id >= 1000")
        yield urls
    finally:
        for url in urls.values():
            drop_database_on(url)


def _batch(rng: random.Random, start: datetime, n: int, step_s: float) -> list[ReadingRow]:
    rows = []
    for k in range(n):
        ts = start + timedelta(seconds=round(k * step_s + rng.random() * 0.9, 3))
        for s in STATIONS:
            for q in QUANTITIES:
                qc = rng.choices((1, 2, 3, 4), (80, 5, 10, 5))[0]
                rows.append(ReadingRow(s, q, ts, round(rng.gauss(4.0, 1.5), 4), qc, ts + timedelta(seconds=2)))
    return rows


async def _store(urls: dict[str, str], rows: list[ReadingRow], chunk: int = 700) -> None:
    for mode, url in urls.items():
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            days: set = set()
            for i in range(0, len(rows), chunk):
                await store_batch(conn, Processed(readings=rows[i:i + chunk]), partitioned=mode == "partitioned",
                                  days_seen=days)


def _same_rollups(a: list[readings.RollupRow], b: list[readings.RollupRow], what: str) -> None:
    assert [(r.bucket, r.min, r.max, r.count, r.last) for r in a] == \
           [(r.bucket, r.min, r.max, r.count, r.last) for r in b], what
    assert [r.avg for r in a] == pytest.approx([r.avg for r in b], rel=1e-12), what  # sums in another order


RANGES = [
    (T0, T0 + timedelta(hours=1)),
    (T0 - timedelta(minutes=30), T0 + timedelta(hours=5, seconds=1)),
    (T0 + timedelta(minutes=17, seconds=31), T0 + timedelta(minutes=43)),
    (T0 + timedelta(hours=2), T0 + timedelta(days=2)),
]


async def _answers(url: str, extra_ranges: list[tuple[datetime, datetime]] | tuple[tuple[datetime, datetime], ...]) -> dict:
    out: dict = {}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        out["latest"] = await readings.latest(conn)
        out["latest ZP"] = await readings.latest(conn, ["ZP-T01", "ZP-W02"], ["tide_level"])
        for s in STATIONS:
            for q in QUANTITIES:
                for lo, hi in [*RANGES, *extra_ranges]:
                    key = (s, q, lo, hi)
                    out[("window",) + key] = await readings.window(conn, s, q, lo, hi)
                    out[("window+failed",) + key] = await readings.window(conn, s, q, lo, hi, include_failed=True)
                    for b in ("1 minute", "1 hour"):
                        out[("rollup", b) + key] = await readings.rollup(conn, s, q, lo, hi, b)
                        out[("raw", b) + key] = await readings.rollup_raw(conn, s, q, lo, hi, b)
    return out


async def _compare(urls: dict[str, str], extra: tuple[tuple[datetime, datetime], ...] = ()) -> int:
    ts, pt = await _answers(urls["timescale"], extra), await _answers(urls["partitioned"], extra)
    assert ts.keys() == pt.keys()
    rollups = 0
    for key in ts:
        if key[0] in ("rollup", "raw"):
            _same_rollups(ts[key], pt[key], str(key))
            raw_key = ("raw",) + key[1:]
            _same_rollups(ts[key], ts[raw_key], f"timescale rollup vs raw {key}")
            _same_rollups(pt[key], pt[raw_key], f"partitioned rollup vs raw {key}")
            rollups += len(ts[key])
        else:
            assert ts[key] == pt[key], str(key)
    return rollups


def _run_jobs(url: str, proc: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        jobs = [r[0] for r in conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s",
                                           (proc,))]
        for j in jobs:
            conn.execute("CALL run_job(%s)", (j,))
        return len(jobs)


async def test_every_query_gives_the_same_answer_in_both_modes(both_modes):
    urls = both_modes
    rng = random.Random(16)
    now = datetime.now(UTC).replace(microsecond=0)
    live = (now - timedelta(minutes=20), now + timedelta(minutes=1))
    history = _batch(rng, T0, 1_500, 10.0)  # ~4 h of 10 s readings, 6 series
    recent = _batch(rng, now - timedelta(minutes=15), 90, 10.0)  # the newest minutes, by the wall clock
    await _store(urls, history + recent)
    await _store(urls, history[:2_000])  # a redelivery: nothing changes
    assert await _compare(urls, [live]) > 0  # timescale: nothing materialised yet, all real-time

    assert _run_jobs(urls["timescale"], "policy_refresh_continuous_aggregate") == 2
    with psycopg.connect(urls["timescale"]) as conn:  # the history is now materialised ...
        n_mat = conn.execute("SELECT count(*) FROM readings_1m WHERE bucket < %s", (now - timedelta(hours=1),)
                             ).fetchone()[0]
        assert n_mat > 0
    await _compare(urls, [live])  # ... and the newest minutes still come from real-time aggregation

    # late readings into materialised minutes, and new ones; then the next refresh
    late = _batch(rng, T0 + timedelta(minutes=30, seconds=3), 30, 10.0)
    newer = _batch(rng, now - timedelta(seconds=50), 4, 10.0)
    await _store(urls, late + newer)
    _run_jobs(urls["timescale"], "policy_refresh_continuous_aggregate")
    await _compare(urls, [live])

    # compression of the old chunks (policy: older than 7 days by the wall clock), then a late reading into one
    assert _run_jobs(urls["timescale"], "policy_compression") == 1
    with psycopg.connect(urls["timescale"]) as conn:
        assert conn.execute("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'"
                            " AND is_compressed").fetchone()[0] >= 1
    await _store(urls, _batch(rng, T0 + timedelta(hours=1, seconds=1), 3, 10.0))
    _run_jobs(urls["timescale"], "policy_refresh_continuous_aggregate")
    await _compare(urls, [live])


async def test_api_rollups_come_from_the_rollups_and_include_the_newest_minute(settings, db_url, tmp_path):
    import httpx

    from tests.support.api import running_api

    now = settings.clock.now().replace(microsecond=0)
    rows = [ReadingRow("ZP-T01", "tide_level", now - timedelta(seconds=s), 3.0 + s / 1000, 4 if s == 60 else 1,
                       now) for s in range(0, 7200, 30)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO stations (id, kind, name, lat, lon) VALUES ('ZP-T01', 'tide_level', 'Zhapu', 30.6, 121.1)")
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        mode = await readings.readings_mode(conn)
        await store_batch(conn, Processed(readings=rows), partitioned=mode == "partitioned", days_seen=set())
        want = {b: await readings.rollup_raw(conn, "ZP-T01", "tide_level", now - timedelta(hours=3),
                                             now + timedelta(seconds=1), b) for b in ("1 minute", "1 hour")}
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        for res, b in (("1m", "1 minute"), ("1h", "1 hour")):
            r = await c.get("/api/v1/stations/ZP-T01/readings", params={
                "quantity": "tide_level", "resolution": res, "from": (now - timedelta(hours=3)).isoformat(),
                "to": (now + timedelta(seconds=1)).isoformat()})
            assert r.status_code == 200, r.text
            pts = r.json()["points"]
            assert [p["n"] for p in pts] == [w.count for w in want[b]]
            assert [p["max"] for p in pts] == [w.max for w in want[b]]
            width = 60 if b == "1 minute" else 3600
            newest = datetime.fromtimestamp(now.timestamp() // width * width, UTC)
            assert datetime.fromisoformat(pts[-1]["ts"].replace("Z", "+00:00")) == newest  # the bucket of now
        with psycopg.connect(db_url) as conn:  # the API read the rollups: change them and see it
            conn.execute("UPDATE readings_1m SET max = 99 WHERE bucket = (SELECT max(bucket) FROM readings_1m)"
                         if mode == "partitioned" else "SELECT 1")
        if mode == "partitioned":
            r = await c.get("/api/v1/stations/ZP-T01/readings", params={
                "quantity": "tide_level", "resolution": "1m", "from": (now - timedelta(hours=3)).isoformat(),
                "to": (now + timedelta(seconds=1)).isoformat()})
            assert r.json()["points"][-1]["max"] == 99

from datetime import UTC, datetime, timedelta

import psycopg

from haixun.store import readings


async def test_latest_window_rollup(db_url):
    t0 = datetime(2021, 7, 26, 1, 0, tzinfo=UTC)
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO readings (station_id, quantity, ts, value, qc, received_at) VALUES (%s,%s,%s,%s,%s,now())",
                [("S1", "tide_level", t0 + timedelta(minutes=k), float(k), 4 if k == 5 else 1) for k in range(120)])
        await conn.execute("INSERT INTO latest_readings VALUES ('S1','tide_level',%s,119,1,now()),"
                           " ('S2','wind_speed',%s,3,3,now())", (t0, t0))
        assert [r.station_id for r in await readings.latest(conn)] == ["S1", "S2"]
        assert [r.quantity for r in await readings.latest(conn, quantities=["wind_speed"])] == ["wind_speed"]
        w = await readings.window(conn, "S1", "tide_level", t0, t0 + timedelta(minutes=10))
        assert [r.value for r in w] == [0, 1, 2, 3, 4, 6, 7, 8, 9]
        w = await readings.window(conn, "S1", "tide_level", t0, t0 + timedelta(minutes=10), include_failed=True)
        assert len(w) == 10 and w[5].qc == 4
        hours = await readings.rollup(conn, "S1", "tide_level", t0, t0 + timedelta(hours=2), "1 hour")
        assert [(h.bucket, h.min, h.max, h.count, h.last) for h in hours] == [
            (t0, 0, 59, 59, 59), (t0 + timedelta(hours=1), 60, 119, 60, 119)]
        assert hours[1].avg == sum(range(60, 120)) / 60
        mins = await readings.rollup(conn, "S1", "tide_level", t0, t0 + timedelta(minutes=3), "1 minute")
        assert [(m.bucket, m.count) for m in mins] == [(t0 + timedelta(minutes=k), 1) for k in range(3)]
        assert "time_bucket" in readings.ROLLUP_SQL["timescale"] and "date_bin" in readings.ROLLUP_SQL["partitioned"]

"""state_log bodies written and read by orjson (store.levels.insert_state, store.state_reads.states_after):
the same values as the json module gives, whatever the body holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg

from haixun.store import levels, state_reads

BODY = {"seq": 5, "at": "2026-12-01T00:00:00Z", "segments": {"PH01": {"level": "red", "freeboard_m": -0.125,
                                                                     "hazards": [{"detail": "潮位 4.25 m", "value": 1e-05}]}},
        "stations": {f"S{i:05d}": {"latest": {"tide_level": {"value": 2.0 + i / 1000, "qc": 1}}, "online": i % 2 == 0}
                     for i in range(2000)},
        "areas": {"city": {"counts": {"red": 3}, "population": 483_000}}, "empty": {}, "none": None}


async def test_bodies_round_trip_with_the_json_values(db_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        at = datetime(2026, 12, 1, tzinfo=UTC)
        await levels.insert_state(conn, seq=1, at=at, snapshot=True, body=BODY)
        huge = {"n": 2 ** 70, "text": "x"}  # beyond orjson's integers: the json module reads it
        await levels.insert_state(conn, seq=2, at=at, snapshot=False, body={"seq": 2, "k": 1})
        await conn.execute("INSERT INTO state_log (seq, at, kind, body) VALUES (3, %s, 'delta', %s::jsonb)",
                           (at, json.dumps(huge)))
        rows = await state_reads.states_after(conn, 0)
        stored = [r[0] for r in await (await conn.execute("SELECT body FROM state_log ORDER BY seq")).fetchall()]
    assert [r.seq for r in rows] == [1, 2, 3] and [r.kind for r in rows] == ["snapshot", "delta", "delta"]
    assert rows[0].body == json.loads(json.dumps(BODY)) == stored[0]   # psycopg's own jsonb reading agrees
    assert rows[1].body == {"seq": 2, "k": 1} == stored[1]
    assert rows[2].body == huge == stored[2]

"""The engine reads the camera events ingest stored and the operators' overrides as typed rows and
hands them to riskcode with the segments they concern (the real database, the real ingest writer)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg

from haixun.contract import CameraEvent
from haixun.data.geography import load_geography
from haixun.data.sync import sync_to_db
from haixun.engine import evaluate
from haixun.engine import inputs as inputs_mod
from haixun.ingest.pipeline import Processed
from haixun.riskcode import Level
from haixun.store.batches import store_batch
from haixun.store.rows import EventRow
from tests.support.clock import utcnow


def test_gather_hands_stored_camera_events_and_overrides_to_riskcode(db_url: str) -> None:
    now = utcnow().replace(microsecond=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        sync_to_db(conn, load_geography())
        cam, kind, watched = conn.execute(
            "SELECT id, kind, segment_ids FROM cameras WHERE cardinality(segment_ids) > 0 ORDER BY id LIMIT 1"
        ).fetchone()
        seg = conn.execute("SELECT id FROM segments ORDER BY ordinal LIMIT 1").fetchone()[0]
        conn.execute("INSERT INTO segment_overrides (segment_id, level, reason, created_by, created_at, expires_at)"
                     " VALUES (%s, 'orange', 'inspection', 'duty', %s, %s)",
                     (seg, now - timedelta(minutes=5), now + timedelta(hours=1)))
    events = [
        EventRow(CameraEvent(cam, now - timedelta(minutes=2), "person_on_seawall", 0.9, None, None, {}), now),
        EventRow(CameraEvent(cam, now - timedelta(minutes=1), "wave_overtopping", 0.75, seg, "s3://x/1.jpg",
                             {"frames": 3}), now),
        EventRow(CameraEvent(cam, now - timedelta(hours=2), "wave_overtopping", 0.8, seg, None, {}), now),  # too old
    ]

    async def run() -> inputs_mod.RawInputs:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            await store_batch(conn, Processed(events=events), partitioned=False, days_seen=set())
            return await inputs_mod.gather(conn, now)

    raw = asyncio.run(run())
    assert [r.event for r in raw.camera_events] == [e.event for e in events[:2]]
    got = evaluate.camera_events(raw)
    # without a segment of its own an event concerns every segment its camera watches
    assert [(e.camera_id, e.type, e.confidence, e.segment_ids, e.camera_kind) for e in got] == [
        (cam, "person_on_seawall", 0.9, tuple(watched), kind),
        (cam, "wave_overtopping", 0.75, (seg,), kind),
    ]
    [ov] = evaluate.overrides(raw)
    assert (ov.segment_id, ov.level, ov.reason, ov.by) == (seg, Level.ORANGE, "inspection", "duty")

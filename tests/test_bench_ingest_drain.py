"""bench.ingest_drain: readings queued for an absent ingest are all stored when it comes back, and the
drain rate is reported (no speed asserted: the machine is shared)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import bench_broker
from bench.ingest_drain import drain


def test_queued_readings_are_drained_and_measured() -> None:
    with tempfile.TemporaryDirectory(prefix="haixun-drain-broker-") as bdir, bench_broker(Path(bdir)):
        r = drain(stations=50, readings=4_000, batch=10)
    assert r["published_readings"] == r["stored"] == 4_000
    assert r["drain_readings_per_s"] > 0 and r["raw_copy_rows_per_s"] > 0

"""Ingest's own ceiling: readings queued at the broker while ingest is away, then drained (issue 18).

    python -m bench.ingest_drain [--stations 1000] [--readings 200000] [--batch 10]

Live runs (section 1) are limited by the publisher: stored ~= published. Here the publisher's rate does
not matter: ``haixun ingest`` subscribes once (its persistent session), stops, the load is published
into the broker's queue for it (a private Mosquitto with the production queue limit, started here), and
ingest starts again and drains it; the drain rate, between 10 % and 90 % of the readings stored, is
ingest's own. Raw COPY into the same database in the same run for reference. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench.common import bench_broker, scratch_database
from bench.copy_ceiling import copy_rate
from bench.sec_ingest import load_options, publish
from bench.seed import count_readings, seed_stations
from bench.services import ServiceConfig, start_ingest
from bench.sizes import IngestCase


def drain(stations: int, readings: int, batch: int, limit_s: float = 300.0) -> dict:
    from haixun.simulators.load import station_ids

    case = IngestCase(stations, batch, readings)
    options = load_options(case, 40_000.0, "DRAIN")
    root = f"bench{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix="haixun-drain-") as tmp, scratch_database() as url:
        seed_stations(url, station_ids(options))
        cfg = ServiceConfig(url, root, Path(tmp) / root)
        start_ingest(cfg).stop()  # the persistent session and its subscriptions now exist at the broker
        run = publish(root, options)  # queued for the absent ingest
        load0 = os.getloadavg()
        svc = start_ingest(cfg)
        t_start = time.monotonic()
        marks: list[tuple[float, int]] = []
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                while time.monotonic() - t_start < limit_s:
                    n = count_readings(conn)
                    marks.append((time.monotonic(), n))
                    if n >= run.readings or (len(marks) > 50 and marks[-50][1] == n):
                        break
                    time.sleep(0.1)
            svc.check_alive()
        finally:
            svc.stop()
        load1 = os.getloadavg()
        total = marks[-1][1]
        lo = next(m for m in marks if m[1] >= 0.1 * total)
        hi = next(m for m in marks if m[1] >= 0.9 * total)
        copy_rows, copy_per_s = copy_rate(url, 200_000, stations)
    if hi[0] > lo[0] and hi[1] > lo[1]:
        per_s = (hi[1] - lo[1]) / (hi[0] - lo[0])
    else:  # a small load stored between two polls: over the whole drain, start-up included
        done = next(m for m in marks if m[1] >= total)
        per_s = total / max(1e-9, done[0] - t_start)
    return {"stations": stations, "batch": batch, "published_readings": run.readings, "stored": total,
            "drain_readings_per_s": round(per_s),
            "raw_copy_rows_per_s": round(copy_per_s), "loadavg_start": load0, "loadavg_end": load1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest_drain")
    ap.add_argument("--stations", type=int, default=1000)
    ap.add_argument("--readings", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=10)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="haixun-drain-broker-") as bdir, bench_broker(Path(bdir)):
        print(json.dumps(drain(a.stations, a.readings, a.batch)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

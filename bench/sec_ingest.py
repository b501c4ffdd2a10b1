"""Section 1: ingest throughput (readings/s stored, QoS 1) next to the broker ceiling and raw COPY.

Per station count, the same load (haixun.simulators.load: N virtual stations,
buffered gateways sending ``batch`` observations of two quantities per message,
thousands of QoS 1 publishes in flight) goes once to a bare aiomqtt subscriber
(broker ceiling) and once to ``haixun ingest`` (child process) writing to a
scratch database. Stored = ``count(*)`` of readings, polled every 0.1 s.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.common import (
    REPO,
    BenchContext,
    ComponentUnavailable,
    Section,
    broker_log,
    mqtt_host_port,
    mqtt_url,
    rate,
    require,
    scratch_database,
    verdict,
)
from bench.copy_ceiling import copy_rate
from bench.seed import seed_stations, wait_stored
from bench.services import ServiceConfig, start_ingest
from bench.sizes import IngestCase

TITLE = "1. Ingest throughput (QoS 1, stored in PostgreSQL)"
TARGET_PER_S = 20_000.0
READINGS_PER_OBS = 2  # the load mode sends tide_level and wind_speed


@dataclass(frozen=True, slots=True)
class LoadRun:
    published_messages: int
    readings: int
    failed: int
    publish_s: float
    started_at: float  # wall clock


def load_options(case: IngestCase, offered_per_s: float, prefix: str):
    from haixun.simulators.load import LoadOptions

    rate_hz = offered_per_s / (READINGS_PER_OBS * case.stations)
    duration = case.readings / offered_per_s
    return LoadOptions(stations=case.stations, rate_hz=rate_hz, duration_s=duration, batch=case.batch,
                       connections=4, in_flight=2000, prefix=prefix)


def publish(root: str, options) -> LoadRun:
    from haixun.settings import Settings
    from haixun.simulators.load import run_load

    settings = Settings(mqtt_url=mqtt_url(), topic_root=root)
    t0 = time.time()
    res = asyncio.run(run_load(settings, options))
    return LoadRun(res.published_messages, res.readings, res.failed, res.elapsed_s, t0)


def broker_ceiling(case: IngestCase, offered: float, limit_s: float) -> tuple[LoadRun, dict]:
    root = f"bench{uuid.uuid4().hex[:10]}"
    options = load_options(case, offered, "SINK")
    expect = case.readings // (READINGS_PER_OBS * case.batch)
    host, port = mqtt_host_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.broker_sink", "--host", host, "--port", str(port),
                             "--root", root, "--expect", str(expect), "--limit-s", str(limit_s)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise ComponentUnavailable("the reference subscriber did not start")
        run = publish(root, options)
        out = json.loads(proc.stdout.readline() or "{}")
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
    return run, out


def ingest_run(case: IngestCase, offered: float, limit_s: float, workdir: Path) -> dict:
    from haixun.simulators.load import station_ids

    options = load_options(case, offered, "LOAD")
    root = f"bench{uuid.uuid4().hex[:10]}"
    with scratch_database() as url:
        seed_stations(url, station_ids(options))
        svc = start_ingest(ServiceConfig(url, root, workdir / root))
        try:
            run = publish(root, options)
            stored, seen_at = wait_stored(url, run.readings, limit_s, poll_s=0.1)
            svc.check_alive()
        finally:
            svc.stop()
        errors = [ln for ln in svc.log_path.read_text(errors="replace").splitlines()
                  if " ERROR " in ln or "Error:" in ln][-2:]
        with psycopg.connect(url) as conn:
            dead = int(conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
            size = int(conn.execute("SELECT pg_total_relation_size('readings') + coalesce((SELECT sum("
                                    "pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = "
                                    "'readings'::regclass), 0)").fetchone()[0])
            lag = conn.execute("SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM "
                               "stored_at - received_at)) FROM readings").fetchone()[0]
    return {"run": run, "stored": stored, "ingest_errors": errors, "broker_drops": broker_drop_lines(f"{root}-ingest"), "stored_s": seen_at - run.started_at, "dead_letters": dead,
            "bytes": size, "lag_p50_s": lag[0] if lag else None, "lag_p99_s": lag[1] if lag else None}


SHARED_MOSQUITTO_LOG = Path("/var/log/mosquitto/mosquitto.log")


def broker_drop_lines(client_id: str) -> int:
    """How often the run's Mosquitto logged dropping queued messages for ``client_id`` (0 if unreadable)."""
    try:
        text = (broker_log() or SHARED_MOSQUITTO_LOG).read_text(errors="replace")
    except OSError:
        return 0
    return sum(1 for line in text.splitlines() if "being dropped" in line and client_id in line)


def run(ctx: BenchContext) -> Section:
    require("haixun.ingest.service", "ingest (IngestService)")
    require("haixun.simulators.load", "simulators load mode")
    sizes = ctx.sizes
    sec = Section("ingest", TITLE, ["stations", "msg batch", "readings", "published/s (offered)",
                                    "broker ceiling readings/s", "ingest stored readings/s", "stored = published",
                                    "dead letters", "received->stored p50/p99 ms", "target >= 20k/s"])
    plot_rows = []
    with tempfile.TemporaryDirectory(prefix="haixun-bench-") as tmp:
        for case in sizes.ingest_cases:
            ref, sink = broker_ceiling(case, sizes.ingest_offered_per_s, sizes.time_limit_s)
            sink_readings = sink.get("messages", 0) * READINGS_PER_OBS * case.batch
            sink_rate = sink_readings / max(1e-9, sink.get("last_at", 0) - ref.started_at)
            r = ingest_run(case, sizes.ingest_offered_per_s, sizes.time_limit_s, Path(tmp))
            pub = r["run"]
            stored_rate = r["stored"] / max(1e-9, r["stored_s"])
            lossless = r["stored"] == pub.readings == case.readings and pub.failed == 0
            lag = (f"{r['lag_p50_s'] * 1000:.0f} / {r['lag_p99_s'] * 1000:.0f}"
                   if r["lag_p50_s"] is not None else "-")
            sec.rows.append([f"{case.stations:,}", str(case.batch), f"{case.readings:,}",
                             rate(pub.readings / max(1e-9, pub.publish_s)), rate(sink_rate), rate(stored_rate),
                             f"{'yes' if lossless else '**NO**'} ({r['stored']:,} / {pub.readings:,})",
                             str(r["dead_letters"]), lag, verdict(stored_rate >= TARGET_PER_S)])
            sec.raw[f"stations_{case.stations}"] = {
                "published_readings": pub.readings, "publish_failed": pub.failed, "publish_s": pub.publish_s,
                "sink_messages": sink.get("messages"), "sink_readings_per_s": sink_rate,
                "stored": r["stored"], "stored_s": r["stored_s"], "stored_per_s": stored_rate,
                "dead_letters": r["dead_letters"], "readings_bytes": r["bytes"], "broker_drops": r["broker_drops"]}
            if not lossless:
                lost = f"**Loss at {case.stations:,} stations**: {pub.readings - r['stored']:,} readings published " \
                       "(acknowledged by the broker) were not stored"
                if r["broker_drops"]:
                    sec.notes.append(
                        f"{lost}; Mosquitto logged 'Outgoing messages are being dropped' for the ingest client "
                        f"({r['broker_drops']}x). The local broker runs with Mosquitto's default "
                        "`max_queued_messages 1000`: with ingest's Receive Maximum of 1000 unacknowledged messages, "
                        "a burst of more than ~2,000 messages is cut by the broker, not by ingest. "
                        "docker/mosquitto.conf (production) sets `max_queued_messages 200000`, and so does the private "
                        "broker the bench starts unless HAIXUN_BENCH_MQTT_HOST/PORT name another one.")
                else:
                    tail = " / ".join(f"`{ln[-200:]}`" for ln in r["ingest_errors"]) or "no error logged"
                    sec.notes.append(f"{lost}; no broker drop logged; ingest log: {tail}.")
            plot_rows.append((case.stations, sink_rate, stored_rate))
    with scratch_database() as url:
        _, copy_per_s = copy_rate(url, sizes.copy_rows, stations=1000)
    sec.raw["copy_rows_per_s"] = copy_per_s
    sec.notes.append(f"Raw COPY into `readings` in the same run: **{rate(copy_per_s)} rows/s** "
                     f"({sizes.copy_rows:,} rows, one COPY, no QC, no upsert of latest_readings).")
    sec.notes.append("Offered load: the publisher (one Python process, 4 connections, up to 2,000 QoS 1 publishes "
                     f"in flight) is asked for {rate(sizes.ingest_offered_per_s)} readings/s; 'published/s' is what it "
                     "achieved. When broker ceiling ~ stored rate ~ published rate, the publisher is the limit, "
                     "not ingest.")
    sec.notes.append("Stored rate = readings stored / (time the last one was seen stored - first publish); "
                     "the count is polled every 0.1 s. Publisher, broker, ingest and PostgreSQL share the 2 cores.")
    _plot(ctx, sec, plot_rows, copy_per_s)
    return sec


def _plot(ctx: BenchContext, sec: Section, rows: list[tuple[int, float, float]], copy_per_s: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if not rows:
        return
    path, link = ctx.plot_path("ingest_throughput.png")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r[1] for r in rows], 0.4, label="broker ceiling (bare subscriber)")
    ax.bar(x + 0.2, [r[2] for r in rows], 0.4, label="ingest: stored")
    ax.axhline(copy_per_s, color="grey", linestyle="--", label="raw COPY")
    ax.axhline(TARGET_PER_S, color="red", linestyle=":", label="target 20k/s")
    ax.set_xticks(x, [f"{r[0]:,} stations" for r in rows])
    ax.set_ylabel("readings/s")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Ingest throughput (QoS 1)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    sec.plots.append(link)

"""Section 2: end-to-end latency sensor publish -> stored -> decided -> pushed -> websocket client.

Ingest, engine and API run as child processes on a scratch database; one
/ws/live client (bench/ws_clients.py, another child) records every delta. Each
delta carries ``body.latency`` (sensor_ts, received_at, stored_at, decided_at
of the newest input of that engine cycle, docs/state.md) and ``pushed_at``;
the client adds its receive time. The publisher stamps ``ts`` at publish time.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import psycopg

from bench.common import (
    LATENCY_HEADERS,
    BenchContext,
    Section,
    latency_row,
    mqtt_url,
    pct,
    require,
    scratch_database,
    verdict,
)
from bench.fanout_support import start_clients_proc, stop_clients_proc
from bench.sec_lookup import wait_state_row
from bench.seed import load_geography, seed_stations
from bench.services import ServiceConfig, free_port, start_api, start_engine, start_ingest

TITLE = "2. End-to-end latency (publish -> stored -> decided -> pushed -> client)"
TARGET_P99_S = 1.0
STAGES = (("publish -> received (broker, ingest read)", "sensor_ts", "received_at"),
          ("received -> stored (QC, COPY, commit)", "received_at", "stored_at"),
          ("stored -> decided (NOTIFY, debounce, engine cycle)", "stored_at", "decided_at"),
          ("decided -> pushed (state_log, NOTIFY, API)", "decided_at", "pushed_at"),
          ("pushed -> client received", "pushed_at", "client_at"))


def _ts(s: str | None) -> float | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def samples_from(result: dict, since: float) -> list[dict[str, float]]:
    out = []
    for seq, meta in result["meta"].items():
        lat = meta.get("latency") or {}
        row = {k: _ts(lat.get(k)) for k in ("sensor_ts", "received_at", "stored_at", "decided_at")}
        row["pushed_at"] = _ts(meta.get("pushed_at"))
        times = result["seq"].get(seq) or []
        row["client_at"] = min(times) if times else None
        if all(v is not None for v in row.values()) and row["sensor_ts"] >= since:
            out.append(row)  # type: ignore[arg-type]
    return out


def publish_phases(root: str, ids: list[str], normal_s: float, period_s: float, storm_rounds: int):
    from bench.paced_publisher import PacedPublisher
    from haixun.settings import Settings

    settings = Settings(mqtt_url=mqtt_url(), topic_root=root)

    async def go():
        async with PacedPublisher(settings, ids) as pub:
            normal = await pub.normal(normal_s, period_s)
            await asyncio.sleep(2.0)
            storm = await pub.storm(storm_rounds)
            await asyncio.sleep(1.0)
            tail = await pub.normal(min(normal_s, 5.0), period_s)
            return [normal, storm, tail]

    return asyncio.run(go())


def reading_lags(url: str, t0: float, t1: float) -> dict[str, list[float]]:
    """Per-reading received-ts and stored-received percentiles for sensor ts in [t0, t1)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)),"
            " percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - received_at)),"
            " count(*) FROM readings WHERE ts >= to_timestamp(%s) AND ts < to_timestamp(%s)", (t0, t1)).fetchone()
    return {"received": row[0] or [], "stored": row[1] or [], "n": row[2]}


def run(ctx: BenchContext) -> Section:
    for module, name in (("haixun.ingest.service", "ingest"), ("haixun.engine.service", "engine"),
                         ("haixun.api.app", "api")):
        require(module, name)
    sizes = ctx.sizes
    sec = Section("latency", TITLE, ["stations", "phase"] + LATENCY_HEADERS)
    plot: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="haixun-bench-") as tmp:
        for n in sizes.latency_stations:
            ids = [f"LAT-{i:05d}" for i in range(n)]
            root = f"bench{uuid.uuid4().hex[:10]}"
            with scratch_database() as url:
                load_geography(url)
                seed_stations(url, ids)
                cfg = ServiceConfig(url, root, Path(tmp) / root)
                services = []
                try:
                    services.append(start_ingest(cfg))
                    services.append(start_engine(cfg))
                    wait_state_row(url, 60)
                    port = free_port()
                    services.append(start_api(cfg, port))
                    clients = start_clients_proc(f"ws://127.0.0.1:{port}/ws/live", 1, 10**6,
                                                 sizes.latency_normal_s * 3 + sizes.time_limit_s)
                    phases = publish_phases(root, ids, sizes.latency_normal_s, sizes.latency_normal_period_s,
                                            sizes.latency_storm_rounds)
                    time.sleep(3.0)
                    result = stop_clients_proc(clients)
                    for s in services:
                        s.check_alive()
                    lags = {p.name + str(i): reading_lags(url, p.started_at - 0.01, p.ended_at + 0.001) for i, p in
                            enumerate(phases)}
                finally:
                    for s in reversed(services):
                        s.stop()
            samples = samples_from(result, phases[0].started_at)
            for i, phase in enumerate(phases):
                label = ("normal" if phase.name == "normal" and i == 0 else
                         "after storm" if phase.name == "normal" else
                         f"storm ({sizes.latency_storm_rounds} x {n:,} msgs back to back)")
                end = phases[i + 1].started_at if i + 1 < len(phases) else float("inf")
                mine = [s for s in samples if phase.started_at <= s["sensor_ts"] < end]
                for stage, a, b in STAGES:
                    sec.rows.append([f"{n:,}", label] + latency_row(stage, [s[b] - s[a] for s in mine]))
                total = [s["client_at"] - s["sensor_ts"] for s in mine]
                sec.rows.append([f"{n:,}", label] + latency_row("**total publish -> client**", total)
                                + [])
                plot[f"{n:,} stations, {label}"] = total
                sec.raw[f"stations_{n}_{phase.name}{i}"] = {
                    "published": phase.published, "failed": phase.failed,
                    "seconds": phase.ended_at - phase.started_at, "samples": len(mine),
                    "total_p99_s": pct(total, 99), "per_reading_lags": lags[phase.name + str(i)]}
                sec.notes.append(
                    f"{n:,} stations, {label}: {phase.published:,} messages in {phase.ended_at - phase.started_at:.1f} s;"
                    f" total p99 {pct(total, 99) * 1000:.0f} ms -> {verdict(bool(total) and pct(total, 99) <= TARGET_P99_S)}"
                    " (target p99 <= 1 s). Per reading (all readings of the phase, from the database): "
                    + _lag_text(lags[phase.name + str(i)]))
    sec.headers = ["stations", "phase"] + LATENCY_HEADERS
    sec.notes.append("One sample per engine cycle: the newest reading that cycle saw (docs/state.md `latency`), so "
                     "older readings of the same batch wait longer than the sample shows; the per-reading database "
                     "figures cover every reading for the first two stages.")
    sec.notes.append(f"Normal rate: every station once per {sizes.latency_normal_period_s:.0f} s, spread evenly.")
    _plot(ctx, sec, plot)
    return sec


def _lag_text(lag: dict) -> str:
    if not lag.get("n"):
        return "no readings."
    r, s = lag["received"], lag["stored"]
    return (f"{lag['n']:,} readings, publish->received p50/p99 {r[0] * 1000:.0f}/{r[2] * 1000:.0f} ms, "
            f"received->stored p50/p99 {s[0] * 1000:.0f}/{s[2] * 1000:.0f} ms.")


def _plot(ctx: BenchContext, sec: Section, data: dict[str, list[float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if not any(data.values()):
        return
    path, link = ctx.plot_path("e2e_latency.png")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for label, v in data.items():
        if v:
            x = np.sort(np.asarray(v) * 1000)
            ax.plot(x, np.arange(1, len(x) + 1) / len(x), label=label)
    ax.axvline(TARGET_P99_S * 1000, color="red", linestyle=":", label="target p99 1 s")
    ax.set_xlabel("sensor publish -> websocket client (ms)")
    ax.set_ylabel("fraction of engine cycles")
    ax.set_xscale("log")
    ax.legend(fontsize=7)
    ax.set_title("End-to-end latency (CDF)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    sec.plots.append(link)

"""Section 4: websocket fan-out: state change (state_log insert + NOTIFY) -> every /ws/live client.

``haixun api`` (child process) on a scratch database; N clients in another
child process (bench/ws_clients.py). The benchmark itself plays the engine:
each change is one ``state_log`` delta row plus ``NOTIFY haixun_state`` in one
transaction; the clock starts just before that transaction. Latency per
client = its receive time - that start (same machine clock).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from bench.common import REPO, BenchContext, ComponentUnavailable, Section, ms, pct, require, scratch_database, verdict
from bench.seed import load_geography
from bench.services import ServiceConfig, free_port, start_api

TITLE = "4. Websocket fan-out /ws/live"
TARGET_P99_S = 0.500
GAP_S = 1.0  # between state changes
CLIENT_PROCESSES = 4  # the clients' own receive loops in parallel, none in the server's process


def state_change(conn: psycopg.Connection, i: int) -> tuple[int, float]:
    """One engine-like delta: returns (seq, wall-clock start)."""
    t0 = time.time()
    with conn.transaction():
        seq = int(conn.execute("SELECT nextval(pg_get_serial_sequence('state_log', 'seq'))").fetchone()[0])
        at = datetime.now(UTC)
        level = ("blue", "yellow", "orange", "red")[i % 4]
        body = {"seq": seq, "at": at.isoformat().replace("+00:00", "Z"), "config_version": "bench",
                "segments": {"PH07": {"level": level, "raw_level": level, "since": at.isoformat(), "hazards": []}},
                "areas": {}, "stations": {}, "latency": {"decided_at": at.isoformat().replace("+00:00", "Z")}}
        conn.execute("INSERT INTO state_log (seq, at, kind, body) VALUES (%s, %s, 'delta', %s)", (seq, at, Jsonb(body)))
        conn.execute("SELECT pg_notify('haixun_state', %s)", (str(seq),))
    return seq, t0


def start_clients(url: str, n: int, deltas: int, limit_s: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.ws_clients", "--url", url, "--clients", str(n),
                             "--deltas", str(deltas), "--limit-s", str(limit_s)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def wait_ready(proc: subprocess.Popen, n: int, timeout_s: float) -> float:
    """Seconds until the clients printed ``ready`` (ComponentUnavailable with their reason otherwise)."""
    import selectors

    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout_s):
        raise ComponentUnavailable(f"{n} websocket clients did not all connect within {timeout_s:.0f} s")
    line = proc.stdout.readline().strip()
    if not line.startswith("ready"):
        raise ComponentUnavailable(f"websocket clients failed: {line[:300]}")
    return time.monotonic() - t0


def client_split(n: int, procs: int = CLIENT_PROCESSES) -> list[int]:
    """``n`` clients over ``procs`` processes (as even as it goes; none empty)."""
    procs = max(1, min(procs, n))
    return [n // procs + (1 if i < n % procs else 0) for i in range(procs)]


def measure(url: str, base_ws: str, n: int, changes: int, limit_s: float) -> dict:
    t_start = time.monotonic()
    procs = [start_clients(f"{base_ws}/ws/live", k, changes, limit_s) for k in client_split(n)]
    try:
        for proc, k in zip(procs, client_split(n), strict=True):
            wait_ready(proc, k, max(1.0, limit_s - (time.monotonic() - t_start)))
        connect_s = time.monotonic() - t_start
        starts: dict[int, float] = {}
        with psycopg.connect(url, autocommit=True) as conn:
            time.sleep(0.5)
            for i in range(changes):
                seq, t0 = state_change(conn, i)
                starts[seq] = t0
                time.sleep(GAP_S)
        # read to EOF without closing stdin (closing it tells the clients to stop early)
        results = []
        for proc in procs:
            assert proc.stdout is not None
            out = proc.stdout.read()
            proc.wait(30)
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
    result: dict = {"seq": {}, "errors": sum(r.get("errors", 0) for r in results)}
    for r in results:
        for seq, times in r["seq"].items():
            result["seq"].setdefault(seq, []).extend(times)
    per_client: list[float] = []
    last: list[float] = []
    received = 0
    for seq, t0 in starts.items():
        times = result["seq"].get(str(seq), [])
        received += len(times)
        per_client += [t - t0 for t in times]
        if times:
            last.append(max(times) - t0)
    return {"connect_s": connect_s, "per_client": per_client, "last": last, "received": received,
            "expected": n * changes, "errors": result.get("errors", 0)}


def run(ctx: BenchContext) -> Section:
    require("haixun.api.app", "api (FastAPI app, /ws/live)")
    sizes = ctx.sizes
    sec = Section("fanout", TITLE, ["clients", "changes", "delivered", "connect all s", "p50 ms", "p99 ms",
                                    "last client p50 ms", "last client max ms", "target p99 <= 500 ms"])
    plot: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="haixun-bench-") as tmp:
        for n in sizes.fanout_clients:
            with scratch_database() as url:
                load_geography(url)
                cfg = ServiceConfig(url, f"bench{uuid.uuid4().hex[:10]}", Path(tmp) / f"svc{n}")
                port = free_port()
                # every client comes from 127.0.0.1: the per-address cap (32 by default) would refuse them
                api = start_api(cfg, port, HAIXUN_WS_MAX_PER_ADDRESS=str(n + 100), HAIXUN_WS_MAX_CLIENTS=str(n + 100))
                try:
                    r = measure(url, f"ws://127.0.0.1:{port}", n, sizes.fanout_changes, sizes.time_limit_s + n / 20)
                    api.check_alive()
                finally:
                    api.stop()
            p99 = pct(r["per_client"], 99)
            sec.rows.append([f"{n:,}", str(sizes.fanout_changes), f"{r['received']:,} / {r['expected']:,}",
                             f"{r['connect_s']:.1f}", ms(pct(r["per_client"], 50)), ms(p99),
                             ms(pct(r["last"], 50)), ms(max(r["last"]) if r["last"] else float("nan")),
                             verdict(p99 <= TARGET_P99_S and r["received"] == r["expected"])])
            sec.raw[f"clients_{n}"] = {k: v for k, v in r.items() if k != "per_client"}
            plot[n] = r["per_client"]
    sec.notes.append("Change = one `state_log` delta row + `NOTIFY haixun_state` committed by the benchmark (as the "
                     f"engine does), one every {GAP_S:.0f} s; latency = client receive time - start of that "
                     f"transaction. Clients: {CLIENT_PROCESSES} asyncio `websockets` processes (none in the "
                     "server's), sharing the 2 cores with it; the API's connection caps (HAIXUN_WS_MAX_CLIENTS, "
                     "HAIXUN_WS_MAX_PER_ADDRESS) raised to the client count, all clients being on 127.0.0.1.")
    _plot(ctx, sec, plot)
    return sec


def _plot(ctx: BenchContext, sec: Section, data: dict[int, list[float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if not any(data.values()):
        return
    path, link = ctx.plot_path("ws_fanout.png")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for n, v in data.items():
        if v:
            x = np.sort(np.asarray(v) * 1000)
            ax.plot(x, np.arange(1, len(x) + 1) / len(x), label=f"{n:,} clients")
    ax.axvline(TARGET_P99_S * 1000, color="red", linestyle=":", label="target p99 500 ms")
    ax.set_xlabel("state change -> client received (ms)")
    ax.set_ylabel("fraction of deliveries")
    ax.legend(fontsize=8)
    ax.set_title("/ws/live fan-out latency (CDF)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    sec.plots.append(link)

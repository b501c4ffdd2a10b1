"""Section 7: profile of the stages furthest from their targets (pyinstrument, in the service process).

The API (under the uncached lookup load) and ingest (under the 1k-station
throughput load) run under bench/profiled.py; the report lists the functions
with the most self time, and the reading of it.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import BenchContext, Section, require, scratch_database
from bench.sec_ingest import load_options, publish
from bench.sec_lookup import http_load, served_points, wait_state_row
from bench.seed import load_geography, seed_stations, wait_stored
from bench.services import ServiceConfig, free_port, start_api, start_engine, start_ingest

TITLE = "7. Profiles (pyinstrument) of the stages furthest from target"
WANTS_RESULTS = True
SHOW = 12


def profile_api(ctx: BenchContext, tmp: Path) -> dict:
    out = tmp / "api-profile.txt"
    with scratch_database() as url:
        load_geography(url)
        cfg = ServiceConfig(url, f"bench{uuid.uuid4().hex[:10]}", tmp / "api-svc")
        engine = start_engine(cfg)
        try:
            wait_state_row(url, 60)
            port = free_port()
            api = start_api(cfg, port, profile_to=out)
            try:
                res = http_load(f"http://127.0.0.1:{port}", served_points(ctx.sizes.lookup_requests, seed=11),
                                ctx.sizes.lookup_requests, ctx.sizes.lookup_concurrency, tmp, ctx.sizes.time_limit_s)
            finally:
                api.stop()
        finally:
            engine.stop()
    summary = json.loads(out.with_suffix(".json").read_text())
    summary["what"] = f"haixun api under {len(res['latencies_s']):,} uncached GET /api/v1/risk"
    summary["rps"] = len(res["latencies_s"]) / res["elapsed_s"]
    text = out.read_text(encoding="utf-8")
    n = max(1, len(res["latencies_s"]))
    summary["per_request_ms"] = {f: 1000 * tree_seconds(text, f) / n for f in
                                 ("get_risk", "assess_location", "SeawallIndex.signed_distances",
                                  "BaseHTTPMiddleware.__call__")}
    return summary


def per_request_note(per_request_ms: dict[str, float]) -> str:
    """What the API profile says per request; only statements the numbers support."""
    parts = ", ".join(f"`{f}` {v:.2f} ms" for f, v in per_request_ms.items())
    note = f"api, per request (profiled, from the call tree): {parts}."
    if per_request_ms.get("BaseHTTPMiddleware.__call__", 0.0) == 0.0:
        note += " starlette's BaseHTTPMiddleware is not in the call tree (request metrics are a pure ASGI middleware)."
    loc = per_request_ms.get("assess_location", 0.0)
    total = per_request_ms.get("get_risk", 0.0)
    if total > 0:
        note += (f" The location computation (`assess_location`) is {100 * loc / total:.0f}% of `get_risk`;"
                 " the top self-time entries below show where the rest goes.")
    note += " What was changed after profiling, with before/after numbers: [performance-changes.md](performance-changes.md)."
    return note


def profile_ingest(ctx: BenchContext, tmp: Path) -> dict:
    from haixun.simulators.load import station_ids

    out = tmp / "ingest-profile.txt"
    case = ctx.sizes.ingest_cases[1] if len(ctx.sizes.ingest_cases) > 1 else ctx.sizes.ingest_cases[0]
    options = load_options(case, ctx.sizes.ingest_offered_per_s, "PROF")
    root = f"bench{uuid.uuid4().hex[:10]}"
    with scratch_database() as url:
        seed_stations(url, station_ids(options))
        svc = start_ingest(ServiceConfig(url, root, tmp / root), profile_to=out)
        try:
            run = publish(root, options)
            stored, seen_at = wait_stored(url, run.readings, ctx.sizes.time_limit_s, poll_s=0.1)
        finally:
            svc.stop()
    summary = json.loads(out.with_suffix(".json").read_text())
    summary["what"] = f"haixun ingest storing {stored:,} readings from {case.stations:,} stations"
    summary["rps"] = stored / max(1e-9, seen_at - run.started_at)
    return summary


def qc_cost(stations: int = 1000, per_station: int = 10) -> tuple[float, float, int]:
    """Seconds per reading of ingest's QC (QcEngine.evaluate) on a first and a steady-state batch, in-process."""
    from datetime import UTC, datetime, timedelta

    from haixun.ingest.qc import QcEngine, QcInput, load_qc_config

    engine = QcEngine(load_qc_config().with_max_age(0))
    now = datetime.now(UTC)

    def batch(r: int) -> list:
        items = []
        for s in range(stations):
            for k in range(per_station):
                ts = now + timedelta(seconds=r * 10 + k * 0.05)
                items.append(QcInput(f"S{s}", "tide_level", ts, 2.0 + 0.001 * ((s + k) % 1000), now))
                items.append(QcInput(f"S{s}", "wind_speed", ts, 5.0 + 0.01 * ((s + k) % 500), now))
        return items

    out = []
    for r in range(2):
        b = batch(r)
        t0 = time.perf_counter()
        engine.commit(engine.evaluate(b))
        out.append((time.perf_counter() - t0) / len(b))
    return out[0], out[1], len(b)


def tree_seconds(text: str, function: str) -> float:
    """Total seconds of the first ``function`` node in a pyinstrument text tree (0 if absent)."""
    import re

    m = re.search(r"([0-9]+\.[0-9]+) " + re.escape(function) + r"\b", text)
    return float(m.group(1)) if m else 0.0


def _block(summary: dict) -> str:
    total = summary["total_s"] or 1.0
    busy = max(1e-9, total - summary.get("idle_s", 0.0))
    lines = [f"{s:7.2f} s {100 * s / busy:5.1f}% of busy  {name}" for name, s in summary["top_self"][:SHOW]]
    head = (f"{summary['what']}: {total:.1f} s sampled, {summary.get('idle_s', 0.0):.1f} s idle in the event loop; "
            "top self time")
    return "```\n" + head + "\n" + "\n".join(lines) + "\n```"


def run(ctx: BenchContext, done: dict) -> Section:
    require("pyinstrument", "pyinstrument")
    require("haixun.api.app", "api")
    require("haixun.ingest.service", "ingest")
    sec = Section("profile", TITLE, [])
    with tempfile.TemporaryDirectory(prefix="haixun-bench-") as tmp:
        for name, fn in (("api", profile_api), ("ingest", profile_ingest)):
            t0 = time.monotonic()
            summary = fn(ctx, Path(tmp))
            sec.raw[name] = {"rps": summary["rps"], "top_self": summary["top_self"][:SHOW],
                             "seconds": time.monotonic() - t0}
            sec.notes.append(f"{name}: {summary['what']} at {summary['rps']:,.0f}/s while profiled "
                             "(the profiler slows it down).")
            sec.blocks.append(_block(summary))
            if "per_request_ms" in summary:
                sec.raw[name]["per_request_ms"] = summary["per_request_ms"]
                sec.notes.append(per_request_note(summary["per_request_ms"]))
            text_path, link = ctx.plot_path(f"profile-{name}.txt")
            text_path.write_text((Path(tmp) / f"{name}-profile.txt").read_text(encoding="utf-8"), encoding="utf-8")
            sec.notes.append(f"Full call tree of {name}: [{link}]({link}).")
    try:
        first, steady, n = qc_cost()
    except Exception as exc:  # the QC module is another engineer's, possibly mid-change
        sec.notes.append(f"Direct QC cost check not measured: QcEngine.evaluate raised `{type(exc).__name__}: {exc}`.")
    else:
        sec.raw["qc_s_per_reading"] = {"first": first, "steady": steady}
        sec.notes.append(f"Direct check of ingest's QC (QcEngine.evaluate, in this process, batch of {n:,} readings): "
                         f"{first * 1e6:.0f} us/reading on a first batch, {steady * 1e6:.0f} us/reading once history "
                         f"exists, i.e. a single-core ceiling of ~{1 / steady:,.0f} readings/s for QC alone.")
    sec.notes.append("Self time = time in the function itself, summed over the call tree of the main thread "
                     "(where the event loop runs); 'select'/'poll' self time is the loop waiting, i.e. idle.")
    return sec

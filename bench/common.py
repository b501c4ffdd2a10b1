"""Shared pieces of the benchmarks: machine facts, scratch databases, stats, report."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

from bench.sizes import Sizes
from haixun.store.migrate import migrate

PG_SERVER = os.environ.get("HAIXUN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def mqtt_host_port() -> tuple[str, int]:
    """The broker of this run (set by ``bench_broker``, or given with HAIXUN_BENCH_MQTT_HOST/PORT)."""
    return os.environ.get("HAIXUN_BENCH_MQTT_HOST", "127.0.0.1"), int(os.environ.get("HAIXUN_BENCH_MQTT_PORT", "1883"))


def mqtt_url() -> str:
    host, port = mqtt_host_port()
    return f"mqtt://{host}:{port}"


def broker_log() -> Path | None:
    """The log of the run's private broker (for 'messages are being dropped' lines), if known."""
    path = os.environ.get("HAIXUN_BENCH_MQTT_LOG")
    return Path(path) if path else None


@contextmanager
def bench_broker(work_dir: Path) -> Iterator[str]:
    """A private Mosquitto with the production queue settings, unless HAIXUN_BENCH_MQTT_PORT names a broker.

    The machine's shared Mosquitto keeps the default ``max_queued_messages
    1000`` and silently drops QoS 1 messages queued beyond it for a
    subscriber that falls behind; a benchmark against it measures that
    setting, not haixun. docker/mosquitto.conf and the demo's embedded broker
    (reused here) set 200000. Yields a description for the report.
    """
    if "HAIXUN_BENCH_MQTT_PORT" in os.environ:
        host, port = mqtt_host_port()
        yield f"external, {host}:{port} (HAIXUN_BENCH_MQTT_HOST/PORT)"
        return
    from haixun.demo.embedded_broker import EmbeddedBroker

    broker = EmbeddedBroker(work_dir, backend="mosquitto")
    url = broker.start()
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    saved = {k: os.environ.get(k) for k in ("HAIXUN_BENCH_MQTT_HOST", "HAIXUN_BENCH_MQTT_PORT", "HAIXUN_BENCH_MQTT_LOG")}
    os.environ.update(HAIXUN_BENCH_MQTT_HOST=host, HAIXUN_BENCH_MQTT_PORT=port,
                      HAIXUN_BENCH_MQTT_LOG=str(Path(work_dir) / "mosquitto.log"))
    try:
        yield f"private mosquitto on {host}:{port} started by the bench (max_queued_messages 200000, as in production)"
    finally:
        broker.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Section:
    """One benchmark's results: a title, a markdown table, notes and plots."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)  # paths relative to docs/
    raw: dict = field(default_factory=dict)
    blocks: list[str] = field(default_factory=list)  # extra markdown (e.g. code blocks) after the notes

    def markdown(self) -> str:
        out = [f"## {self.title}", ""]
        if self.rows:
            out.append("| " + " | ".join(self.headers) + " |")
            out.append("|" + "---|" * len(self.headers))
            out += ["| " + " | ".join(r) + " |" for r in self.rows]
            out.append("")
        out += [f"- {n}" for n in self.notes]
        if self.notes:
            out.append("")
        for b in self.blocks:
            out += [b, ""]
        out += [f"![{self.key}]({p})" for p in self.plots]
        if self.plots:
            out.append("")
        return "\n".join(out)


def machine_facts() -> dict[str, str]:
    def run(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "n/a"

    cpu = "n/a"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = "n/a"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem_gib = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    with psycopg.connect(f"{PG_SERVER}/postgres") as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": socket.gethostname(),
        "cpu": f"{cpu} x {os.cpu_count()} cores",
        "memory": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg,
        "mosquitto": run(["mosquitto", "-h"]).splitlines()[0] if run(["mosquitto", "-h"]) else "n/a",
        "commit": run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]) or "n/a",
    }


@contextmanager
def scratch_database(prefix: str = "haixun_bench") -> Iterator[str]:
    """A freshly migrated database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:6]}"
    url = f"{PG_SERVER}/{name}"
    migrate(url)
    try:
        yield url
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def rate(x: float) -> str:
    return f"{x:,.0f}"


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.elapsed = time.perf_counter() - self.t0


def write_report(path: Path, facts: dict[str, str], sections: list[Section], preface: str) -> None:
    lines = ["# Performance", "", preface, "", "## Machine and run", ""]
    lines += [f"- **{k}**: {v}" for k, v in facts.items()]
    lines.append("")
    for s in sections:
        lines.append(s.markdown())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class ComponentUnavailable(RuntimeError):
    """A section cannot run because a component it measures has not landed (or does not start)."""


def unavailable(key: str, title: str, reason: str) -> Section:
    """The report entry of a section that could not be measured: the reason, no numbers."""
    return Section(key, title, [], notes=[f"**Not measured**: {reason}"], raw={"unavailable": reason})


def require(module: str, component: str) -> None:
    """Import ``module`` or raise ComponentUnavailable naming ``component``."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ComponentUnavailable(f"component {component} not available ({module}: {exc})") from exc


def latency_row(label: str, values: Sequence[float]) -> list[str]:
    """``[label, n, p50, p95, p99, max]`` in ms from values in seconds."""
    if not len(values):
        return [label, "0", "-", "-", "-", "-"]
    return [label, str(len(values)), ms(pct(values, 50)), ms(pct(values, 95)), ms(pct(values, 99)),
            ms(max(values))]


LATENCY_HEADERS = ["stage", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms"]


def verdict(ok: bool) -> str:
    return "meets" if ok else "**misses**"


@dataclass(frozen=True, slots=True)
class BenchContext:
    """What every section gets: problem sizes and where its plots go."""

    sizes: Sizes
    img_dir: Path        # where PNG plots are written
    img_prefix: str      # how the report links them (relative to the report)

    def plot_path(self, name: str) -> tuple[Path, str]:
        """(file to write, link for Section.plots)."""
        return self.img_dir / name, f"{self.img_prefix}/{name}"

"""``haixun demo`` run for real as a subprocess (embedded and real services)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.demo import ROOT, demo_env, private_state_dir, processes_of, read_until
from tests.support.mqtt import MQTT_URL
from tests.support.net import free_port


def run_demo(state_dir: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "haixun.cli", "--log-level", "WARNING", "demo", *args],
                          env=demo_env(state_dir, **env), capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture
def state_dir() -> Iterator[Path]:
    with private_state_dir() as path:
        yield path


def test_embedded_demo_runs_stops_and_reuses_its_data(state_dir: Path) -> None:
    port = str(free_port())
    # (--backfill-days 0: the life cycle without the 30-day history; test_demo_check.py runs it)
    first = run_demo(state_dir, "--embedded", "--duration", "2", "--progress-every", "1", "--port", port,
                     "--backfill-days", "0")
    out = first.stdout
    assert first.returncode == 0, out + first.stderr
    assert "database: embedded PostgreSQL" in out and "initialised" in out
    assert "broker: embedded" in out
    assert "migrated (readings: partitioned, retention off)" in out
    assert "| worst" in out or "no risk codes yet" in out  # at least one progress line
    assert "stopped everything" in out
    assert processes_of(state_dir) == []
    assert not (state_dir / "pg" / "data" / "postmaster.pid").exists(), out + first.stderr
    assert (state_dir / "demo-logs").is_dir()

    second = run_demo(state_dir, "--embedded", "--duration", "1", "--port", port, "--backfill-days", "0")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "reused" in second.stdout and "initialised" not in second.stdout

    fresh = run_demo(state_dir, "--embedded", "--fresh", "--duration", "1", "--port", port, "--backfill-days", "0")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "initialised" in fresh.stdout
    assert processes_of(state_dir) == []


def test_sigint_stops_children_then_broker_then_database(state_dir: Path) -> None:
    port = str(free_port())
    proc = subprocess.Popen([sys.executable, "-m", "haixun.cli", "--log-level", "INFO", "demo", "--embedded",
                             "--progress-every", "1", "--port", port, "--backfill-days", "0"],
                            env=demo_env(state_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    lines: list[str] = []
    try:
        # the monitor loop runs: everything has started
        lines = read_until(proc, lambda line: " readings/s " in line, timeout=90)
        started = processes_of(state_dir)
        assert len(started) >= 3, "".join(lines)  # at least postgres, the broker and one component
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        lines.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines)
    assert proc.returncode == 130, out
    assert "SIGINT: stopping" in out
    assert processes_of(state_dir) == []
    # Order: components, then the broker, then the database.
    import re

    broker_at = re.search(r"embedded MQTT broker \((mosquitto|amqtt)\) stopped", out)
    assert broker_at is not None, out
    db_at = out.index("embedded PostgreSQL stopped")
    stopped_components = [out.index(f"stopped {name} (") for name in ("ingest", "engine", "api", "simulator")
                          if f"stopped {name} (" in out]
    assert stopped_components, out
    assert all(at < broker_at.start() for at in stopped_components)
    assert broker_at.start() < db_at


def test_real_services_are_used_when_given(state_dir: Path, db_url: str, mqtt_endpoint: object) -> None:
    result = run_demo(state_dir, "--duration", "1", "--port", str(free_port()), "--backfill-days", "0",
                      HAIXUN_DATABASE_URL=db_url, HAIXUN_MQTT_URL=MQTT_URL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"database: PostgreSQL at {db_url.rsplit('@', 1)[-1]}" in result.stdout
    assert "broker: MQTT 5 at" in result.stdout
    assert "embedded" not in result.stdout
    assert not (state_dir / "pg").exists()


def test_unreachable_database_url_is_a_clear_error(state_dir: Path) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/haixun"
    result = run_demo(state_dir, "--duration", "1", "--port", str(free_port()), HAIXUN_DATABASE_URL=dead)
    assert result.returncode == 2
    assert "HAIXUN_DATABASE_URL" in result.stdout and "does not work" in result.stdout
    assert processes_of(state_dir) == []


def test_port_in_use_is_refused_before_starting_anything(state_dir: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        result = run_demo(state_dir, "--embedded", "--duration", "1", "--port", str(s.getsockname()[1]))
    assert result.returncode == 2
    assert "is in use" in result.stdout
    assert not (state_dir / "pg").exists()


@pytest.mark.slow
def test_sigint_during_the_backfill_stops_at_once(state_dir: Path) -> None:
    """The history goes out before the replay clock starts; Ctrl-C then must not wait for it."""
    port = str(free_port())
    proc = subprocess.Popen([sys.executable, "-m", "haixun.cli", "--log-level", "INFO", "demo", "--embedded",
                             "--port", port],
                            env=demo_env(state_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    lines: list[str] = []
    try:
        lines = read_until(proc, lambda line: "backfill:" in line and "the replay clock waits for it" in line,
                           timeout=120)
        assert any("backfill:" in x for x in lines), "".join(lines)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=40)
        lines.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines)
    assert proc.returncode == 130, out
    assert "backfill stored" not in out and "replaying typhoon" not in out
    assert processes_of(state_dir) == []

"""``haixun demo --check`` end to end: embedded database and broker forced,
ingest + engine + API + In-fa replay at 600x; passes only if the codes rose to
orange/red and fell again, seen both in level_changes and on /ws/live."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import free_port
from tests.test_demo import ROOT, demo_env, private_state_dir, processes_of

pytestmark = pytest.mark.slow


def test_demo_check_end_to_end() -> None:
    with private_state_dir() as state:
        result = subprocess.run(
            [sys.executable, "-m", "haixun.cli", "--log-level", "WARNING", "demo", "--embedded", "--check",
             "--speed", "600", "--duration", "240", "--port", str(free_port())],
            env=demo_env(state), capture_output=True, text=True, timeout=290, cwd=ROOT,
        )
        leftovers = processes_of(state)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr[-3000:]
    assert "check passed" in out
    assert "database level_changes: rose" in out and "and fell" in out
    assert "websocket /ws/live (connected" in out
    assert leftovers == []


def test_check_fails_honestly_when_the_storm_is_not_replayed() -> None:
    """Same pipeline, but the replay only covers calm hours far before landfall: no orange/red -> exit 1."""
    with private_state_dir() as state:
        result = subprocess.run(
            [sys.executable, "-m", "haixun.cli", "--log-level", "WARNING", "demo", "--embedded", "--check",
             "--speed", "60", "--duration", "25", "--port", str(free_port()),
             "--replay-args=--peak-in 96 --duration 1200 --no-cameras --no-feeds"],
            env=demo_env(state), capture_output=True, text=True, timeout=120, cwd=ROOT,
        )
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "check failed" in result.stdout

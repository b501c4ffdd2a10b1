"""``haixun demo`` as a subprocess: its environment, its processes, a private state folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def demo_env(state_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAIXUN_")}
    env["HAIXUN_STATE_DIR"] = str(state_dir)
    env["HAIXUN_TOPIC_ROOT"] = f"tdemo{os.getpid()}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def processes_of(state_dir: Path) -> list[psutil.Process]:
    """Processes started for this demo: children carry HAIXUN_STATE_DIR, servers have the folder on their command line."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.pid == os.getpid():
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            if str(state_dir) in cmdline or proc.environ().get("HAIXUN_STATE_DIR") == str(state_dir):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@contextlib.contextmanager
def private_state_dir() -> Iterator[Path]:
    """A state folder outside pytest's basetemp: pytest re-chmods /tmp/pytest-of-<user> to 0700
    whenever a (parallel) session starts, which would lock the embedded server's OS user out."""
    base = Path(tempfile.mkdtemp(prefix="haixun-demo-test-"))
    try:
        yield base / "state"
    finally:
        for proc in processes_of(base / "state"):  # never leave anything behind, even when a test fails
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)


def read_until(proc: subprocess.Popen[str], marker: Callable[[str], bool], timeout: float) -> list[str]:
    """The lines ``proc`` prints up to and with the first one ``marker`` accepts (or its end of
    output, or ``timeout`` seconds, checked between lines)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker(line):
            break
    return lines

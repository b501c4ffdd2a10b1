"""Child processes of the demo: ``python -m haixun.cli <command>`` with HAIXUN_* env.

Each child runs in its own session (so a terminal Ctrl-C reaches only the
demo, which then stops the children in reverse start order), writes its output
to ``<log_dir>/<name>.log``, and on Linux gets SIGTERM if the demo dies
(PR_SET_PDEATHSIG) so nothing is left running after a crash.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            pass


def haixun_argv(command: Sequence[str], log_level: str = "INFO") -> list[str]:
    return [sys.executable, "-m", "haixun.cli", "--log-level", log_level, *command]


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes]
    started_at: float
    log_handle: IO[bytes]
    exit_reported: bool = field(default=False)

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 12) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(f"    {line}" for line in text[-lines:])


class Supervisor:
    """Starts children, reports unexpected exits, stops them in reverse order."""

    def __init__(self, env: Mapping[str, str], log_dir: Path) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str]) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        handle = open(log_path, "ab")  # noqa: SIM115 - closed in stop_all
        handle.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        handle.flush()
        proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
        child = Child(name, argv, log_path, proc, time.monotonic(), handle)
        self.children.append(child)
        log.debug("started %s (pid %d): %s", name, proc.pid, " ".join(argv))
        return child

    def run_once(self, name: str, argv: list[str], timeout_s: float) -> tuple[int, Child]:
        """Run a one-shot command to completion (killed after ``timeout_s``)."""
        child = self.start(name, argv)
        try:
            code = child.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._stop_child(child, 5.0)
            code = -1
        child.exit_reported = True
        self.children.remove(child)
        child.log_handle.close()
        return code, child

    def newly_exited(self) -> list[Child]:
        """Children that exited since the last call (each reported once)."""
        out = []
        for child in self.children:
            if not child.exit_reported and child.returncode is not None:
                child.exit_reported = True
                out.append(child)
        return out

    def get(self, name: str) -> Child | None:
        for child in self.children:
            if child.name == name:
                return child
        return None

    def stop(self, name: str, timeout_s: float = 15.0) -> None:
        """Stop one child (SIGTERM to its group, then SIGKILL) and forget it."""
        child = self.get(name)
        if child is None:
            return
        self._stop_child(child, timeout_s)
        child.exit_reported = True
        self.children.remove(child)
        child.log_handle.close()

    def stop_all(self, timeout_s: float = 15.0) -> None:
        for child in reversed(self.children):
            self._stop_child(child, timeout_s)
            child.log_handle.close()
        self.children.clear()

    @staticmethod
    def _stop_child(child: Child, timeout_s: float) -> None:
        proc = child.process
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the child and anything it started
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout_s)
            log.info("stopped %s (exit %s)", child.name, proc.returncode)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s: killing it", child.name, timeout_s)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)

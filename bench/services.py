"""haixun services (ingest, engine, api) as child processes of the benchmark.

Each runs ``python -m haixun.cli <command>`` from the checkout with its own
``HAIXUN_*`` environment (scratch database, unique topic root, private state
folder), so the benchmark never touches another engineer's database, topics
or spool. Output goes to a log file that is quoted when a service fails.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import REPO, ComponentUnavailable, mqtt_url

STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    database_url: str
    topic_root: str
    state_dir: Path
    mqtt_url: str = field(default_factory=mqtt_url)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "HAIXUN_DATABASE_URL": self.database_url,
            "HAIXUN_MQTT_URL": self.mqtt_url,
            "HAIXUN_TOPIC_ROOT": self.topic_root,
            "HAIXUN_STATE_DIR": str(self.state_dir),
            "HAIXUN_INGEST_CLIENT_ID": f"{self.topic_root}-ingest",
            "HAIXUN_JWT_SECRET": os.environ.get("HAIXUN_JWT_SECRET") or secrets.token_hex(32),
            "PYTHONPATH": str(REPO),
        })
        env.update(extra)
        return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """One ``haixun <command>`` child; ``stop()`` sends SIGTERM to that pid only."""

    def __init__(self, name: str, args: list[str], config: ServiceConfig, *, log_level: str = "INFO",
                 profile_to: Path | None = None, **extra_env: str) -> None:
        self.name = name
        self.log_path = config.state_dir / f"{name}.log"
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        # profile_to: run under pyinstrument (bench/profiled.py), text profile written there on stop
        runner = ["-m", "bench.profiled", "--out", str(profile_to), "--"] if profile_to else ["-m", "haixun.cli"]
        self.proc = subprocess.Popen(
            [sys.executable, *runner, "--log-level", log_level, *args],
            cwd=REPO, env=config.env(**extra_env), stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise ComponentUnavailable(f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}")

    def wait_for_log(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            if text in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise ComponentUnavailable(f"{self.name} did not log {text!r} within {timeout_s:.0f} s:\n{self.log_tail()}")

    def wait_http(self, url: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(url, timeout=1.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise ComponentUnavailable(f"{self.name} did not answer {url} within {timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def start_ingest(config: ServiceConfig, timeout_s: float = 30.0, profile_to: Path | None = None) -> ServiceProcess:
    svc = ServiceProcess("ingest", ["ingest", "--qc-max-age-s", "0"], config, profile_to=profile_to)
    svc.wait_for_log("connected to", timeout_s)
    return svc


def start_engine(config: ServiceConfig) -> ServiceProcess:
    """The engine; callers wait for its first state_log row (see ``wait_state_row``)."""
    return ServiceProcess("engine", ["engine"], config)


def start_api(config: ServiceConfig, port: int, timeout_s: float = 60.0,
              profile_to: Path | None = None, **extra_env: str) -> ServiceProcess:
    # WARNING: no access log line per request (it would be part of what is measured)
    svc = ServiceProcess("api", ["api", "--port", str(port)], config, log_level="WARNING", profile_to=profile_to,
                         **extra_env)
    svc.wait_http(f"http://127.0.0.1:{port}/healthz", timeout_s)
    return svc

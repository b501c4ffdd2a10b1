"""A private MQTT broker for the demo.

``backend="auto"`` uses a ``mosquitto`` binary when one is on PATH (or in
/usr/sbin), which speaks MQTT 5 and keeps sessions/queued messages on disk
across runs; otherwise the pure-Python amqtt broker (MQTT 3.1.1 only, in
memory) in a child process. :attr:`EmbeddedBroker.protocol` says which MQTT
version the project's clients must use (``HAIXUN_MQTT_PROTOCOL``).

Both listen on 127.0.0.1 only, on a private port (the last run's port when
free). Files live in ``<work_dir>`` (normally ``settings.state_dir / "broker"``):
``mosquitto.conf``, ``mosquitto.log`` / ``amqtt.log``, ``mosquitto.db``.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from haixun.demo.embedded_postgres import free_port, port_is_free
from haixun.demo.mqtt_probe import Protocol, probe
from haixun.errors import HaixunError
from haixun.settings import MqttEndpoint

log = logging.getLogger(__name__)

Backend = Literal["auto", "mosquitto", "amqtt"]


class EmbeddedBrokerError(HaixunError, RuntimeError):
    """The embedded MQTT broker could not be started."""


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def mosquitto_config(port: int, work_dir: Path, user: str, auth_dir: Path | None = None) -> str:
    """``auth_dir``: the users/ACL of `haixun gateways init` (no anonymous client); None: anonymous."""
    if auth_dir is not None:
        auth = [
            "# Authenticated like production (docker/mosquitto.conf): one user per gateway of the",
            "# geography, publishing only its own topics; ingest reads (haixun gateways init).",
            "allow_anonymous false",
            f"password_file {auth_dir}/passwd",
            f"acl_file {auth_dir}/acl",
        ]
    else:
        auth = [
            "# Anonymous, on 127.0.0.1 only: nothing off this machine can reach it.",
            "# Production: docker/mosquitto.conf, `haixun gateways init`.",
            "allow_anonymous true",
        ]
    return "\n".join([
        "# written by haixun demo (embedded broker); rewritten on every start",
        f"listener {port} 127.0.0.1",
        *auth,
        "persistence true",
        f"persistence_location {work_dir}/",
        "autosave_interval 30",
        "max_queued_messages 200000",
        "max_inflight_messages 100",
        "set_tcp_nodelay true",
        f"log_dest file {work_dir}/mosquitto.log",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages false",
        f"user {user}",
        "",
    ])


class EmbeddedBroker:
    """Start/stop a private MQTT broker; ``start()`` returns its ``mqtt://`` URL."""

    def __init__(self, work_dir: Path, *, port: int | None = None, backend: Backend = "auto",
                 startup_timeout_s: float = 15.0, auth_topic_root: str | None = None) -> None:
        """``auth_topic_root``: with Mosquitto, authenticate like production: users and ACL for the
        packaged geography's gateways under that topic root (``work_dir/auth``, ``credentials_file``).
        The amqtt fallback has no ACLs and stays anonymous (on 127.0.0.1 only)."""
        self.work_dir = Path(work_dir).expanduser().absolute()
        self.auth_topic_root = auth_topic_root
        self.credentials_file: Path | None = None
        self._ingest_password: str | None = None
        self.backend: Backend = backend
        self.startup_timeout_s = startup_timeout_s
        self._requested_port = port
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._log_path: Path | None = None
        self.backend_used: Literal["mosquitto", "amqtt"] | None = None
        self.startup_seconds: float | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedBrokerError("embedded broker is not running")
        return self._port

    @property
    def url(self) -> str:
        """With authentication, the URL carries ingest's user (gateways use ``credentials_file``)."""
        if self._ingest_password is not None:
            from urllib.parse import quote

            from haixun.mqttauth import INGEST_USER
            return f"mqtt://{INGEST_USER}:{quote(self._ingest_password, safe='')}@127.0.0.1:{self.port}"
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def authenticated(self) -> bool:
        return self._ingest_password is not None

    def _make_auth(self) -> Path:
        from haixun.data.geography import load_geography
        from haixun.gateways.broker import BrokerAuthDir, gateway_rights, init
        from haixun.mqttauth import INGEST_USER

        assert self.auth_topic_root is not None
        folder = self.work_dir / "auth"
        geo = load_geography()
        init(folder, gateway_rights(geo), self.auth_topic_root, source=f"{geo.source} {geo.version}")
        d = BrokerAuthDir(folder)
        self.credentials_file = d.credentials
        self._ingest_password = d.users()[INGEST_USER]
        return folder

    @property
    def protocol(self) -> Protocol:
        """MQTT version the project's clients must use with this broker."""
        return "5" if self.backend_used == "mosquitto" else "3.1.1"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def wipe(self) -> None:
        if self._process is not None:
            raise EmbeddedBrokerError("stop the embedded broker before wiping its data")
        if self.work_dir.exists():
            shutil.rmtree(self.work_dir)

    def start(self) -> str:
        if self._process is not None:
            return self.url
        began = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        mosquitto = find_mosquitto() if self.backend in ("auto", "mosquitto") else None
        if self.backend == "mosquitto" and mosquitto is None:
            raise EmbeddedBrokerError("no mosquitto binary found on PATH (install mosquitto, or use the amqtt backend)")
        port = self._choose_port()
        if mosquitto:
            argv = self._mosquitto_argv(mosquitto, port)
            self.backend_used = "mosquitto"
            self._log_path = self.work_dir / "mosquitto.stderr.log"
        else:
            argv = [sys.executable, "-m", "haixun.demo.amqtt_server", "--port", str(port)]
            self.backend_used = "amqtt"
            self._log_path = self.work_dir / "amqtt.log"
        self._log_handle = open(self._log_path, "ab")  # noqa: SIM115 - lives as long as the broker
        self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log_handle,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self._port = port
        try:
            self._wait_ready(began)
        except BaseException:
            self.stop()
            raise
        (self.work_dir / "port").write_text(f"{port}\n", encoding="utf-8")
        self.startup_seconds = time.monotonic() - began
        log.info("embedded MQTT broker (%s, MQTT %s) ready on 127.0.0.1:%d in %.2f s",
                 self.backend_used, self.protocol, port, self.startup_seconds)
        return self.url

    def stop(self, timeout_s: float = 10.0) -> None:
        proc = self._process
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    log.warning("embedded broker did not stop in %.0f s: killing it", timeout_s)
                    proc.kill()
                    proc.wait(5)
            log.info("embedded MQTT broker (%s) stopped", self.backend_used)
        self._process = None
        self._port = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------
    def _choose_port(self) -> int:
        if self._requested_port is not None:
            return self._requested_port
        try:
            port = int((self.work_dir / "port").read_text(encoding="utf-8").strip())
            if port_is_free(port):
                return port
        except (FileNotFoundError, ValueError):
            pass
        return free_port()

    def _mosquitto_argv(self, binary: str, port: int) -> list[str]:
        conf = self.work_dir / "mosquitto.conf"
        auth = None
        if self.auth_topic_root is not None:
            from haixun.gateways.broker import BrokerAuthError

            try:
                auth = self._make_auth()
            except BrokerAuthError as exc:  # e.g. mosquitto_passwd missing: still loopback only
                log.warning("embedded broker stays anonymous (127.0.0.1 only): %s", exc)
                self.credentials_file, self._ingest_password = None, None
        conf.write_text(mosquitto_config(port, self.work_dir, getpass.getuser(), auth), encoding="utf-8")
        return [binary, "-c", str(conf)]

    def _wait_ready(self, began: float) -> None:
        endpoint = MqttEndpoint.from_url(self.url)
        deadline = began + self.startup_timeout_s
        assert self._process is not None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise EmbeddedBrokerError(f"embedded broker ({self.backend_used}) exited with code {code} "
                                          f"while starting{self._log_tail()}")
            if probe(endpoint, "3.1.1", timeout_s=1.0):
                return
            time.sleep(0.05)
        raise EmbeddedBrokerError(f"embedded broker ({self.backend_used}) did not accept MQTT connections on "
                                  f"127.0.0.1:{self.port} within {self.startup_timeout_s:.0f} s{self._log_tail()}")

    def _log_tail(self, lines: int = 15) -> str:
        paths = [p for p in (self._log_path, self.work_dir / "mosquitto.log") if p is not None]
        out = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            if text:
                out.append(f"\n--- last lines of {path} ---\n" + "\n".join(text[-lines:]))
        return "".join(out)

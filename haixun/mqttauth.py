"""How the project's MQTT clients authenticate: credentials and TLS from the settings.

``client_args(settings, user=...)`` gives the keyword arguments of
``aiomqtt.Client`` for a connection as ``user`` (a gateway id, or
``INGEST_USER``). A gateway connects with its own password from
``settings.mqtt_credentials_file`` (written by ``haixun gateways init``)
when the file has it, whatever user the URL names (that one is ingest's);
ingest with the URL's user if it names one, else ``haixun-ingest`` from the
file. With neither: the URL's user, or none (an anonymous broker: the demo on
loopback). ``mqtts://`` URLs get a TLS context that verifies the broker's
certificate (``settings.mqtt_ca_file`` or the system CAs).
"""

from __future__ import annotations

import json
import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any

from haixun.settings import Settings

INGEST_USER = "haixun-ingest"
MONITOR_USER = "haixun-monitor"


@lru_cache(maxsize=8)
def _read_credentials(path: str, mtime_ns: int) -> dict[str, str]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    users = data.get("users", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in users.items()}


def credentials(path: Path | None) -> dict[str, str]:
    """user -> password from a credentials file (re-read when the file changes, e.g. after a rotation)."""
    if path is None or not Path(path).exists():
        return {}
    return _read_credentials(str(path), Path(path).stat().st_mtime_ns)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.mqtt.tls:
        return None
    ctx = ssl.create_default_context(cafile=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def client_args(settings: Settings, *, user: str | None = None) -> dict[str, Any]:
    ep = settings.mqtt
    username, password = ep.username, ep.password
    if user is not None and (user != INGEST_USER or username is None):
        secret = credentials(settings.mqtt_credentials_file).get(user)
        if secret is not None:
            username, password = user, secret
    return {"hostname": ep.host, "port": ep.port, "username": username, "password": password,
            "tls_context": tls_context(settings)}

"""Runtime settings, read from the environment (prefix ``HAIXUN_``).

Defaults fit the local services of a developer machine: PostgreSQL on
127.0.0.1:5432 (database ``haixun``, created if absent) and Mosquitto on
127.0.0.1:1883. Every process takes one ``Settings`` object and passes it down;
nothing reads the environment anywhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from haixun.clock import Clock


def default_state_dir() -> Path:
    """The per-user state folder (XDG_STATE_HOME), used for spools and embedded data."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "haixun"


def check_shared_group(name: str) -> str:
    """A shared subscription's ShareName: no "/", "+" or "#" (MQTT v5 4.8.2); ValueError otherwise."""
    if any(ch in name for ch in "/+#") or name != name.strip():
        raise ValueError(f"shared subscription group {name!r}: no '/', '+', '#' or surrounding spaces "
                         "(MQTT v5 4.8.2)")
    return name


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """A broker address parsed from an ``mqtt://user:pass@host:port`` (``mqtts://`` for TLS) URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> MqttEndpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp", "", "mqtts", "ssl"):
            raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} in {url!r} "
                             "(use mqtt://host:port, or mqtts://host:port for TLS)")
        if not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} has no host")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAIXUN_", extra="ignore", populate_by_name=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/haixun"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    # MQTT protocol the project's clients speak: "5" (default; persistent
    # sessions via session expiry) or "3.1.1" (clean_session=False) for brokers
    # without v5, e.g. the pure-Python embedded broker (amqtt) of `haixun demo`.
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    # First topic level. Production uses "haixun"; tests use a unique root so
    # that parallel runs on one broker never see each other's messages.
    topic_root: str = "haixun"
    state_dir: Path = Field(default_factory=default_state_dir)
    # Broker authentication (docs/operations.md "Broker authentication"):
    # the credentials file written by `haixun gateways init` (JSON, mode 0600).
    # A gateway simulator connects as its gateway's user from it; ingest as
    # `haixun-ingest` unless the URL names a user. CA file: for mqtts:// URLs
    # (the certificate of `haixun gateways certs`; default: the system CAs).
    mqtt_credentials_file: Path | None = None
    mqtt_ca_file: Path | None = None

    # ingest
    ingest_client_id: str = "haixun-ingest"
    # Scale-out: N ingest workers share the load as MQTT v5 shared subscriptions
    # `$share/<group>/<filter>` (docs/operations.md, "Scale-out"). Empty: plain
    # subscriptions (one ingest process). Every worker of a group needs its own
    # client id and spool: `haixun ingest --slot auto` (haixun/ingest/slots.py).
    ingest_shared_group: str = ""
    ingest_session_expiry_s: int = 3600
    ingest_queue_max: int = 200_000
    ingest_batch_max: int = 5_000
    ingest_batch_wait_ms: int = 50
    ingest_max_payload_bytes: int = 256 * 1024
    spool_max_bytes: int = 1024 * 1024 * 1024

    # "system", or a replay clock shared by every process of a replay
    # ("replay:<sim_start>@<wall_start>x<speed>", see haixun/clock.py).
    clock_spec: str = Field(default="system", validation_alias="HAIXUN_CLOCK")

    # storage (haixun migrate): "auto" picks TimescaleDB when it is preloaded with
    # the Timescale License, else partitioned tables; retention in days behind
    # the newest reading, 0 = off, None = keep the database's setting.
    readings_mode: Literal["auto", "timescale", "partitioned"] = "auto"
    retention_days: int | None = Field(default=None, ge=0)

    # engine / api
    engine_interval_s: float = 10.0
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Signs duty/admin logins. No default: `haixun api` refuses to start without a real one (at least 32
    # characters, not the old published "change-me-in-production"); `haixun demo` generates one.
    jwt_secret: str = ""
    # GET /metrics: with a token, only `Authorization: Bearer <token>` may read it (any address); without
    # one, only loopback clients, unless metrics_public (docs/api.md, metrics).
    metrics_token: str = ""
    metrics_public: bool = False
    # web pages: an optional basemap under the map (docs/web.md). Empty: the
    # offline default drawn from the geography the package ships. An XYZ tile
    # URL template ("https://.../{z}/{x}/{y}.png", e.g. Tianditu or an
    # OpenStreetMap tile server on the LAN) and its attribution text.
    basemap_url: str = ""
    basemap_attribution: str = ""
    # websocket connection caps of one API process (docs/api.md, limits). Behind a reverse proxy the
    # address is the proxy's unless it sends X-Forwarded-For and uvicorn trusts it (--forwarded-allow-ips).
    ws_max_clients: int = 5_000
    ws_max_per_address: int = 32
    # permessage-deflate (RFC 7692) on websockets when the client offers it. Off by default: uvicorn
    # compresses every message once per client (a per-connection zlib context), so a state change cost
    # one compression per screen, 17 % of the API's time at 3,000 clients (docs/performance.md, fan-out).
    # On for clients on slow links, at that CPU cost.
    ws_per_message_deflate: bool = False

    @field_validator("ingest_shared_group")
    @classmethod
    def _check_shared_group(cls, v: str) -> str:
        return check_shared_group(v)

    @field_validator("clock_spec")
    @classmethod
    def _check_clock(cls, v: str) -> str:
        Clock.parse(v)  # a bad spec fails at start-up, with the spec named
        return v

    @property
    def clock(self) -> Clock:
        return Clock.parse(self.clock_spec)

    @property
    def mqtt(self) -> MqttEndpoint:
        return MqttEndpoint.from_url(self.mqtt_url)

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    def topic(self, *parts: str) -> str:
        """``topic("obs", "ZP01")`` -> ``haixun/v1/obs/ZP01``."""
        return "/".join((self.topic_root, "v1", *parts))

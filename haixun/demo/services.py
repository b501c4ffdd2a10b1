"""Which PostgreSQL and MQTT broker the demo uses: real ones or embedded ones.

* ``--embedded`` / ``--embedded-db`` / ``--embedded-broker`` force the embedded ones.
* A URL given in the environment (``HAIXUN_DATABASE_URL``, ``HAIXUN_MQTT_URL``)
  is always used as is, and must work.
* Otherwise the default address is tried; if nothing usable answers there,
  the embedded service is started (data under ``settings.state_dir``).

``stop()`` stops what was started here: the broker first, then the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from haixun.demo.embedded import EmbeddedBroker, EmbeddedPostgres, broker_dir, postgres_dir
from haixun.demo.mqtt_probe import Protocol, best_protocol
from haixun.errors import Unavailable
from haixun.settings import Settings

log = logging.getLogger(__name__)


class ServiceUnavailable(Unavailable, RuntimeError):
    """A service named explicitly by the user does not answer."""


@dataclass(frozen=True, slots=True)
class ServiceChoice:
    embedded_db: bool
    embedded_broker: bool
    fresh: bool = False


def postgres_problem(url: str, timeout_s: int = 3) -> str | None:
    """None if we can log in to the server of ``url`` (its ``postgres`` database), else why not."""
    try:
        with psycopg.connect(make_conninfo(url, dbname="postgres"), connect_timeout=timeout_s) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def _redact(url: str) -> str:
    return url.rsplit("@", 1)[-1] if "@" in url else url


class DemoServices:
    """The database and broker of one demo run."""

    def __init__(self) -> None:
        self.database_url = ""
        self.mqtt_url = ""
        self.mqtt_protocol: Protocol = "5"
        self.mqtt_credentials_file: Path | None = None  # the embedded broker's gateway users, if any
        self.pg: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.notes: list[str] = []

    @classmethod
    def resolve(cls, settings: Settings, choice: ServiceChoice) -> DemoServices:
        services = cls()
        try:
            services._resolve_database(settings, choice)
            services._resolve_broker(settings, choice)
        except BaseException:
            services.stop()
            raise
        return services

    def _resolve_database(self, settings: Settings, choice: ServiceChoice) -> None:
        explicit = "database_url" in settings.model_fields_set
        if not choice.embedded_db:
            problem = postgres_problem(settings.database_url)
            if problem is None:
                self.database_url = settings.database_url
                self.notes.append(f"database: PostgreSQL at {_redact(settings.database_url)}")
                if choice.fresh:
                    self.notes.append("--fresh does not touch a real database (only embedded data is wiped)")
                return
            if explicit:
                raise ServiceUnavailable(f"HAIXUN_DATABASE_URL ({_redact(settings.database_url)}) does not work: {problem}")
            log.info("no usable PostgreSQL at %s (%s): starting the embedded one", _redact(settings.database_url), problem)
        self.pg = EmbeddedPostgres(postgres_dir(settings))
        if choice.fresh:
            self.pg.wipe()
        self.database_url = self.pg.start()
        how = "initialised" if self.pg.initialised_now else "reused"
        self.notes.append(f"database: embedded PostgreSQL on 127.0.0.1:{self.pg.port} "
                          f"({how} {self.pg.data_dir}, {self.pg.startup_seconds:.2f} s)")

    def _resolve_broker(self, settings: Settings, choice: ServiceChoice) -> None:
        explicit = "mqtt_url" in settings.model_fields_set
        if not choice.embedded_broker:
            protocol = best_protocol(settings.mqtt)
            if protocol is not None:
                self.mqtt_url = settings.mqtt_url
                # A protocol set by the user wins; else what the broker speaks.
                self.mqtt_protocol = settings.mqtt_protocol if "mqtt_protocol" in settings.model_fields_set else protocol
                self.notes.append(f"broker: MQTT {self.mqtt_protocol} at {_redact(settings.mqtt_url)}")
                return
            if explicit:
                raise ServiceUnavailable(f"HAIXUN_MQTT_URL ({_redact(settings.mqtt_url)}) does not accept MQTT connections")
            log.info("no MQTT broker at %s: starting the embedded one", _redact(settings.mqtt_url))
        self.broker = EmbeddedBroker(broker_dir(settings), auth_topic_root=settings.topic_root)
        if choice.fresh:
            self.broker.wipe()
        self.mqtt_url = self.broker.start()
        self.mqtt_protocol = self.broker.protocol
        self.mqtt_credentials_file = self.broker.credentials_file
        auth = ("authenticated like production: one user per gateway, ACL from the geography"
                if self.broker.authenticated else
                "anonymous, loopback only " + ("(amqtt has no ACLs)" if self.broker.backend_used == "amqtt"
                                               else "(authentication could not be set up: see the log)"))
        self.notes.append(f"broker: embedded {self.broker.backend_used} (MQTT {self.mqtt_protocol}) on "
                          f"127.0.0.1:{self.broker.port} ({self.broker.startup_seconds:.2f} s); {auth} "
                          "(docs/operations.md, Broker authentication)")

    def stop(self) -> None:
        """Broker first, then the database (children must already be stopped)."""
        if self.broker is not None:
            try:
                self.broker.stop()
            except Exception:  # keep going: the database must still stop
                log.exception("stopping the embedded broker failed")
        if self.pg is not None:
            self.pg.stop()

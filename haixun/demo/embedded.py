"""Embedded services of the demo: a private PostgreSQL and a private MQTT broker.

``EmbeddedPostgres(settings.state_dir / "pg")`` and
``EmbeddedBroker(settings.state_dir / "broker")`` are context managers; their
``start()`` returns the URL to pass on as ``HAIXUN_DATABASE_URL`` /
``HAIXUN_MQTT_URL`` (and ``EmbeddedBroker.protocol`` as ``HAIXUN_MQTT_PROTOCOL``).
"""

from __future__ import annotations

from pathlib import Path

from haixun.demo.embedded_broker import EmbeddedBroker, EmbeddedBrokerError, find_mosquitto
from haixun.demo.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError
from haixun.settings import Settings

__all__ = [
    "EmbeddedBroker",
    "EmbeddedBrokerError",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "broker_dir",
    "find_mosquitto",
    "postgres_dir",
]


def postgres_dir(settings: Settings) -> Path:
    return settings.state_dir / "pg"


def broker_dir(settings: Settings) -> Path:
    return settings.state_dir / "broker"

"""docker-compose.yml and docker/ checked by parsing (no Docker engine here).

Every haixun service's command must parse as a real ``haixun`` subcommand
(``haixun.cli.build_parser()``), its environment must name real Settings
fields, and the wiring (dependencies, healthchecks, files) must be consistent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from haixun.demo.commands import CommandCatalog
from haixun.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
HAIXUN_SERVICES = ("migrate", "load-geo", "ingest", "engine", "api", "simulator")
LONG_RUNNING = ("ingest", "engine", "api")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog() -> CommandCatalog:
    return CommandCatalog()


def test_expected_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"db", "mqtt", *HAIXUN_SERVICES} <= set(services)
    assert services["db"]["image"].startswith("timescale/timescaledb:")
    assert services["mqtt"]["image"].startswith("eclipse-mosquitto:")


@pytest.mark.parametrize("name", HAIXUN_SERVICES)
def test_command_is_a_real_haixun_subcommand(name: str, compose: dict[str, Any], catalog: CommandCatalog) -> None:
    service = compose["services"][name]
    command = service["command"]
    assert isinstance(command, list) and all(isinstance(w, str) for w in command), "use the exec (list) form"
    assert catalog.resolve(command) is not None, f"`haixun {' '.join(command)}` is not a haixun command (yet)"
    assert catalog.parses(command), f"`haixun {' '.join(command)}` does not parse"


@pytest.mark.parametrize("name", HAIXUN_SERVICES)
def test_haixun_services_use_the_image_and_real_settings(name: str, compose: dict[str, Any]) -> None:
    service = compose["services"][name]
    assert service["build"]["dockerfile"] == "docker/Dockerfile"
    assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    env = service["environment"]
    fields = set(Settings.model_fields)
    for key in env:
        assert key.startswith("HAIXUN_"), key
        assert key.removeprefix("HAIXUN_").lower() in fields, f"{key} is not a Settings field"
    assert "@db:5432/" in env["HAIXUN_DATABASE_URL"]
    assert env["HAIXUN_MQTT_URL"] == "mqtt://mqtt:1883"
    Settings(database_url=env["HAIXUN_DATABASE_URL"], mqtt_url=env["HAIXUN_MQTT_URL"],
             mqtt_protocol=env["HAIXUN_MQTT_PROTOCOL"])  # validates


def test_dependencies_and_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            condition = cond["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy but it has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[dep].get("restart") == "no", f"{dep} is a one-shot: restart must be \"no\""
    for name in ("db", "mqtt", *LONG_RUNNING):
        assert "healthcheck" in services[name], name
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in LONG_RUNNING:
        assert services[name].get("restart") == "unless-stopped"


def test_healthcheck_ports_match_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in LONG_RUNNING:
        command = services[name]["command"]
        probe = " ".join(services[name]["healthcheck"]["test"])
        port = re.search(r"127\.0\.0\.1:(\d+)/", probe)
        assert port, f"{name}: healthcheck does not probe a local port"
        flag = "--port" if name == "api" else "--metrics-port"
        assert command[command.index(flag) + 1] == port.group(1), name


def test_published_ports_are_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for mapping in service.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond this machine"


def test_mosquitto_config_mounted_and_persistent(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["mqtt"]["volumes"]
    conf_mount = next(v for v in volumes if v.endswith(":/mosquitto/config/mosquitto.conf:ro"))
    host_path = ROOT / conf_mount.split(":", 1)[0]
    text = host_path.read_text(encoding="utf-8")
    directives = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip() and not line.startswith("#")}
    assert directives["persistence"] == ["true"]
    assert directives["persistence_location"] == ["/mosquitto/data/"]
    listeners = [line.split()[1] for line in text.splitlines() if line.startswith("listener ")]
    assert listeners == ["1883", "8883"]  # plain for the compose network, TLS for gateways (issue 14)
    assert directives["allow_anonymous"] == ["false"]
    assert directives["password_file"] == ["/mosquitto/config/auth/passwd"]
    assert directives["acl_file"] == ["/mosquitto/config/auth/acl"]
    assert any(v.endswith(":/mosquitto/config/auth:ro") for v in volumes)
    assert any(v.endswith(":/mosquitto/data") for v in volumes)
    assert set(compose["volumes"]) >= {"pgdata", "mosquitto-data"}


def test_dockerfile_installs_the_package() -> None:
    text = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"^RUN pip install -c requirements\.lock \.", text, re.M)  # locked versions, runtime only
    assert re.search(r'^ENTRYPOINT \["haixun"\]', text, re.M)
    assert re.search(r"^USER haixun", text, re.M)
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for src in line.split()[:-1]:
            assert (ROOT / src).exists(), f"COPY source {src} missing"

"""docker/ monitoring files: every haixun metric that the alert rules, the Grafana dashboard and the
Prometheus scrape config name is one the code exports (a renamed metric would silently never fire),
the four alerts of issue 18 exist, and `promtool check rules/config` passes where promtool is installed
(Debian package `prometheus`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from haixun.api.metrics import ApiMetrics
from haixun.engine.metrics import EngineMetrics
from haixun.ingest.metrics import IngestMetrics

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "docker" / "prometheus" / "alerts.yml"
PROMETHEUS = ROOT / "docker" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "docker" / "grafana" / "dashboards" / "haixun.json"
NAME = re.compile(r"\bhaixun_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported_names() -> set[str]:
    """Sample names the three services' registries expose (labelled metrics included before first use)."""
    registries = [IngestMetrics.create(CollectorRegistry()).registry, EngineMetrics(CollectorRegistry()).registry,
                  ApiMetrics().registry]
    names: set[str] = set()
    for registry in registries:
        for family in registry.collect():
            for suffix in SUFFIXES.get(family.type, ("",)):
                names.add(family.name + suffix)
    return names


def _expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "expr" and isinstance(v, str)] + \
            [e for v in node.values() for e in _expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in _expressions(v)]
    return []


def test_exported_names_are_read_from_the_code() -> None:
    names = exported_names()
    assert {"haixun_ingest_stored_readings_total", "haixun_engine_is_leader", "haixun_ws_dropped_total",
            "haixun_engine_stage_seconds_bucket"} <= names
    assert "haixun_ingest_stored_readings" not in names  # a counter is only exposed with _total


@pytest.mark.parametrize("path", [ALERTS, DASHBOARD], ids=lambda p: p.name)
def test_every_metric_named_is_exported(path: Path) -> None:
    doc = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    exprs = _expressions(doc)
    assert exprs, f"no expressions found in {path}"
    used = {n for e in exprs for n in NAME.findall(e)}
    assert used, path
    missing = sorted(used - exported_names())
    assert not missing, f"{path.name} names metrics haixun does not export: {missing}"


def test_the_issue_18_alerts_exist() -> None:
    rules = {r["alert"]: r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]}
    for name, metric in [("HaixunIngestStalled", "haixun_ingest_last_store_age_seconds"),
                         ("HaixunEngineLeaderMissing", "haixun_engine_is_leader"),
                         ("HaixunStaleStations", "haixun_engine_stations_offline"),
                         ("HaixunWebsocketDrops", "haixun_ws_dropped_total")]:
        assert name in rules and metric in rules[name]["expr"], name
        assert rules[name]["labels"]["severity"] in ("warning", "critical")


def test_scrape_config_targets_the_compose_services_and_ports() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    jobs = {j["job_name"]: j for j in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]}
    for job, service, flag in [("haixun-ingest", "ingest", "--metrics-port"),
                               ("haixun-engine", "engine", "--metrics-port"), ("haixun-api", "api", "--port")]:
        sd = jobs[job]["dns_sd_configs"][0]
        command = compose["services"][service]["command"]
        assert sd["names"] == [service] and str(sd["port"]) == command[command.index(flag) + 1], job
    assert "/prometheus/metrics-token" in " ".join(compose["services"]["prometheus"]["entrypoint"])
    assert jobs["haixun-api"]["authorization"]["credentials_file"] == "/prometheus/metrics-token"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)")
def test_promtool_accepts_the_rules_and_the_config(tmp_path: Path) -> None:
    out = subprocess.run(["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    # the config names the rules and token files by their container paths: check a copy pointing here
    config = yaml.safe_load(PROMETHEUS.read_text())
    config["rule_files"] = [str(ALERTS)]
    token = tmp_path / "token"
    token.write_text("x")
    config["scrape_configs"][2]["authorization"]["credentials_file"] = str(token)
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    out = subprocess.run(["promtool", "check", "config", str(local)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_load_balancer_points_at_the_api_replicas() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    nginx = (ROOT / "docker" / "nginx.conf").read_text()
    api_cmd = compose["services"]["api"]["command"]
    assert f"server api:{api_cmd[api_cmd.index('--port') + 1]} resolve" in nginx
    assert "ports" not in compose["services"]["api"]  # replicas would collide on one host port
    listen = re.search(r"^\s*listen (\d+);", nginx, re.M)
    assert listen and compose["services"]["lb"]["ports"][0].endswith(f":{listen.group(1)}")
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx  # websockets
    assert re.search(r"location = /metrics \{ return 404; \}", nginx)

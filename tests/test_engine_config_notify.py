"""A threshold version activated through the API reaches the engine at once (issue 17): the leader LISTENs on
haixun_config and runs a cycle with the new version, instead of waiting for its next interval (an hour here)."""

from __future__ import annotations

import hashlib
import logging

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from haixun.engine.service import EngineService
from haixun.riskcode.config import DEFAULT_CONFIG_PATH
from haixun.settings import Settings
from haixun.store.channels import CONFIG_CHANNEL
from tests.support.engine import FAST
from tests.support.wait import eventually


def _config_cycles(svc: EngineService) -> float:
    return sum(svc.metrics.cycles.labels("config", outcome)._value.get() for outcome in ("written", "unchanged"))


async def test_activation_notify_recomputes_with_the_new_version(settings: Settings, db_url: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    slow = settings.model_copy(update={"engine_interval_s": 3600.0})
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8") + "\n# edited by the test\n"
    caplog.set_level(logging.INFO, logger="haixun.engine")
    async with EngineService(slow, options=FAST, registry=CollectorRegistry()) as svc:
        await eventually(lambda: svc.is_leader and svc.cycles_done >= 1, what="the engine leads and has cycled")
        assert _config_cycles(svc) == 0
        with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
            row = conn.execute("INSERT INTO threshold_versions (version, format, body, sha256, active, created_by)"
                               " VALUES ('notify-test', 'toml', %s, %s, true, 'test') RETURNING id",
                               (text, hashlib.sha256(text.encode()).hexdigest())).fetchone()
            conn.execute("SELECT pg_notify(%s, %s)", (CONFIG_CHANNEL, str(row[0])))
        await eventually(lambda: _config_cycles(svc) >= 1, timeout=60, what="a cycle on the haixun_config NOTIFY")
    assert any("risk configuration changed" in r.getMessage() for r in caplog.records)

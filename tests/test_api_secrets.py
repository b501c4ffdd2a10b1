"""Insecure defaults refused at start (issue 17): a set but weak HAIXUN_METRICS_TOKEN (it opens /metrics to
every address) stops ``haixun api`` like a weak JWT secret does; unset, /metrics stays loopback-only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from haixun.api.app import create_app
from haixun.api.auth import InsecureSecret
from haixun.settings import Settings

REPO = Path(__file__).resolve().parent.parent
JWT = "a-real-jwt-secret-for-this-test-" + "7" * 16


@pytest.mark.parametrize("token", ["x", "changeme", "0123456789abcde"])
def test_haixun_api_refuses_a_weak_metrics_token(db_url: str, tmp_path: Path, token: str) -> None:
    env = dict(os.environ, HAIXUN_DATABASE_URL=db_url, HAIXUN_STATE_DIR=str(tmp_path), PYTHONPATH=str(REPO),
               HAIXUN_JWT_SECRET=JWT, HAIXUN_METRICS_TOKEN=token)
    # port 27797 of this test's range; the command must exit before it would listen
    proc = subprocess.run([sys.executable, "-m", "haixun.cli", "api", "--port", "27797"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "refusing to start" in proc.stderr and "HAIXUN_METRICS_TOKEN" in proc.stderr
    with pytest.raises(InsecureSecret, match="HAIXUN_METRICS_TOKEN"):
        create_app(Settings(database_url=db_url, jwt_secret=JWT, metrics_token=token))


def test_an_unset_or_strong_metrics_token_is_accepted(db_url: str) -> None:
    create_app(Settings(database_url=db_url, jwt_secret=JWT))
    create_app(Settings(database_url=db_url, jwt_secret=JWT, metrics_token="f" * 8 + "0123456789abcdef"))

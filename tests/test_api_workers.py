"""``haixun api --workers 2``: two uvicorn processes on one port, each LISTENing and following the
state itself (the real command, the real database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from haixun.settings import Settings
from tests.support.api import TEST_JWT_SECRET, engine_write, seg_entry
from tests.support.net import free_port
from tests.support.proc import stop_process
from tests.support.wait import eventually_sync

REPO = Path(__file__).resolve().parent.parent
POINT = {"lat": 30.6274, "lon": 121.0338}  # inside the packaged served area (Zhapu)
FRESH_CONNECTIONS = 30


def _listening_backends(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(DISTINCT pid) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND query LIKE 'LISTEN %%'").fetchone()
    return int(row[0]) if row else 0


def _seqs_over_fresh_connections(base: str) -> set[int]:
    """One request per new connection, so the kernel hands them to either process."""
    seqs = set()
    for _ in range(FRESH_CONNECTIONS):
        r = httpx.get(f"{base}/api/v1/risk", params=POINT, timeout=5.0, headers={"Connection": "close"})
        assert r.status_code == 200, r.text
        seqs.add(int(r.json()["seq"]))
    return seqs


@pytest.mark.slow
def test_two_workers_each_follow_the_state(settings: Settings, db_url: str, tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {"PH01": seg_entry("none")}}, kind="snapshot")
    port = free_port()
    env = dict(os.environ, HAIXUN_DATABASE_URL=db_url, HAIXUN_STATE_DIR=str(tmp_path), PYTHONPATH=str(REPO),
               HAIXUN_JWT_SECRET=TEST_JWT_SECRET)
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "haixun.cli", "--log-level", "WARNING", "api", "--port",
                                 str(port), "--workers", "2"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def both_listen() -> bool:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-2000:]
            return _listening_backends(db_url) >= 2
        eventually_sync(both_listen, timeout=90, step=0.2, what="both workers LISTEN")
        # both processes answer (startup of the second may lag the first)
        first = eventually_sync(lambda: _seqs_over_fresh_connections(base), timeout=90, step=0.2, ignore=(httpx.HTTPError,),
                                what="both workers answer")
        assert len(first) == 1
        seq = engine_write(db_url, {"segments": {"PH01": seg_entry("red")}})
        assert seq > next(iter(first))
        # every process sees the new state through its own LISTEN connection, not only one of them
        eventually_sync(lambda: _seqs_over_fresh_connections(base) == {seq}, step=0.1,
                        what=f"every process serving seq {seq} only")
        assert _listening_backends(db_url) == 2
    finally:
        stop_process(proc)
    assert proc.returncode == 0, log_path.read_text(errors="replace")[-2000:]
    assert "30.6274" not in log_path.read_text(errors="replace")

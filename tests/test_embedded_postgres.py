"""The embedded PostgreSQL of the demo, started for real (no mocks)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from haixun.demo.embedded import EmbeddedPostgres, EmbeddedPostgresError
from haixun.store.migrate import migrate


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """Outside pytest's basetemp (re-chmodded to 0700 by parallel sessions, which locks
    the unprivileged server user out when running as root)."""
    base = Path(tempfile.mkdtemp(prefix="haixun-pg-test-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _server_alive(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def test_start_migrate_stop_restart_reuses_data(tmp_path: Path) -> None:
    root = tmp_path / "state" / "pg"
    pg = EmbeddedPostgres(root)
    with pg:
        url = pg.url
        assert pg.initialised_now
        assert url.startswith("postgresql://postgres:") and "@127.0.0.1:" in url and url.endswith("/haixun")
        mode = migrate(url)
        assert mode == "partitioned"  # no timescaledb in the embedded binaries
        with psycopg.connect(url) as conn:
            conn.execute("INSERT INTO stations (id, kind, name, lat, lon) VALUES ('EMB1', 'tide_gauge', 'x', 30.6, 121.1)")
            conn.commit()
            listen = conn.execute("SHOW listen_addresses").fetchone()
            assert listen == ("127.0.0.1",)
        first_port = pg.port
        assert pg.startup_seconds is not None and pg.startup_seconds > 0
    assert not pg.running
    assert not _server_alive(url), "server still accepts connections after stop()"
    assert (root / "data" / "PG_VERSION").exists()
    assert not (root / "data" / "postmaster.pid").exists()

    again = EmbeddedPostgres(root)
    with again:
        assert not again.initialised_now
        assert again.port == first_port  # remembered port reused when free
        with psycopg.connect(again.url) as conn:
            assert conn.execute("SELECT name FROM stations WHERE id = 'EMB1'").fetchone() == ("x",)
            applied = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert migrate(again.url) == "partitioned"  # idempotent on the reused data
        with psycopg.connect(again.url) as conn:
            assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == applied


def test_password_required_and_data_private(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pg")
    with pg:
        wrong = f"postgresql://postgres:wrong@127.0.0.1:{pg.port}/haixun"
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(wrong, connect_timeout=3).close()
        mode = stat.S_IMODE((tmp_path / "pg").stat().st_mode)
        assert mode & 0o077 == 0
        pw = stat.S_IMODE((tmp_path / "pg" / "password").stat().st_mode)
        assert pw == 0o600


def test_second_instance_on_same_folder_is_refused(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "pg"):
        with pytest.raises(EmbeddedPostgresError, match="another haixun process"):
            EmbeddedPostgres(tmp_path / "pg").start()


def test_orphaned_server_is_adopted_then_wipe_removes_everything(tmp_path: Path) -> None:
    root = tmp_path / "pg"
    first = EmbeddedPostgres(root)
    url = first.start()
    # Simulate a demo killed with SIGKILL: the lock goes, the server stays.
    first._release_lock()
    first._port = None
    assert _server_alive(url)

    adopter = EmbeddedPostgres(root)
    assert adopter.start() == url
    assert not adopter.initialised_now
    adopter.stop()
    assert not _server_alive(url)

    adopter.wipe()
    assert not root.exists()
    fresh = EmbeddedPostgres(root)
    with fresh:
        assert fresh.initialised_now


@pytest.mark.skipif(os.geteuid() != 0, reason="root-only behaviour")
def test_as_root_server_runs_as_unprivileged_user(tmp_path: Path) -> None:
    import pwd

    pg = EmbeddedPostgres(tmp_path / "pg")
    with pg:
        pid = int((tmp_path / "pg" / "data" / "postmaster.pid").read_text().splitlines()[0])
        uid = os.stat(f"/proc/{pid}").st_uid
        assert uid != 0
        assert pwd.getpwuid(uid).pw_name == "haixun-pg"

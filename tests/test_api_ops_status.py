"""Shelter/road status: one source of truth (shelters.open / roads.closed of
migration 010), written by the API with audit in one transaction, kept by
load-geo; migration 031 folds the old API tables in."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from haixun.data.geography import parse_geography
from haixun.data.sync import LOADER_ACTOR, sync_to_db
from haixun.settings import Settings
from haixun.store.migrate import load_migrations
from tests.support.api import add_user, running_api, sync_test_geography
from tests.support.api import sample_geography as geography_doc
from tests.support.wait import eventually


async def _login(c: httpx.AsyncClient) -> dict[str, str]:
    r = await c.post("/api/v1/auth/login", json={"username": "dora", "password": "correct horse battery"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_officer_status_is_the_column_load_geo_keeps(settings: Settings, db_url: str, tmp_path: Path) -> None:
    add_user(db_url, "dora", "duty")
    sync_test_geography(db_url)
    async with running_api(settings, tmp_path, state_poll_s=0.2) as api, httpx.AsyncClient(base_url=api.base) as c:
        h = await _login(c)
        before = (await c.get("/api/v1/risk", params={"lat": 30.6009, "lon": 121.02})).json()
        assert [s["id"] for s in before["shelters"]] == ["S01", "S02", "S03"]
        r = await c.post("/api/v1/shelters/S01/status", json={"open": False, "comment": "full"}, headers=h)
        assert r.status_code == 200
        assert r.json()["open"] is False and r.json()["status_updated_by"] == "user:dora"
        r = await c.post("/api/v1/roads/R01/status", json={"closed": True, "comment": "flooded"}, headers=h)
        assert r.json()["closed"] is True and r.json()["status_updated_by"] == "user:dora"
        # the resident lookup follows at once (no stale cache): S01 closed, R01 listed as closed
        after = (await c.get("/api/v1/risk", params={"lat": 30.6009, "lon": 121.02})).json()
        assert [s["id"] for s in after["shelters"]] == ["S02", "S03"]
        assert after["roads"][0]["id"] == "R01" and after["roads"][0]["closed"] is True

        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT open, updated_by FROM shelters WHERE id = 'S01'").fetchone() == (False, "user:dora")
            assert conn.execute("SELECT closed, updated_by FROM roads WHERE id = 'R01'").fetchone() == (True, "user:dora")
            audit = conn.execute("SELECT action, target, before, after, comment FROM audit_log ORDER BY id").fetchall()
            assert audit == [("shelter.status", "shelter:S01", {"open": True}, {"open": False}, "full"),
                             ("road.status", "road:R01", {"closed": False}, {"closed": True}, "flooded")]
            # no second status table exists any more
            assert conn.execute("SELECT to_regclass('shelter_status'), to_regclass('road_status')").fetchone() == (None, None)
            # load-geo again: the file says open / not closed, the officer's change stays
            result = sync_to_db(conn, parse_geography(geography_doc(), "test"))
            assert "shelter S01" in result.kept_state and "road R01" in result.kept_state
            assert conn.execute("SELECT open, updated_by FROM shelters WHERE id = 'S01'").fetchone() == (False, "user:dora")
        assert (await c.get("/api/v1/shelters")).json()["items"][0]["open"] is False

        # load-geo --force-state resets it (no NOTIFY): the API's status poll picks it up
        with psycopg.connect(db_url) as conn:
            sync_to_db(conn, parse_geography(geography_doc(), "test"), force_state=True)
            assert conn.execute("SELECT open, updated_by FROM shelters WHERE id = 'S01'").fetchone() == (True, LOADER_ACTOR)
        items = (await c.get("/api/v1/shelters")).json()["items"]
        assert items[0]["open"] is True and items[0]["status_updated_by"] == LOADER_ACTOR

        async def s01_back() -> bool:
            r = (await c.get("/api/v1/risk", params={"lat": 30.6009, "lon": 121.02})).json()
            return [s["id"] for s in r["shelters"]] == ["S01", "S02", "S03"]
        await eventually(s01_back, timeout=60)


async def test_status_before_load_geo_is_refused(settings: Settings, db_url: str, tmp_path: Path) -> None:
    add_user(db_url, "dora", "duty")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        h = await _login(c)
        r = await c.post("/api/v1/shelters/S01/status", json={"open": False}, headers=h)
        assert r.status_code == 409 and "load-geo" in r.json()["detail"]
        assert (await c.post("/api/v1/shelters/NOPE/status", json={"open": False}, headers=h)).status_code == 404
        # without rows the file's initial values are served
        items = {s["id"]: s for s in (await c.get("/api/v1/shelters")).json()["items"]}
        assert items["S04"]["open"] is False and items["S01"]["open"] is True and items["S01"]["status_updated_by"] is None
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


@pytest.mark.parametrize("table,key,column,item", [("shelter_status", "shelter_id", "open", "S04"),
                                                   ("road_status", "road_id", "closed", "R01")])
def test_migration_031_moves_old_status_rows_and_drops_the_table(db_url: str, table: str, key: str, column: str,
                                                                  item: str) -> None:
    sync_test_geography(db_url)
    (old,) = [m for m in load_migrations() if m.name.startswith("026_")]
    (fold,) = [m for m in load_migrations() if m.name.startswith("031_")]
    target = "shelters" if table == "shelter_status" else "roads"
    with psycopg.connect(db_url, autocommit=True) as conn:
        initial = conn.execute(f"SELECT {column} FROM {target} WHERE id = %s", (item,)).fetchone()[0]
        conn.execute(old.sql)  # a database as the API left it before 031
        conn.execute(f"INSERT INTO {table} ({key}, {column}, comment, updated_by) VALUES (%s, %s, 'x', 'user:wang')",
                     (item, not initial))
        conn.execute(fold.sql)
        assert conn.execute(f"SELECT {column}, updated_by FROM {target} WHERE id = %s", (item,)).fetchone() == \
            (not initial, "user:wang")
        assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None
        conn.execute(fold.sql)  # idempotent

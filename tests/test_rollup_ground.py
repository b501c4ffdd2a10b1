"""The roll-up's low-ground test gets each village's lowest ground from the geography, the same from
the packaged file and from the database the engine reads after `haixun load-geo` (issue 13)."""

from __future__ import annotations

import asyncio

import psycopg

from haixun.data.geography import load_geography
from haixun.data.riskspecs import area_specs
from haixun.data.sync import sync_to_db
from haixun.engine.evaluate import load_geography_from_db


def test_every_village_has_its_lowest_ground_from_the_file() -> None:
    geo = load_geography()
    villages, _ = area_specs(geo)
    typical = {v.id: v.ground_level_m for v in geo.villages}
    for spec in villages:
        assert spec.ground is not None, spec.id
        # never above the village's own typical ground; lower only where a road low point lies in it
        assert spec.ground.level_m <= typical[spec.id]
        if spec.ground.level_m < typical[spec.id]:
            assert spec.ground.source.startswith("road ") and spec.ground.source.endswith("low point")


def test_the_database_geography_gives_the_same_grounds_as_the_file(db_url: str) -> None:
    geo = load_geography()
    with psycopg.connect(db_url, autocommit=True) as conn:
        sync_to_db(conn, geo)

    async def run():  # type: ignore[no-untyped-def]
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await load_geography_from_db(conn)

    from_db = asyncio.run(run())
    assert from_db is not None
    file_villages, _ = area_specs(geo)
    assert {v.id: v.ground for v in from_db.villages} == {v.id: v.ground for v in file_villages}

"""sync_to_db and the load-geo / geo-check commands against the real PostgreSQL."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from haixun.cli import main
from haixun.data.geography import Geography, load_geography, parse_geography, read_document
from haixun.data.sync import LOADER_ACTOR, sync_to_db
from haixun.settings import Settings

TABLES = ("towns", "villages", "segments", "shelters", "roads", "served_area", "stations", "cameras")


@pytest.fixture(scope="module")
def geo() -> Geography:
    return load_geography()


def _snapshot(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in TABLES}


def test_sync_fills_every_table(db_url: str, geo: Geography) -> None:
    with psycopg.connect(db_url) as conn:
        result = sync_to_db(conn, geo)
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        version = conn.execute("SELECT value FROM store_info WHERE key = 'geography_version'").fetchone()[0]
        seg = conn.execute("SELECT ordinal, town_id, warning_levels, tide_station, geometry->>'type', props->'assumed' "
                           "FROM segments WHERE id = 'PH01'").fetchone()
        station = conn.execute("SELECT kind, quantities, props->>'source', active FROM stations "
                               "WHERE id = %s", (geo.segments[0].tide_station,)).fetchone()
        village = conn.execute("SELECT contact->>'phone', (contact->>'sample')::boolean FROM villages "
                               "ORDER BY id LIMIT 1").fetchone()
    assert counts == {"towns": len(geo.towns), "villages": len(geo.villages), "segments": len(geo.segments),
                      "shelters": len(geo.shelters), "roads": len(geo.roads), "served_area": 1,
                      "stations": len(geo.stations), "cameras": len(geo.cameras)}
    assert result.changed["segments"] == len(geo.segments) and result.version == geo.version == version
    assert seg[0] == 1 and seg[1] == geo.segments[0].town_id and seg[3] == geo.segments[0].tide_station
    assert seg[2] == geo.segments[0].warning_levels.as_dict() and seg[4] == "LineString"
    assert "warning_levels_m" in seg[5]
    assert station[0] in ("tide_gauge", "multi") and "tide_level" in station[1] and station[2:] == ("geography", True)
    assert village[0].startswith("0573-8500-") and village[1] is True


def test_sync_twice_is_idempotent(db_url: str, geo: Geography) -> None:
    with psycopg.connect(db_url) as conn:
        sync_to_db(conn, geo)
        before = _snapshot(conn)
        again = sync_to_db(conn, geo)
        after = _snapshot(conn)
    assert again.total_changed == 0, again
    assert before == after  # including updated_at: nothing was rewritten


def test_officer_state_survives_reload_unless_forced(db_url: str, geo: Geography) -> None:
    shelter = next(s for s in geo.shelters if s.open)
    road = geo.roads[0]
    with psycopg.connect(db_url) as conn:
        sync_to_db(conn, geo)
        conn.execute("UPDATE shelters SET open = false, updated_by = 'duty:wang', updated_at = now() WHERE id = %s",
                     (shelter.id,))
        conn.execute("UPDATE roads SET closed = true, updated_by = 'duty:wang', updated_at = now() WHERE id = %s",
                     (road.id,))
        conn.commit()

        # the file changes the shelter's capacity: file data updates, officer state stays
        doc = copy.deepcopy(read_document()[0])
        for f in doc["features"]:
            if f["properties"]["layer"] == "shelter" and f["properties"]["id"] == shelter.id:
                f["properties"]["capacity"] += 100
        changed_geo = parse_geography(doc)
        result = sync_to_db(conn, changed_geo)
        row = conn.execute("SELECT open, updated_by, capacity FROM shelters WHERE id = %s", (shelter.id,)).fetchone()
        road_row = conn.execute("SELECT closed, updated_by FROM roads WHERE id = %s", (road.id,)).fetchone()
        assert row == (False, "duty:wang", shelter.capacity + 100)
        assert road_row == (True, "duty:wang")
        assert f"shelter {shelter.id}" in result.kept_state and f"road {road.id}" in result.kept_state
        assert result.changed["shelters"] == 1

        forced = sync_to_db(conn, changed_geo, force_state=True)
        row = conn.execute("SELECT open, updated_by FROM shelters WHERE id = %s", (shelter.id,)).fetchone()
        road_row = conn.execute("SELECT closed, updated_by FROM roads WHERE id = %s", (road.id,)).fetchone()
    assert row == (True, LOADER_ACTOR) and road_row == (road.closed, LOADER_ACTOR)
    assert forced.kept_state == [] and forced.changed["shelters"] == 1 and forced.changed["roads"] == 1


def test_removed_features_leave_the_database(db_url: str, geo: Geography) -> None:
    doc = copy.deepcopy(read_document()[0])
    gone_shelter = next(f for f in doc["features"] if f["properties"]["layer"] == "shelter")["properties"]["id"]
    gone_camera = next(f for f in doc["features"] if f["properties"]["layer"] == "camera")["properties"]["id"]
    doc["features"] = [f for f in doc["features"] if f["properties"]["id"] not in (gone_shelter, gone_camera)]
    with psycopg.connect(db_url) as conn:
        sync_to_db(conn, geo)
        conn.execute("INSERT INTO cameras (id, kind, name, lat, lon) VALUES ('OTHER-1', 'thermal_ptz', 'x', 30.6, 121.1)")
        result = sync_to_db(conn, parse_geography(doc))
        shelters = {r[0] for r in conn.execute("SELECT id FROM shelters").fetchall()}
        cameras = dict(conn.execute("SELECT id, active FROM cameras").fetchall())
    assert gone_shelter not in shelters and len(shelters) == len(geo.shelters) - 1
    assert cameras[gone_camera] is False  # deactivated, kept for its events
    assert cameras["OTHER-1"] is True     # not the file's camera: untouched
    assert result.removed["shelters"] == 1 and result.removed["cameras"] == 1


def test_cli_load_geo_and_geo_check(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HAIXUN_DATABASE_URL", settings.database_url)
    assert main(["geo-check"]) == 0
    assert f"{len(load_geography().segments)} segments" in capsys.readouterr().out
    assert main(["load-geo"]) == 0
    out = capsys.readouterr().out
    assert "loaded" in out
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM segments").fetchone()[0] == len(load_geography().segments)

    doc = copy.deepcopy(read_document()[0])
    doc["features"][0]["properties"]["tide_station"] = "NOPE"
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["geo-check", "--path", str(bad)]) == 1
    assert "tide_station 'NOPE' is not a station" in capsys.readouterr().out
    assert main(["load-geo", "--path", str(bad)]) == 1


def test_status_changes_by_the_loader_notify_the_api_and_unchanged_loads_do_not(db_url: str, geo: Geography) -> None:
    from haixun.store.channels import ALARM_CHANNEL

    shelter = next(s for s in geo.shelters if s.open)
    with psycopg.connect(db_url, autocommit=True) as listener, psycopg.connect(db_url) as conn:
        listener.execute(f"LISTEN {ALARM_CHANNEL}")
        sync_to_db(conn, geo)
        conn.commit()
        first = [n.payload for n in listener.notifies(timeout=1.0, stop_after=1)]
        assert [json.loads(p) for p in first] == [{"event": "ops"}]

        sync_to_db(conn, geo)  # nothing changed: no event
        conn.commit()
        assert list(listener.notifies(timeout=0.5)) == []

        conn.execute("UPDATE shelters SET open = false, updated_by = 'duty:wang' WHERE id = %s", (shelter.id,))
        conn.commit()
        sync_to_db(conn, geo, force_state=True)  # the loader reopens it: the API must hear of it
        conn.commit()
        forced = [json.loads(n.payload) for n in listener.notifies(timeout=1.0, stop_after=1)]
    assert forced == [{"event": "ops"}]

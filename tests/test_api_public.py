"""Public endpoints: risk (404/422, code by zone, no location in logs), segments, warnings, CAP, health."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import psycopg
import xmlschema

from haixun.api.cap import CAP_NS, XSD_PATH
from haixun.api.logfilter import LocationScrubber
from haixun.settings import Settings
from tests.support.api import engine_write, running_api, seen_seq, seg_entry

NS = {"c": CAP_NS}


async def test_risk_outside_invalid_and_inside(settings: Settings, db_url: str, tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {"PH01": seg_entry("orange", overtopping_lpsm=2.0, freeboard_m=0.8,
                                                          hazards=[{"hazard": "storm_tide", "level": "orange",
                                                                    "value": 6.1, "unit": "m", "threshold": 6.0},
                                                                   {"hazard": "overtopping", "level": "yellow",
                                                                    "value": 2.0, "unit": "l/s/m", "threshold": 1.0}]),
                                       "PH02": seg_entry("none")}}, kind="snapshot")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        r = await c.get("/api/v1/risk", params={"lat": 31.5, "lon": 121.02})
        assert r.status_code == 404 and "outside the served area" in r.json()["detail"]
        for bad in ({"lat": "abc", "lon": 121.0}, {"lat": 95, "lon": 121.0}, {"lat": 30.6}, {"lat": "nan", "lon": 121}):
            assert (await c.get("/api/v1/risk", params=bad)).status_code == 422, bad
        # 100 m behind PH01 (zone B): matrix orange x B = orange
        r = await c.get("/api/v1/risk", params={"lat": 30.6009, "lon": 121.02}, headers={"Accept-Language": "en-GB"})
        body = r.json()
        assert r.status_code == 200 and body["code"] == "orange" and body["lang"] == "en"
        assert body["zone"]["id"] == "B" and body["zone"]["side"] == "landward"
        assert body["segments"][0]["id"] == "PH01"
        assert [s["id"] for s in body["shelters"]] == ["S01", "S02", "S03"]  # S04 nearer but closed
        assert body["contact"]["village_id"] == "V01"
        assert body["reasons"][0]["hazard"] == "storm_tide"
        assert body["wall"]["freeboard_m"] == 0.8 and body["wall"]["overtopping_class"] == "people_off_the_crest"
        assert body["roads"][0]["id"] == "R01" and body["roads"][0]["flooded_low_points"][0]["ground_level_m"] == 3.0
        # on the beach (seaward, zone A): orange x A = red
        r = await c.get("/api/v1/risk", params={"lat": 30.5985, "lon": 121.02, "lang": "zh"})
        assert r.json()["zone"]["id"] == "A" and r.json()["code"] == "red" and r.json()["lang"] == "zh"
        # 4 km inland is outside the test served area; 2 km behind PH02 (none) -> none
        r = await c.get("/api/v1/risk", params={"lat": 30.618, "lon": 121.08})
        assert r.json()["code"] == "none" and r.json()["zone"]["id"] == "D"


async def test_risk_unknown_without_decisions(settings: Settings, db_url: str, tmp_path: Path) -> None:
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        body = (await c.get("/api/v1/risk", params={"lat": 30.601, "lon": 121.02})).json()
        assert body["code"] == "unknown" and body["reasons"][-1]["hazard"] == "stale_data"


def test_access_log_never_shows_the_location() -> None:
    rec = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                            ("127.0.0.1:5", "GET", "/api/v1/risk?lat=30.6&lon=121.0", "1.1", 200), None)
    LocationScrubber().filter(rec)
    assert "30.6" not in rec.getMessage() and "/api/v1/risk" in rec.getMessage()
    rec = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
                            ("127.0.0.1:5", "/ws/risk?lat=30.6&lon=121.0"), None)
    LocationScrubber().filter(rec)
    assert "lat=" not in rec.getMessage()


async def test_segments_warnings_and_readiness(settings: Settings, db_url: str, tmp_path: Path) -> None:
    engine_write(db_url, {"segments": {"PH01": seg_entry("yellow")},
                          "areas": {"villages": {"V01": seg_entry("yellow"), "V02": seg_entry("none")}}}, kind="snapshot")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO decisions (subject_kind, subject_id, decided_at, level, raw_level, decision, config_version) "
                     "VALUES ('segment', 'PH01', now(), 'yellow', 'yellow', '{}', 'v1')")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        fc = (await c.get("/api/v1/segments")).json()
        assert fc["type"] == "FeatureCollection"
        levels = {f["id"]: f["properties"]["level"] for f in fc["features"]}
        assert levels == {"PH01": "yellow", "PH02": "unknown"}
        one = (await c.get("/api/v1/segments/PH01")).json()
        assert one["properties"]["history"][0]["config_version"] == "v1"
        assert (await c.get("/api/v1/segments/NOPE")).status_code == 404
        w = (await c.get("/api/v1/warnings")).json()["city"]
        assert w["level"] == "yellow" and w["counts"]["yellow"] == 1 and w["counts"]["none"] == 1
        assert w["towns"][0]["population"] == {"yellow": 8000}
        assert (await c.get("/healthz")).json() == {"status": "ok"}
        r = await c.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["database"]["ok"] is True
        assert r.json()["checks"]["engine_leader"]["ok"] is False  # no engine in this test
        m = (await c.get("/metrics")).text
        assert "haixun_api_requests_total" in m and "haixun_ws_clients" in m


async def test_cap_alert_update_cancel_chain_validates(settings: Settings, db_url: str, tmp_path: Path) -> None:
    schema = xmlschema.XMLSchema(str(XSD_PATH))
    engine_write(db_url, {"segments": {}, "areas": {"villages": {"V01": seg_entry("orange"), "V02": seg_entry("none")}}},
                 kind="snapshot")
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        async def cap() -> ET.Element:
            r = await c.get("/api/v1/cap")
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/cap+xml")
            schema.validate(r.text)
            return ET.fromstring(r.content)

        first = await cap()
        assert first.findtext("c:msgType", namespaces=NS) == "Alert"
        assert first.find("c:references", NS) is None
        infos = first.findall("c:info", NS)
        assert [i.findtext("c:language", namespaces=NS) for i in infos] == ["zh-CN", "en-US"]
        assert infos[0].findtext("c:severity", namespaces=NS) == "Severe"
        poly = infos[0].find("c:area/c:polygon", NS).text.split()
        assert poly[0] == poly[-1] and len(poly) >= 4, poly
        assert poly[0] == "30.600000,121.000000", poly
        again = await cap()  # unchanged situation: the same alert
        assert again.findtext("c:identifier", namespaces=NS) == first.findtext("c:identifier", namespaces=NS)

        await seen_seq(api, engine_write(db_url, {"areas": {"villages": {"V02": seg_entry("red")}}}))
        upd = await cap()
        assert upd.findtext("c:msgType", namespaces=NS) == "Update"
        ref = f"{first.findtext('c:sender', namespaces=NS)},{first.findtext('c:identifier', namespaces=NS)}," \
              f"{first.findtext('c:sent', namespaces=NS)}"
        assert upd.findtext("c:references", namespaces=NS) == ref
        assert {i.findtext("c:severity", namespaces=NS) for i in upd.findall("c:info", NS)} == {"Extreme", "Severe"}

        await seen_seq(api, engine_write(db_url, {"areas": {"villages": {"V01": seg_entry("none"), "V02": seg_entry("none")}}}))
        cancel = await cap()
        assert cancel.findtext("c:msgType", namespaces=NS) == "Cancel"
        assert upd.findtext("c:identifier", namespaces=NS) in cancel.findtext("c:references", namespaces=NS)
        again = await cap()  # the Cancel stays the current message until something is warned again
        assert again.findtext("c:identifier", namespaces=NS) == cancel.findtext("c:identifier", namespaces=NS)
        items = (await c.get("/api/v1/cap/alerts")).json()["items"]
        assert [i["msg_type"] for i in items] == ["Cancel", "Update", "Alert"]


async def test_cap_no_content_before_any_warning(settings: Settings, db_url: str, tmp_path: Path) -> None:
    async with running_api(settings, tmp_path) as api, httpx.AsyncClient(base_url=api.base) as c:
        assert (await c.get("/api/v1/cap")).status_code == 204


def test_xsd_rejects_an_invalid_alert() -> None:
    schema = xmlschema.XMLSchema(str(XSD_PATH))
    bad = (f'<alert xmlns="{CAP_NS}"><identifier>x</identifier><sender>s</sender>'
           "<sent>2021-07-26T01:00:00Z</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope></alert>")
    assert not schema.is_valid(bad)  # CAP forbids "Z": an explicit offset is required
    assert schema.is_valid(bad.replace("01:00:00Z", "01:00:00+00:00"))


def test_location_scrubbing_covers_every_spelling_of_the_path() -> None:
    from haixun.api.logfilter import scrub

    for target in ("/api/v1/risk?lat=30.6012&lon=121.0234", "/api/v1/risk/?lat=30.6012&lon=121.0234",
                   "/ws/risk/?lat=30.6012&lon=121.0234", "//api/v1//risk?lat=30.6012&lon=121.0234",
                   "/api/v1/./risk?lon=121.0234&lat=30.6012", "/API/V1/RISK?lat=30.6012&lon=121.0234",
                   "/api/v1/%72isk?lat=30.6012&lon=121.0234", "/api/v1/risk%3Flat=30.6012&lon=121.0234",
                   "/api/v1/risk%253Flat=30.6012&lon=121.0234", "/anything?x=1&lat=30.6012&lon=121.0234",
                   "/ws/risk?lang=en&lat=30.6012&lon=121.0234"):
        for fmt in ('%s - "%s %s HTTP/%s" %d', '%s - "WebSocket %s" [accepted]'):
            args = (("127.0.0.1:5", "GET", target, "1.1", 200) if fmt.count("%") == 5 else ("127.0.0.1:5", target))
            rec = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, fmt, args, None)
            LocationScrubber().filter(rec)
            msg = rec.getMessage()
            assert "30.6012" not in msg and "121.0234" not in msg, (target, msg)
        assert "30.6012" not in scrub(f'GET {target} HTTP/1.1" 200')
    # other query strings stay
    assert scrub("/api/v1/stations/ST1/readings?quantity=tide_level") == "/api/v1/stations/ST1/readings?quantity=tide_level"

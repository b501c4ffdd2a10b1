"""One datum, explicit (issue 13): every level the system compares is on CN1985.

Stations carry their datum and offset in the geography; ingest converts at one
place (before QC); the simulator's tide, the QC spans, the crest and warning
levels are on the same datum and consistent with each other.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from haixun.contract import format_ts
from haixun.data.datum import NOMINAL_OFFSETS_M, WARNING_DATUM, from_warning_datum, to_warning_datum
from haixun.data.geography import GeographyError, load_geography, parse_geography
from haixun.ingest.pipeline import RawMessage, process
from haixun.ingest.qc import PASS, SUSPECT, QcEngine, load_qc_config
from haixun.ingest.service import IngestService
from haixun.simulators import tide as tide_mod
from haixun.simulators.geo import load_sim_geography
from haixun.simulators.scenario import PointState, observe
from tests.support.db import add_stations, scalar, wait_for_count
from tests.support.mqtt import obs_json, publish_all
from tools.build_geojson import build_document

YEAR = np.arange(datetime(2021, 1, 1, tzinfo=UTC).timestamp(),
                 datetime(2022, 1, 1, tzinfo=UTC).timestamp(), 900.0)
INFA_MAX_SURGE_M = 2.4  # domain brief: observed 120-240 cm


def _year_tide(lon: float) -> np.ndarray:
    return tide_mod.tide_levels(YEAR, tide_mod.site_along_coast(lon))


def test_every_station_has_a_datum_and_an_offset_to_cn1985() -> None:
    geo = load_geography()
    for st in geo.stations:
        assert st.datum, st.id
        assert st.datum_offset_m == pytest.approx(NOMINAL_OFFSETS_M.get(st.datum, st.datum_offset_m), abs=0.3)
    hg = geo.station("HG-T01")
    assert (hg.datum, hg.datum_offset_m) == ("Wusong", -1.717)
    assert geo.station("ZP-T01").datum == WARNING_DATUM and geo.station("ZP-T01").datum_offset_m == 0.0


def test_geography_refuses_a_wrong_sign_or_a_missing_datum() -> None:
    doc = build_document()
    broken = copy.deepcopy(doc)
    hg = next(f for f in broken["features"] if f["properties"]["id"] == "HG-T01")
    hg["properties"]["datum_offset_m"] = 1.717  # sign error: would put Huanggu 3.4 m too high
    with pytest.raises(GeographyError, match="HG-T01.*nominal"):
        parse_geography(broken)
    broken = copy.deepcopy(doc)
    zp = next(f for f in broken["features"] if f["properties"]["id"] == "ZP-T01")
    del zp["properties"]["datum"]
    with pytest.raises(GeographyError, match="ZP-T01.*datum"):
        parse_geography(broken)


def test_simulated_tide_swings_around_zero_on_cn1985() -> None:
    geo = load_sim_geography()
    for st in geo.stations:
        if "tide_level" not in st.quantities:
            continue
        h = _year_tide(st.lon)
        assert abs(float(h.mean())) <= 0.5, st.id  # the 1985 datum's zero is close to mean sea level
        assert h.min() < -2.0 and h.max() > 2.5, st.id  # a few metres either side, lows negative


def test_warning_crest_and_ground_levels_fit_the_tide() -> None:
    geo = load_geography()
    stations = {s.id: s for s in geo.stations}
    for seg in geo.segments:
        h = _year_tide(stations[seg.tide_station].lon)
        hat = float(h.max())
        wl = seg.warning_levels
        # blue about the highest astronomical tide: a calm year reaches it at most at the top springs
        assert hat - 0.4 <= wl.blue <= hat + 0.5, (seg.id, wl.blue, hat)
        # orange/red need a real surge on a spring high water (In-fa: 1.2-2.4 m gave orange)
        assert hat + 0.6 <= wl.orange <= hat + INFA_MAX_SURGE_M, seg.id
        assert wl.red <= hat + INFA_MAX_SURGE_M + 0.5, seg.id
        # the seawall stands well above the red level, its toe below mean high water
        assert seg.crest_level_m >= wl.red + 2.5, seg.id
        assert seg.toe_level_m < float(np.mean(h[h > np.percentile(h, 90)])), seg.id
    for road in geo.roads:
        for lp in road.low_points:  # low-lying plain: below the red level, above mean sea level
            assert 0.5 <= lp.ground_level_m <= 4.7, road.id


def test_qc_tide_spans_are_on_the_same_datum_as_the_tide() -> None:
    q = load_qc_config().quantities["tide_level"]
    lows, highs = [], []
    for st in load_sim_geography().stations:
        if "tide_level" in st.quantities:
            h = _year_tide(st.lon)
            lows.append(float(h.min()))
            highs.append(float(h.max()))
    lat, hat = min(lows), max(highs)
    lo, hi = q.suspect_span
    # the climatological span hugs the tide (a 1.8 m datum error must not hide inside it) ...
    assert lat - 2.0 <= lo <= lat - 0.5
    assert hat + INFA_MAX_SURGE_M <= hi <= hat + INFA_MAX_SURGE_M + 1.5
    # ... and the sensor span is wider still
    assert q.fail_span[0] < lo and q.fail_span[1] > hi


def test_conversion_is_the_inverse_of_the_simulators_report() -> None:
    assert to_warning_datum("tide_level", 4.0, -1.717) == pytest.approx(2.283)
    assert to_warning_datum("wind_speed", 4.0, -1.717) == 4.0  # only levels move
    assert from_warning_datum("tide_level", to_warning_datum("tide_level", 3.3, -1.717), -1.717) == pytest.approx(3.3)
    hg = load_sim_geography().station("HG-T01")
    state = PointState(0.0, 1.0, 0.0, 1.0, 3.0, 4.0, 90.0, 1010.0, 0.0, 0.5, 5.0, 25.0, 25.0, 20000.0)
    reported = observe(hg, state, np.random.default_rng(0))["tide_level"]
    assert reported == pytest.approx(1.0 + 1.717, abs=0.05)  # a Wusong gauge reports 1.717 m more


def test_pipeline_converts_before_qc() -> None:
    qc = QcEngine(load_qc_config())
    qc.datum_offsets = {"HG-T01": -1.717}
    now = datetime.now(UTC).replace(microsecond=0)
    body = json.dumps({"ts": format_ts(now), "obs": {"tide_level": 7.4}}).encode()
    msgs = [RawMessage("haixun/v1/obs/HG-T01", body, now), RawMessage("haixun/v1/obs/ZP-T01", body, now)]
    out = process("haixun", msgs, stations={"HG-T01", "ZP-T01"}, cameras=set(), qc=qc, max_bytes=65536)
    by = {r.station_id: r for r in out.readings}
    # 7.4 m Wusong = 5.683 m CN1985: a storm high water, inside the climatological span
    assert by["HG-T01"].value == pytest.approx(5.683) and by["HG-T01"].qc == PASS
    # the same number on CN1985 is beyond any Zhapu storm: suspect
    assert by["ZP-T01"].value == 7.4 and by["ZP-T01"].qc == SUSPECT


async def test_ingest_stores_cn1985_for_a_wusong_gauge(settings, mqtt_endpoint) -> None:
    add_stations(settings.database_url, ["WUS1", "CN1"])
    with __import__("psycopg").connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE stations SET datum = 'Wusong', datum_offset_m = -1.717 WHERE id = 'WUS1'")
    now = datetime.now(UTC).replace(microsecond=0)
    msgs = [(settings.topic("obs", sid), obs_json(format_ts(now - timedelta(minutes=1)), {"tide_level": 3.0}))
            for sid in ("WUS1", "CN1")]
    async with IngestService(settings):
        await publish_all(mqtt_endpoint, msgs)
        assert await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", 2) == 2
    assert scalar(settings.database_url, "SELECT value FROM readings WHERE station_id = 'WUS1'") == pytest.approx(1.283)
    assert scalar(settings.database_url, "SELECT value FROM latest_readings WHERE station_id = 'WUS1'") \
        == pytest.approx(1.283)
    assert scalar(settings.database_url, "SELECT value FROM readings WHERE station_id = 'CN1'") == 3.0

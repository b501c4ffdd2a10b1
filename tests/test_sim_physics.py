"""Simulator physics: the In-fa replay lands in the documented ranges (pure, no I/O)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from haixun.api.routes_ops import FEED_SOURCE_PATTERN, FeedIn
from haixun.data.geography import GeographyError, load_geography
from haixun.riskcode import FEED_KINDS
from haixun.simulators import surge, tide, waves
from haixun.simulators import typhoon as ty
from haixun.simulators.cameras import camera_events, overtopping_lpsm
from haixun.simulators.faults import FaultKind, FaultSpec, resolve_faults
from haixun.simulators.feeds import LEVELS, FeedIssuer, bulletins
from haixun.simulators.geo import load_sim_geography
from haixun.simulators.scenario import build_scenario
from haixun.simulators.source import ModelSource, replay_source

LANDFALL = ty.INFA_LANDFALL_PINGHU.timestamp()


@pytest.fixture(scope="module")
def geo():
    return load_sim_geography()


@pytest.fixture(scope="module")
def storm(geo):
    t0 = datetime(2021, 7, 24, tzinfo=ty.CST).timestamp()
    t1 = datetime(2021, 7, 28, tzinfo=ty.CST).timestamp()
    return build_scenario(geo, t0, t1, track=ty.INFA_2021, seed=1)


def _zhapu_ids(geo) -> tuple[str, str]:
    tide_id = next(s.id for s in geo.stations if s.id.startswith("ZP") and "tide_level" in s.quantities)
    wind_id = next(s.id for s in geo.stations if s.id.startswith("ZP") and "wind_speed" in s.quantities)
    return tide_id, wind_id


OVERNIGHT_HW = datetime(2021, 7, 25, 22, 40, tzinfo=ty.CST).timestamp()  # the high water of the night 25/26 July
MORNING_HW = datetime(2021, 7, 26, 10, 40, tzinfo=ty.CST).timestamp()  # the high water after the landfall


def _at(series, values, t: float) -> float:
    return float(np.interp(t, series.epoch_s, values))


def test_zhapu_surge_is_carried_by_the_overnight_high_water(geo, storm):
    """Issue 13 / the record: surge 120-240 cm overnight 25/26 July (Jiaxing orange storm-surge
    warning), downgraded by the morning; the old 135 deg bay axis put it 12 h late."""
    tide_id, _ = _zhapu_ids(geo)
    s = storm.stations[tide_id]
    night = [t for t in np.arange(OVERNIGHT_HW - 3 * 3600, OVERNIGHT_HW + 3 * 3600 + 1, 600)]
    assert all(1.2 <= _at(s, s.surge, t) <= 2.4 for t in night), "surge 1.2-2.4 m around the overnight high water"
    i = int(np.argmax(s.surge))
    assert 1.2 <= s.surge[i] <= 2.4
    assert s.epoch_s[i] < datetime(2021, 7, 26, 3, tzinfo=ty.CST).timestamp(), "the surge peaks in the night"
    assert _at(s, s.surge, MORNING_HW) < 0.9, "much less surge by the morning high water"
    # storm tide: the overnight high water is the highest water of the storm, orange at Zhapu
    # (PH05 orange 4.3 m, red 4.8 m CN1985) but under red
    k = int(np.argmax(s.level))
    assert abs(s.epoch_s[k] - OVERNIGHT_HW) <= 3600.0
    seg = next(x for x in geo.segments if x.tide_station == tide_id)
    assert seg.warning_levels_m["orange"] <= s.level[k] < seg.warning_levels_m["red"]
    assert _at(s, s.level, MORNING_HW) < seg.warning_levels_m["yellow"]
    assert s.pressure.min() < 995.0


def test_zhapu_wind_force_10_to_11_near_landfall(geo, storm):
    _, wind_id = _zhapu_ids(geo)
    w = storm.stations[wind_id]
    j = int(np.argmax(w.wind_speed))
    assert 24.5 <= w.wind_speed[j] < 32.7, "peak 10-min mean at Zhapu: Beaufort 10-11"
    assert abs(w.epoch_s[j] - LANDFALL) <= 2 * 3600.0, "wind peak near landfall"
    assert 1.3 <= w.wind_gust[j] / w.wind_speed[j] <= 1.5


def test_calm_before_and_after_the_storm_at_zhapu(geo, storm):
    """The default replay starts and ends in calm weather (below Beaufort 6 mean, 7 gust)."""
    _, wind_id = _zhapu_ids(geo)
    w = storm.stations[wind_id]
    for t in (datetime(2021, 7, 24, 8, tzinfo=ty.CST), datetime(2021, 7, 27, 6, tzinfo=ty.CST)):
        assert _at(w, w.wind_speed, t.timestamp()) < 10.8
        assert _at(w, w.wind_gust, t.timestamp()) < 13.9


def test_every_coastal_tide_station_sees_documented_surge(geo, storm):
    for st_ in geo.stations:
        if "tide_level" in st_.quantities:
            assert 1.2 <= storm.stations[st_.id].surge.max() <= 2.4, st_.id


def test_waves_nearshore_and_offshore(geo, storm):
    near = max(storm.segments[s.id].hs.max() for s in geo.segments)
    assert 2.5 <= near <= 4.0
    buoys = [s.id for s in geo.stations if s.kind == "wave_buoy"]
    assert buoys
    assert 3.5 <= max(storm.stations[b].hs.max() for b in buoys) <= 6.0


def test_tide_range_at_zhapu_spring_tides():
    t0 = datetime(2021, 7, 24, tzinfo=UTC).timestamp()
    e = t0 + np.arange(0, 4 * 86400, 300.0)
    lv = tide.tide_levels(e, tide.ZHAPU)
    for d in range(4):
        day = lv[(e >= t0 + d * 86400) & (e < t0 + (d + 1) * 86400)]
        assert 4.0 <= day.max() - day.min() <= 6.0
    assert 2.7 <= lv.max() <= 3.2, "spring high water just under the assumed blue 3.2 m CN1985 (re-based)"
    highs, _ = tide.high_and_low_waters(e, lv)
    nearest = min(abs(e[h] - LANDFALL) for h in highs)
    assert nearest <= 1.5 * 3600.0, "a high water near the landfall"


def test_tide_is_semidiurnal_with_neap_spring_cycle():
    t0 = datetime(2021, 7, 1, tzinfo=UTC).timestamp()
    e = t0 + np.arange(0, 30 * 86400, 600.0)
    lv = tide.tide_levels(e)
    highs, _ = tide.high_and_low_waters(e, lv)
    assert 55 <= len(highs) <= 60  # ~1.93 high waters per day
    daily = [np.ptp(lv[k: k + 144]) for k in range(0, len(lv) - 144, 144)]
    assert max(daily) - min(daily) > 1.5  # springs vs neaps


def test_tide_phase_lags_westward():
    e = LANDFALL + np.arange(-6 * 3600, 6 * 3600, 60.0)
    west = tide.tide_levels(e, tide.site_along_coast(121.03))
    east = tide.tide_levels(e, tide.site_along_coast(121.26))
    assert e[np.argmax(west)] > e[np.argmax(east)]


@hsettings(max_examples=40, deadline=None)
@given(vmax=st.floats(15, 60), dp=st.floats(10, 80), rmax=st.floats(10, 80))
def test_holland_profile_peaks_at_rmax(vmax, dp, rmax):
    state = ty.StormState(0.0, 30.0, 122.0, 1010.0 - dp, vmax, rmax, 0.0, 0.0)
    radii = np.linspace(0.2 * rmax, 5 * rmax, 200)
    speeds = [ty.storm_wind(state, 30.0 + r / ty.KM_PER_DEG_LAT, 122.0).speed_ms for r in radii]
    k = int(np.argmax(speeds))
    # At Rmax without Coriolis; Coriolis (large, weak storms) pulls the peak inward, never outward.
    assert 0.7 * rmax - 1.0 <= radii[k] <= 1.1 * rmax + 1.0
    assert speeds[k] == pytest.approx(vmax, rel=0.05)
    p_far = ty.storm_wind(state, 30.0 + 20 * rmax / ty.KM_PER_DEG_LAT, 122.0).pressure_hpa
    assert state.pressure_hpa < p_far <= 1010.0


def test_storm_state_hits_documented_anchor_points():
    s = ty.storm_state(datetime(2021, 7, 26, 5, tzinfo=ty.CST).timestamp())
    assert (s.pressure_hpa, s.vmax_ms) == (975.0, 33.0)
    # issue 13: at 08:00 the centre was ~25 km from the Pinghu-Jinshan border (the old track: 9 km)
    s = ty.storm_state(datetime(2021, 7, 26, 8, tzinfo=ty.CST).timestamp())
    assert 22.0 <= ty._bearing_distance(s.lat, s.lon, 30.67, 121.26)[1] <= 28.0
    s = ty.storm_state(LANDFALL)
    assert (s.pressure_hpa, s.vmax_ms) == (978.0, 28.0)
    assert ty._bearing_distance(s.lat, s.lon, 30.67, 121.26)[1] <= 5.0, "landfall at the east end of Pinghu"
    assert ty.storm_state(datetime(2021, 8, 10, tzinfo=UTC).timestamp()) is None


def test_fetch_limited_growth_and_depth_limit():
    h1, t1 = waves.fetch_limited(20.0, 10e3, 24 * 3600)
    h2, t2 = waves.fetch_limited(20.0, 100e3, 24 * 3600)
    h3, _ = waves.fetch_limited(30.0, 100e3, 24 * 3600)
    h4, _ = waves.fetch_limited(20.0, 100e3, 1 * 3600)  # duration-limited
    assert h1 < h2 < h3 and t1 < t2 and h4 < h2
    assert float(waves.depth_limited(5.0, 4.0, 0.55)) == pytest.approx(2.2)
    assert float(waves.tm10_from_tp(11.0)) == pytest.approx(10.0)


def test_surge_inverse_barometer_and_relaxation():
    assert float(surge.inverse_barometer_m(980.0)[()]) == pytest.approx(0.30)
    e = np.arange(0, 6 * 3600 + 1, 60.0)
    r = surge.relax(e, np.ones_like(e), 3600.0, 0.0)
    assert r[60] == pytest.approx(1 - np.exp(-1), abs=0.01)
    assert r[-1] > 0.99


def test_calm_weather_is_calm(geo):
    t0 = datetime(2024, 5, 10, tzinfo=UTC).timestamp()
    sc = build_scenario(geo, t0, t0 + 86400, track=None, seed=3)
    for s in sc.stations.values():
        assert s.wind_speed.max() < 13.0
        assert np.abs(s.surge).max() < 0.3
        assert (s.wind_gust >= s.wind_speed).all()
        assert s.rain.max() == 0.0


def test_cameras_overtopping_in_storm_people_in_calm(geo):
    src = replay_source(geo, ty.INFA_LANDFALL_PINGHU, historical=True, peak_in=timedelta(0))
    rng = np.random.default_rng(0)
    # the overnight high water of 25/26 July (issue 13): with the berm and wave wall factors only the
    # port quay walls overtop visibly (q >= 1 l/s/m); one hour after landfall nothing does
    when = datetime(2021, 7, 25, 22, 40, tzinfo=ty.CST)
    types = set()
    for cam in geo.cameras:
        segs = {s: (geo.segment(s), src.segment_state(s, when)) for s in cam.segment_ids}
        for ev in camera_events(cam, when, segs, list(geo.low_points), rng):
            types.add(ev["type"])
            assert 0.0 <= ev["confidence"] <= 1.0
            if ev["type"] == "overtopping":
                seg = geo.segment(ev["segment_id"])
                assert ev["q_lpsm"] == pytest.approx(
                    overtopping_lpsm(seg, *(lambda s: (s.level, s.hs, s.tm10))(segs[seg.id][1])), rel=0.01)
    assert "overtopping" in types
    calm = ModelSource(geo, 0.0, None, 0)
    noon = datetime(2024, 5, 10, 4, tzinfo=UTC)  # 12:00 local
    from haixun.simulators.cameras import CameraParams
    seen = set()
    for cam in geo.cameras:
        segs = {s: (geo.segment(s), calm.segment_state(s, noon)) for s in cam.segment_ids}
        seen |= {e["type"] for e in camera_events(cam, noon, segs, list(geo.low_points), rng,
                                                 CameraParams(person_probability=1.0))}
    assert seen == {"person_on_seawall"}


def _storm_bulletins(geo):
    src = replay_source(geo, ty.INFA_LANDFALL_PINGHU, historical=True, peak_in=timedelta(0))
    issuer = FeedIssuer("test")
    t, end = datetime(2021, 7, 24, 8, tzinfo=ty.CST), datetime(2021, 7, 27, 6, tzinfo=ty.CST)
    out = []
    while t <= end:
        out += [(t, b) for b in issuer.step(geo, src, t)]
        t += timedelta(hours=1)
    return src, out


def test_feed_bulletins_are_cap_series_that_follow_the_modeled_water(geo):
    src, issued = _storm_bulletins(geo)
    seg_ids = {s.id for s in geo.segments}
    idents = [b.identifier for _, b in issued]
    assert len(set(idents)) == len(idents), "every bulletin has its own identifier"
    series: dict[tuple, list] = {}
    for t, b in issued:
        d = b.document
        assert re.fullmatch(FEED_SOURCE_PATTERN, b.source), b.source  # the route's {source}
        body = FeedIn.model_validate(d)  # a valid body of POST /api/v1/feeds/{source}
        assert body.kind in FEED_KINDS and body.area.segments and set(body.area.segments) <= seg_ids
        series.setdefault((b.source, d["kind"], tuple(d["area"]["segments"])), []).append((t, d))
    assert {k[1] for k in series} == {"surge_forecast", "typhoon_warning"}
    for key, docs in series.items():
        types = [d["msgType"] for _, d in docs]
        assert types[0] == "Alert" and types[-1] == "Cancel" and set(types[1:-1]) <= {"Update"}, (key, types)
        for (_, prev), (_, cur) in zip(docs, docs[1:], strict=False):
            assert cur["references"] == [prev["identifier"]], "an update references the bulletin it replaces"
        assert docs[-1][1]["level"] == "none", "the all-clear"
        assert len({d["level"] for _, d in docs}) >= 3, "issued as the forecast changes, not once"
    # Zhapu: the levels follow the modeled Zhapu water (orange overnight, never red under the red level,
    # downgraded by the morning of the 26th)
    tide_id, _ = _zhapu_ids(geo)
    zp = next(docs for key, docs in series.items() if key[1] == "surge_forecast" and "PH05" in key[2])
    seg = next(s for s in geo.segments if s.id == "PH05")
    water = [src.station_state(tide_id, datetime(2021, 7, 24, 8, tzinfo=ty.CST) + timedelta(minutes=10 * i)).level
             for i in range(6 * 70)]
    assert max(water) < seg.warning_levels_m["red"]
    assert "red" not in {d["level"] for _, d in zp}

    def level_at(t):
        return [d["level"] for ti, d in zp if ti <= t][-1]

    assert level_at(datetime(2021, 7, 25, 20, tzinfo=ty.CST)) == "orange"
    assert LEVELS.index(level_at(datetime(2021, 7, 26, 8, tzinfo=ty.CST))) < LEVELS.index("orange")
    calm = ModelSource(geo, 0.0, None, 0)
    assert bulletins(geo, calm, datetime(2024, 5, 10, tzinfo=UTC)) == []


def test_fault_targets():
    gws = {"A1": "g1", "A2": "g1", "B1": "g2", "B2": "g2"}
    plan = resolve_faults([FaultSpec.parse("stuck@A1"), FaultSpec.parse("spike@0.5"), FaultSpec.parse("offline@B1")],
                          gws, seed=1)
    assert [f.kind for f in plan.for_station("A1")][0] is FaultKind.STUCK
    assert sum(any(f.kind is FaultKind.SPIKE for f in plan.for_station(s)) for s in gws) == 2
    assert set(plan.offline_gateways) == {"g2"}
    with pytest.raises(ValueError):
        FaultSpec.parse("melt@A1")


def test_sim_geography_is_the_validated_project_geography(tmp_path):
    data = load_geography()
    g = load_sim_geography()
    assert [s.id for s in g.segments] == [s.id for s in data.segments]
    assert {(s.id, s.gateway_id, s.segment_id) for s in g.stations} == \
        {(s.id, s.gateway_id, s.segment_id) for s in data.stations}
    assert {c.id: c.segment_ids for c in g.cameras} == {c.id: c.segment_ids for c in data.cameras}
    assert len(g.low_points) == sum(len(r.low_points) for r in data.roads) > 0
    ph01 = g.segment("PH01")
    assert ph01.warning_levels_m == data.segment("PH01").warning_levels.as_dict()
    assert ph01.crest_level_m == data.segment("PH01").crest_level_m
    # no silent fallback: a broken file is refused with the loader's message
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(GeographyError):
        load_sim_geography(bad)


def test_surge_bulletins_cover_the_next_high_water_they_forecast(geo):
    """Each surge bulletin (but the all-clear) names its forecast high water inside its own validity,
    and every modeled high water of the storm lies in the validity of the bulletin in force when it
    was forecast: with a 6 h horizon a bulletin issued just after a high water saw only that one,
    expired before the next, and riskcode fell back to its local projection (a false red)."""
    src, issued = _storm_bulletins(geo)
    surge = [(t, b.document) for t, b in issued if b.document["kind"] == "surge_forecast"
             and b.document["msgType"] != "Cancel"]
    assert surge
    for _t, d in surge:
        fc = d["forecast"]
        peak = datetime.fromisoformat(fc["peak_at"].replace("Z", "+00:00"))
        frm = datetime.fromisoformat(d["valid_from"].replace("Z", "+00:00"))
        to = datetime.fromisoformat(d["valid_to"].replace("Z", "+00:00"))
        assert frm <= peak <= to, (d["identifier"], peak, frm, to)
        # the next semidiurnal high water (about 12.4 h after the last) is inside the validity
        assert to - frm >= timedelta(hours=13)

"""Issue 12 "Done when": the Zhapu gateway switched off before landfall. PH05-PH09 and a resident
80 m behind PH07 (30.597724, 121.089384) are never shown as plain blue or none while their storm
tide is unknown. Driven through the offline timeline tool (the In-fa scenario) and the real riskcode;
tests/test_storm_series.py and tests/test_engine_outage.py cover the services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from haixun.data.geography import load_geography
from haixun.riskcode import SeawallIndex, load_config
from haixun.riskcode.geometry import location_code
from haixun.riskcode.levels import Level, Status
from haixun.simulators import typhoon as ty
from haixun.simulators.timeline import TimelineOptions, run_timeline, segment_specs
from tests.support.geo import behind

LANDFALL = ty.INFA_LANDFALL_PINGHU
OFF_AT = LANDFALL - timedelta(hours=1, minutes=50)
ZHAPU = ("PH05", "PH06", "PH07", "PH08", "PH09")
RESIDENT = (121.089384, 30.597724)  # lon, lat of the issue: 80 m behind PH07 in geography 1.2 (now seaward)


@pytest.fixture(scope="module")
def outage():
    opts = TimelineOptions(start=LANDFALL - timedelta(hours=6), end=LANDFALL + timedelta(hours=8), step_s=600.0,
                           cameras=True, offline_gateways=(("gw-zhapu", OFF_AT, None),))
    return run_timeline(opts)


def test_zhapu_segments_never_plain_blue_or_none_while_storm_tide_unknown(outage) -> None:
    seen_unknown = with_floor = 0
    for rec in outage.steps:
        for sid in ZHAPU:
            if "storm_tide" not in rec.unknown_hazards[sid]:
                assert rec.at < OFF_AT + timedelta(minutes=20), (sid, rec.at)  # stale within its limit
                continue
            seen_unknown += 1
            st = Status(rec.levels[sid], rec.floors[sid])
            assert st.level not in (Level.NONE, Level.BLUE), (sid, rec.at, st.label)
            assert st.is_unknown or st.level is Level.RED, (sid, rec.at, st.label)
            with_floor += st.floor is not Level.NONE
    # the outage really happened: storm tide unknown at every Zhapu segment from ~10 min after switch-off
    assert seen_unknown >= len(ZHAPU) * ((outage.steps[-1].at - OFF_AT) // timedelta(minutes=10) - 2)
    # and a known colour was there to hide it (the held level, the cameras' overtopping): today's rule
    # showed that colour plain; now it is "unknown, at least <colour>"
    assert with_floor > 0


def test_resident_behind_ph07_never_plain_blue_or_none_while_storm_tide_unknown(outage) -> None:
    config = load_config()
    specs = segment_specs(load_geography())
    index = SeawallIndex(config, specs)
    lat, lon = behind("PH07", 80.0)  # 80 m behind PH07 in the geography in use
    checked = 0
    for rec in outage.steps:
        statuses = {sid: Status(rec.levels[sid], rec.floors[sid]) for sid in rec.levels}
        for point in (RESIDENT, (lon, lat)):
            lc = location_code(config, index, *point, statuses)
            assert "PH07" in lc.segment_ids
            if any("storm_tide" in rec.unknown_hazards[s] for s in lc.segment_ids):
                checked += 1
                assert lc.code not in (Level.NONE, Level.BLUE), (point, rec.at, lc.status.label)
                assert lc.status.is_unknown or lc.code is Level.RED, (point, rec.at, lc.status.label)
    assert checked > 0

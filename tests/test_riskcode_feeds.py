"""Issue 12: official bulletins as series (riskcode.feeds.effective_feeds), pure."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from haixun.riskcode import ShorelineInputs, evaluate_shoreline
from haixun.riskcode.feeds import effective_feeds, feed_statuses
from haixun.riskcode.levels import Level
from haixun.riskcode.model import FeedItem
from tests.support.riskcode import CONFIG, NOW, obs_for, segment

H = timedelta(hours=1)
WARN = CONFIG.storm_tide.default_warning_levels_m  # the fixture segments have no levels of their own
CALM = WARN.blue - 1.0
ORANGE_TIDE = (WARN.orange + WARN.red) / 2
SEGS = [segment(i) for i in range(1, 5)]
LINES = {s.id: s.coords for s in SEGS}


def feed(ident: str, level: Level, sent_h: float, *, kind: str = "surge_forecast", source: str = "zj_marine",
         segs: tuple[str, ...] = (), refs: tuple[str, ...] = (), msg: str = "Alert", valid_h: float = 24.0,
         polygon: tuple = ()) -> FeedItem:
    sent = NOW + timedelta(hours=sent_h)
    return FeedItem(f"{source}:{ident}", "Zhejiang", kind, level, sent, sent + timedelta(hours=valid_h), "",
                    segs, polygon, source=source, identifier=ident, references=refs, msg_type=msg, sent=sent)


def test_red_then_blue_update_then_cancel() -> None:
    red = feed("A1", Level.RED, -3)
    blue = feed("A2", Level.BLUE, -1, refs=("A1",), msg="Update")
    cancel = feed("A3", Level.NONE, -0.5, refs=("A2",), msg="Cancel")
    assert effective_feeds([red], NOW) == [red]
    assert effective_feeds([red, blue], NOW) == [blue]  # today: both count and red wins
    st_ = feed_statuses([red, blue, cancel], NOW)
    assert st_[red.id].status == "superseded" and st_[red.id].by == "A2"
    assert st_[blue.id].status == "cancelled" and st_[cancel.id].status == "cancel"
    assert effective_feeds([red, blue, cancel], NOW) == []
    # before the Update was sent, the red counts
    assert effective_feeds([red, blue, cancel], NOW - 2 * H) == [red]


def test_newer_overlapping_alert_supersedes_without_reference_but_not_other_areas_kinds_or_sources() -> None:
    red = feed("A1", Level.RED, -3, segs=("PH01", "PH02"))
    blue = feed("B1", Level.BLUE, -1, segs=("PH02", "PH03"))  # overlaps PH02
    other_area = feed("C1", Level.ORANGE, -2, segs=("PH04",))
    other_kind = feed("D1", Level.YELLOW, -2, kind="wave_forecast", segs=("PH01",))
    other_source = feed("E1", Level.ORANGE, -2, source="nmefc", segs=("PH01",))
    eff = effective_feeds([red, blue, other_area, other_kind, other_source], NOW, LINES)
    assert set(f.identifier for f in eff) == {"B1", "C1", "D1", "E1"}


def test_polygon_area_compared_as_segments() -> None:
    lon0, lon1 = SEGS[0].coords[0][0], SEGS[1].coords[-1][0]
    poly = ((lon0 + 0.001, 30.59), (lon1 - 0.001, 30.59), (lon1 - 0.001, 30.61), (lon0 + 0.001, 30.61),
            (lon0 + 0.001, 30.59))  # meets PH01 and PH02
    red = feed("A1", Level.RED, -3, polygon=poly)
    blue = feed("A2", Level.BLUE, -1, segs=("PH02",))
    far = feed("A3", Level.BLUE, -1, segs=("PH04",))
    assert effective_feeds([red, far], NOW, LINES) == [red, far]
    assert effective_feeds([red, blue], NOW, LINES) == [blue]


def test_expired_superseder_never_resurrects_the_old_one() -> None:
    red = feed("A1", Level.RED, -10, valid_h=48)
    blue = feed("A2", Level.BLUE, -5, refs=("A1",), msg="Update", valid_h=2)  # expired 3 h ago
    assert effective_feeds([red, blue], NOW) == []
    assert feed_statuses([red, blue], NOW)[blue.id].status == "expired"


def test_engine_level_follows_the_series() -> None:
    obs = {}
    for i in range(1, 5):
        obs.update(obs_for(i, tide=CALM, hs=0.3))
    red = feed("A1", Level.RED, -3)
    blue = feed("A2", Level.BLUE, -1, refs=("A1",), msg="Update")
    r = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(obs, feeds=[red, blue]), None, NOW)
    d = r.segments["PH01"].decision
    assert d.official_level is Level.BLUE and d.raw_level is Level.BLUE
    assert [h.threshold_source for h in d.hazards if h.hazard.startswith("official")] == ["Zhejiang (zj_marine:A2)"]


kinds = st.sampled_from(["surge_forecast", "typhoon_warning"])
areas = st.sampled_from([(), ("PH01",), ("PH02",), ("PH01", "PH02"), ("PH03", "PH04")])
msgs = st.sampled_from(["Alert", "Alert", "Update", "Cancel"])
levels = st.sampled_from([Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED])


@st.composite
def series(draw):
    n = draw(st.integers(1, 8))
    out: list[FeedItem] = []
    for k in range(n):
        msg = draw(msgs)
        refs = (draw(st.sampled_from(out)).identifier,) if out and msg != "Alert" else ()
        msg = msg if refs or msg == "Alert" else "Alert"
        out.append(feed(f"I{k}", Level.NONE if msg == "Cancel" else draw(levels), draw(st.floats(-20, 2)),
                        kind=draw(kinds), source=draw(st.sampled_from(["a", "b"])), segs=draw(areas), refs=refs,
                        msg=msg, valid_h=draw(st.floats(0.5, 30))))
    return out


def _covers(f: FeedItem, sid: str) -> bool:
    return not f.segment_ids or sid in f.segment_ids


@settings(max_examples=300, deadline=None)
@given(feeds=series(), seed=st.integers(0, 1000))
def test_series_properties(feeds: list[FeedItem], seed: int) -> None:
    eff = effective_feeds(feeds, NOW, LINES)
    ids = {f.id for f in eff}
    for f in eff:
        # never expired, not yet sent/valid, or a Cancel
        assert f.active(NOW) and f.sent_at <= NOW and not f.is_cancel and f.level is not Level.NONE
        # nothing newer in effect from the same source names it, or overlaps it with the same kind
        for g in feeds:
            if g is f or g.source != f.source or (g.sent_at, g.seq, g.id) <= (f.sent_at, f.seq, f.id):
                continue
            if g.sent_at <= NOW and g.valid_from <= NOW:
                assert f.identifier not in g.references
                assert not (g.kind == f.kind and any(_covers(f, s) and _covers(g, s) for s in LINES))
    # per segment x source x kind at most one bulletin counts
    for sid in LINES:
        keys = [(f.source, f.kind) for f in eff if _covers(f, sid)]
        assert len(keys) == len(set(keys))
    # order of arrival in the list does not matter
    shuffled = list(feeds)
    random.Random(seed).shuffle(shuffled)
    assert {f.id for f in effective_feeds(shuffled, NOW, LINES)} == ids
    # an older bulletin added later never changes what the newer ones say
    older = feed("OLD", Level.RED, -30, source="a", segs=("PH01",), valid_h=48)
    assert {f.id for f in effective_feeds(feeds + [older], NOW, LINES)} - {older.id} == ids


def _obs(tide: float, at):
    out = {}
    for i in range(1, 5):
        out.update(obs_for(i, tide=tide, hs=0.3, ts=at))
    return out


def test_official_downgrade_applies_at_once_down_to_the_local_held_level() -> None:
    """docs/riskcode.md "Official downgrade and the local dwell"."""
    red = feed("A1", Level.RED, -3)
    blue = feed("A2", Level.BLUE, 0.5, refs=("A1",), msg="Update")
    # gauges quiet: the bulletin held red; the blue Update applies at once (no 30 min dwell)
    r = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(_obs(CALM, NOW), feeds=[red, blue]), None, NOW)
    assert r.segments["PH01"].level is Level.RED
    t = NOW + timedelta(minutes=31)
    r = evaluate_shoreline(CONFIG, SEGS, ShorelineInputs(_obs(CALM, t), feeds=[red, blue]), r.state, t)
    assert r.segments["PH01"].level is Level.BLUE
    # gauges orange under the red bulletin: the Update brings it to orange at once, the gauges' orange
    # then comes down only after the dwell
    seg = [segment(1)]
    st = None
    for m, tide in ((0, ORANGE_TIDE), (31, ORANGE_TIDE), (32, CALM), (50, CALM), (63, CALM)):
        t = NOW + timedelta(minutes=m)
        r = evaluate_shoreline(CONFIG, seg, ShorelineInputs(obs_for(1, tide=tide, hs=0.3, ts=t), feeds=[red, blue]),
                               st, t)
        st = r.state
        want = {0: Level.RED, 31: Level.ORANGE, 32: Level.ORANGE, 50: Level.ORANGE, 63: Level.BLUE}[m]
        assert r.segments["PH01"].level is want, (m, r.segments["PH01"].level)

"""``demo --check``: does the replay tell the storm's story, with timing, on the replay's own clock?

Pure logic (``check_story``) over an expected ``Story`` and the levels a witness
saw per segment (``level_changes`` rows, or the ``/ws/live`` stream), each a
time-ordered list of ``(sim time, level)``. ``build_story`` derives the
expectation from the simulator's own model of the replay window (the same
``ModelSource`` the replay publishes from, without sensor noise).

The checks (issue 12), per segment:

* **rise**: at every expected high water whose modeled water reaches a warning
  tide level, the segment shows at least that level within ``tolerance`` (1 h);
* **peak**: at the highest water of the replay it shows at least that water's
  level within ``tolerance``;
* **fall**: once the modeled drivers (water class, wind class on the gale
  table, wave class) are at blue or below for good (``quiet_at``), the
  segment is blue or none by ``quiet_at + dwell + tolerance`` and stays so;
* **no flapping**: at most one up-down reversal per segment per hour
  (a reversal = a step down that follows a step up; ``unknown`` is skipped);
* **outage**: a station switched off mid-storm makes each segment that reads
  it ``unknown`` (never a plain colour) within the station's staleness limit
  (+ ``outage_allowance``: one engine cycle and the pipeline);
* **downgrade**: a newer bulletin lowering a bulletin-held level: the
  segment's level falls below the old bulletin's level by the newer one's
  issue time + dwell + tolerance.
* **record** (issue 13, the In-fa record at Zhapu, ``RecordShape``): the storm
  tide (observed water, hazard ``storm_tide``) reaches orange in the overnight
  window of 25/26 July (Jiaxing's orange storm-surge warning), the storm tide
  and its forecast are below orange from the morning of the 26th to the end
  (the warning was downgraded), and no red at Zhapu comes from a hazard the
  record contradicts: the storm tide was orange, the landfall wind force 10
  (the typhoon signal's orange); only the waves had a red warning (offshore
  4-6 m), so a red is accepted only from ``wave``/``overtopping`` reasons.
  The storm-tide checks need the hazard track (the ``decisions`` rows), the
  red check the reasons of the level changes (``level_changes.reasons``):
  both from the database witness.

A check that the replay window cannot show (e.g. it ends before the calm) fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from haixun.riskcode.levels import Level

KNOWN = (Level.NONE, Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED)
LOW = (Level.NONE, Level.BLUE)


@dataclass(frozen=True, slots=True)
class HighWater:
    at: datetime
    level_m: float
    level: Level  # the warning tide level the modeled water reaches


@dataclass(frozen=True, slots=True)
class SegmentStory:
    segment_id: str
    high_waters: tuple[HighWater, ...]  # those reaching blue or more
    peak: HighWater | None  # the highest water of the window (if it reaches blue)
    quiet_at: datetime | None  # modeled drivers <= blue from here to the end


@dataclass(frozen=True, slots=True)
class Outage:
    station_id: str
    off_at: datetime
    back_at: datetime
    segments: tuple[str, ...]
    max_age_s: float


@dataclass(frozen=True, slots=True)
class Downgrade:
    """A newer bulletin (issued ``at``) lowering ``from_level`` to ``to_level`` on ``segments``."""

    at: datetime
    segments: tuple[str, ...]
    from_level: Level
    to_level: Level
    identifier: str = ""


@dataclass(frozen=True, slots=True)
class RecordShape:
    """What the record of the replayed storm says at one place (sim times)."""

    place: str
    segments: tuple[str, ...]
    flood_from: datetime      # the storm tide reaches ``flood_level`` within [flood_from, flood_to]
    flood_to: datetime
    flood_level: Level
    downgraded_by: datetime   # storm tide and its forecast below ``flood_level`` from here to the end
    red_from: tuple[str, ...]  # the only hazards a red may come from (the record's red warnings)
    source: str = ""


@dataclass(frozen=True)
class Story:
    start: datetime
    end: datetime
    segments: Mapping[str, SegmentStory]
    dwell_s: float
    outages: tuple[Outage, ...] = ()
    downgrades: tuple[Downgrade, ...] = ()
    tolerance_s: float = 3600.0
    outage_allowance_s: float = 300.0
    phases: tuple[tuple[datetime, str], ...] = ()  # (from, phase) in order: calm, rising, peak, falling, after
    record: RecordShape | None = None

    def phase_at(self, t: datetime) -> str:
        name = "calm"
        for when, phase in self.phases:
            if when > t:
                break
            name = phase
        return name


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # rise | peak | fall | flap | outage | downgrade | record
    subject: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class StoryVerdict:
    witness: str
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def summary_lines(self, max_failures: int = 8) -> list[str]:
        by_check: dict[str, list[Finding]] = {}
        for f in self.findings:
            by_check.setdefault(f.check, []).append(f)
        lines = []
        for check in ("rise", "peak", "fall", "flap", "outage", "downgrade", "record"):
            fs = by_check.get(check, [])
            if not fs:
                continue
            bad = [f for f in fs if not f.ok]
            lines.append(f"{self.witness} {check}: {len(fs) - len(bad)}/{len(fs)} ok")
            for f in bad[:max_failures]:
                lines.append(f"{self.witness} {check} FAILED {f.subject}: {f.detail}")
        if not self.findings:
            lines.append(f"{self.witness}: nothing to check")
        return lines


def _fmt(t: datetime) -> str:
    return t.strftime("%m-%d %H:%M")


class Track:
    """One subject's shown level over time (a step function; ``initial`` before the first change)."""

    def __init__(self, changes: Iterable[tuple[datetime, Level]], initial: Level = Level.NONE) -> None:
        self.changes = sorted(changes, key=lambda c: c[0])
        self.initial = initial

    def at(self, t: datetime) -> Level:
        level = self.initial
        for when, lv in self.changes:
            if when > t:
                break
            level = lv
        return level

    def levels_in(self, a: datetime, b: datetime) -> list[Level]:
        return [self.at(a)] + [lv for when, lv in self.changes if a < when <= b]

    def max_known_in(self, a: datetime, b: datetime) -> Level:
        known = [lv for lv in self.levels_in(a, b) if lv in KNOWN]
        return max(known, key=lambda lv: lv.rank, default=Level.NONE)

    def reversals(self) -> list[datetime]:
        """Times of a step down that follows a step up (known levels only)."""
        out: list[datetime] = []
        prev = self.initial if self.initial in KNOWN else None
        going_up = False
        for when, lv in self.changes:
            if lv not in KNOWN:
                continue
            if prev is not None:
                if lv.rank > prev.rank:
                    going_up = True
                elif lv.rank < prev.rank:
                    if going_up:
                        out.append(when)
                    going_up = False
            prev = lv
        return out


def _check_record(rec: RecordShape, story: Story,
                  hazards: Mapping[str, Mapping[str, Sequence[tuple[datetime, Level]]]] | None,
                  reds: Mapping[str, Sequence[tuple[datetime, tuple[str, ...]]]] | None) -> list[Finding]:
    out: list[Finding] = []
    end = story.end
    if rec.downgraded_by + timedelta(hours=1) > end or rec.flood_from < story.start:
        return [Finding("record", rec.place, False, f"the replay window {_fmt(story.start)} .. {_fmt(end)} does not "
                                                    f"cover the record ({_fmt(rec.flood_from)} .. "
                                                    f"{_fmt(rec.downgraded_by)})")]
    for sid in rec.segments:
        if reds is not None:
            bad = [(when, hz) for when, hz in reds.get(sid, ()) if story.start <= when <= end
                   and (not hz or any(h not in rec.red_from for h in hz))]
            out.append(Finding("record", sid, not bad,
                               f"{rec.place}: " + (f"red at {_fmt(bad[0][0])} from {', '.join(bad[0][1]) or '?'}"
                                                   if bad else "no red")
                               + f" (the record: red only from {'/'.join(rec.red_from)})"))
        if hazards is None:
            continue
        own = hazards.get(sid, {})
        tide = Track(own.get("storm_tide", ()))
        got = tide.max_known_in(rec.flood_from, rec.flood_to)
        out.append(Finding("record", sid, got.rank >= rec.flood_level.rank,
                           f"{rec.place}: storm tide up to {got.value} between {_fmt(rec.flood_from)} and "
                           f"{_fmt(rec.flood_to)} (the record: {rec.flood_level.value} overnight)"))
        late = [lv for name in ("storm_tide", "storm_tide_forecast")
                for lv in Track(own.get(name, ())).levels_in(rec.downgraded_by, end) if lv in KNOWN]
        high = max(late, key=lambda lv: lv.rank, default=Level.NONE)
        out.append(Finding("record", sid, bool(late) and high.rank < rec.flood_level.rank,
                           f"{rec.place}: storm tide and its forecast up to {high.value} from {_fmt(rec.downgraded_by)}"
                           f" (the record: downgraded below {rec.flood_level.value} by then)"
                           + ("" if late else "; no storm-tide reading seen")))
    return out


def check_story(story: Story, seen: Mapping[str, Sequence[tuple[datetime, Level]]], witness: str = "level_changes",
                initial: Mapping[str, Level] | None = None,
                hazards: Mapping[str, Mapping[str, Sequence[tuple[datetime, Level]]]] | None = None,
                reds: Mapping[str, Sequence[tuple[datetime, tuple[str, ...]]]] | None = None) -> StoryVerdict:
    """``hazards``: segment -> hazard name -> [(sim time, hazard level)] (the record's storm-tide checks);
    ``reds``: segment -> [(sim time, hazards at red)] of its changes to red (the record's red check)."""
    tol = timedelta(seconds=story.tolerance_s)
    dwell = timedelta(seconds=story.dwell_s)
    findings: list[Finding] = []
    tracks = {sid: Track(seen.get(sid, ()), (initial or {}).get(sid, Level.NONE)) for sid in story.segments}
    for sid, seg in story.segments.items():
        tr = tracks[sid]
        for hw in seg.high_waters:
            if hw.at - tol < story.start or hw.at + tol > story.end:
                continue  # not fully inside the window
            got = tr.max_known_in(hw.at - tol, hw.at + tol)
            findings.append(Finding("rise", sid, got.rank >= hw.level.rank,
                                    f"high water {hw.level_m:.2f} m at {_fmt(hw.at)} ({hw.level.value}): "
                                    f"shown up to {got.value} within 1 h"))
        if seg.peak is not None and story.start <= seg.peak.at - tol and seg.peak.at + tol <= story.end:
            got = tr.max_known_in(seg.peak.at - tol, seg.peak.at + tol)
            findings.append(Finding("peak", sid, got.rank >= seg.peak.level.rank,
                                    f"peak water {seg.peak.level_m:.2f} m at {_fmt(seg.peak.at)} "
                                    f"({seg.peak.level.value}): shown up to {got.value} within 1 h"))
        if seg.quiet_at is not None:
            due = seg.quiet_at + dwell + tol
            if due > story.end:
                findings.append(Finding("fall", sid, False, f"the replay ended at {_fmt(story.end)} before the "
                                                            f"fall was due ({_fmt(due)})"))
            else:
                after = tr.levels_in(due, story.end)
                bad = [lv for lv in after if lv not in LOW]
                findings.append(Finding("fall", sid, not bad,
                                        f"drivers at blue or below from {_fmt(seg.quiet_at)}: shown "
                                        f"{'/'.join(sorted({lv.value for lv in after}))} from {_fmt(due)} "
                                        "(want blue/none)"))
        revs = tr.reversals()
        flaps = [b for a, b in zip(revs, revs[1:], strict=False) if b - a < timedelta(hours=1)]
        findings.append(Finding("flap", sid, not flaps,
                                f"{len(revs)} up-down reversals" + (f", two within 1 h at {_fmt(flaps[0])}" if flaps else "")))
    if not any(f.check in ("rise", "peak") for f in findings):
        findings.append(Finding("rise", "window", False, f"no modeled high water reaches a warning level between "
                                                        f"{_fmt(story.start)} and {_fmt(story.end)}: no storm to judge"))
    for o in story.outages:
        limit = o.off_at + timedelta(seconds=o.max_age_s + story.outage_allowance_s)
        for sid in o.segments:
            tr = tracks.get(sid) or Track(seen.get(sid, ()))
            seen_unknown = [w for w, lv in tr.changes if lv is Level.UNKNOWN and o.off_at <= w <= limit]
            if tr.at(o.off_at) is Level.UNKNOWN:
                seen_unknown.insert(0, o.off_at)
            plain = [lv for lv in tr.levels_in(limit, min(o.back_at, story.end)) if lv is not Level.UNKNOWN]
            ok = bool(seen_unknown) and not plain
            findings.append(Finding("outage", sid, ok,
                                    f"{o.station_id} off at {_fmt(o.off_at)}: "
                                    + (f"unknown at {_fmt(seen_unknown[0])}" if seen_unknown else
                                       f"not unknown by {_fmt(limit)} (shown {tr.at(limit).value})")
                                    + (f"; plain {plain[0].value} while off" if plain else "")))
    for d in story.downgrades:
        due = d.at + dwell + tol
        for sid in d.segments:
            tr = tracks.get(sid) or Track(seen.get(sid, ()))
            if due > story.end:
                findings.append(Finding("downgrade", sid, False, f"replay ended before {_fmt(due)}"))
                continue
            held = tr.max_known_in(d.at - tol, d.at)
            now = tr.at(due)
            ok = held.rank >= d.from_level.rank and now in KNOWN and now.rank < d.from_level.rank
            findings.append(Finding("downgrade", sid, ok,
                                    f"bulletin {d.from_level.value} -> {d.to_level.value} at {_fmt(d.at)}: "
                                    f"shown {held.value} before, {now.value} at {_fmt(due)}"))
    if story.record is not None:
        findings.extend(_check_record(story.record, story, hazards, reds))
    return StoryVerdict(witness, tuple(findings))


# --------------------------------------------------------------------------- expectation from the model

def _classify(value: float, thresholds: Mapping[str, float]) -> Level:
    level = Level.NONE
    for lv in (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED):
        t = thresholds.get(lv.value)
        if t is not None and value >= t:
            level = lv
    return level


def _wind_class(config, mean: float, gust: float) -> Level:
    table = config.wind.gale  # the stricter table: the drivers are not lower than what the engine can show
    level = Level.NONE
    for lv in (Level.BLUE, Level.YELLOW, Level.ORANGE, Level.RED):
        sig = table.signal(lv)
        if mean >= config.wind.mps(sig.mean_bft) or gust >= config.wind.mps(sig.gust_bft):
            level = lv
    return level


def build_story(source, start: datetime, end: datetime, *, outages: Sequence[Outage] = (),
                downgrades: Sequence[Downgrade] = (), step: timedelta = timedelta(minutes=10),
                config=None, geography=None) -> Story:
    """The expected story of the replay window [start, end] (sim time) from the replay's ``ModelSource``."""
    import numpy as np

    from haixun.data.geography import load_geography
    from haixun.riskcode import load_config
    from haixun.simulators.timeline import segment_specs

    config = config or load_config()
    specs = segment_specs(geography or load_geography())
    warning = {s.id: s.warning_levels_m for s in source.geo.segments}
    n = int((end - start) / step) + 1
    times = [start + step * i for i in range(n)]
    cache: dict[str, list] = {}

    def states(station: str) -> list:
        if station not in cache:
            cache[station] = [source.station_state(station, t) for t in times]
        return cache[station]

    wave_t = {k: float(v) for k, v in config.wave.thresholds_m.model_dump().items() if v is not None}
    segments: dict[str, SegmentStory] = {}
    coast = [Level.NONE] * n
    for spec in specs:
        levels = dict(warning.get(spec.id, {}))
        water = np.array([s.level for s in states(spec.tide_station)])
        wind = states(spec.wind_station)
        wave = states(spec.wave_station) if spec.wave_station else None
        water_cls = [_classify(float(w), levels) for w in water]
        drivers = []
        for i in range(n):
            d = max(water_cls[i], _wind_class(config, wind[i].wind_speed, wind[i].wind_gust), key=lambda lv: lv.rank)
            if wave is not None:
                d = max(d, _classify(wave[i].hs, wave_t), key=lambda lv: lv.rank)
            drivers.append(d)
            if d.rank > coast[i].rank:
                coast[i] = d
        d = np.diff(water)
        idx = np.where((d[:-1] > 0) & (d[1:] <= 0))[0] + 1
        hws = tuple(HighWater(times[i], float(water[i]), water_cls[i]) for i in idx if water_cls[i].rank >= Level.BLUE.rank)
        k = int(np.argmax(water))
        peak = HighWater(times[k], float(water[k]), water_cls[k]) if water_cls[k].rank >= Level.BLUE.rank else None
        loud = [i for i in range(n) if drivers[i].rank > Level.BLUE.rank]
        quiet_at = None if not loud else (times[loud[-1] + 1] if loud[-1] + 1 < n else end)
        segments[spec.id] = SegmentStory(spec.id, hws, peak, quiet_at)
    phases: list[tuple[datetime, str]] = [(start, "calm")]
    warn = [i for i in range(n) if coast[i].rank >= Level.BLUE.rank]
    high = [i for i in range(n) if coast[i].rank >= Level.ORANGE.rank]
    if warn:
        # the storm's rise: the start of the run of warning levels that leads to the peak (a spring
        # high water touching blue hours before, and falling back, is still the calm before)
        first = high[0] if high else warn[-1]
        k = first
        while k > 0 and coast[k - 1].rank >= Level.BLUE.rank:
            k -= 1
        phases.append((times[k], "rising"))
        if high:
            phases.append((times[high[0]], "peak"))
            phases.append((times[high[-1]] + step, "falling"))
        quiet = max((s.quiet_at for s in segments.values() if s.quiet_at), default=None)
        if quiet is not None and (not high or quiet > times[high[-1]]):
            phases.append((quiet, "after"))
    return Story(start, end, segments, float(config.hysteresis.dwell_s), tuple(outages), tuple(downgrades),
                 phases=tuple(phases), record=infa_record(source, start, end, geography))


# The record of In-fa at Zhapu (domain brief, issue 13), storm time CST: surge 120-240 cm overnight
# 25/26 July with Jiaxing's ORANGE storm-surge warning, downgraded by the morning of the 26th;
# landfall at Pinghu 09:50 26 July with force 10 (28 m/s): the typhoon signal's orange. No red.
INFA_FLOOD_FROM = (2021, 7, 25, 20, 0)
INFA_FLOOD_TO = (2021, 7, 26, 2, 0)
INFA_DOWNGRADED_BY = (2021, 7, 26, 8, 0)
INFA_RED_FROM = ("wave", "overtopping", "camera:overtopping")  # the red wave warning (offshore 4-6 m)


def infa_record(source, start: datetime, end: datetime, geography=None) -> RecordShape | None:
    """The In-fa record at Zhapu on the replay's clock (None when the source replays no storm or the
    window does not hold 20:00 25 July .. 09:00 26 July)."""
    from haixun.simulators import typhoon as ty

    if getattr(source, "track", None) is None:
        return None

    def sim(parts: tuple[int, int, int, int, int]) -> datetime:
        storm = datetime(*parts, tzinfo=ty.CST)
        return datetime.fromtimestamp(storm.timestamp() + source.offset_s, start.tzinfo)

    flood_from, flood_to, by = sim(INFA_FLOOD_FROM), sim(INFA_FLOOD_TO), sim(INFA_DOWNGRADED_BY)
    if flood_from < start or by + timedelta(hours=1) > end:
        return None  # a window that does not hold the whole recorded sequence is not judged on it
    return RecordShape("Zhapu", station_segments(["ZP-T01"], geography), flood_from, flood_to, Level.ORANGE, by,
                       INFA_RED_FROM, "domain brief / issue 13: Jiaxing orange storm-surge warning overnight 25/26 "
                                      "July, downgraded by the morning of the 26th; landfall force 10; red wave "
                                      "warning (offshore 4-6 m)")


def station_segments(station_ids: Iterable[str], geography=None) -> tuple[str, ...]:
    """Segments whose storm tide (tide station) is read from one of these stations."""
    from haixun.data.geography import load_geography
    from haixun.simulators.timeline import segment_specs

    ids = set(station_ids)
    return tuple(s.id for s in segment_specs(geography or load_geography()) if s.tide_station in ids)

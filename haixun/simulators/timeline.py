"""The In-fa (2021) replay seen through the real risk engine, offline.

``run_timeline`` builds the replay scenario (``build_scenario`` over the
window, default 24-28 July 2021 CST) for the project geography and, every
``step_s``, feeds riskcode what the live system would get:

* the station observations (``scenario.observe``: model + sensor noise) as
  ``riskcode.Observation`` stamped at the step time, QC flag 1;
* one ``TidePrediction`` per tide station: the simulator's own astronomical
  tide at that station (the simulator knows the true astronomical tide);
* the camera events of ``cameras.camera_events`` on the camera tick, with the
  replay's repeat suppression (``cameras.RepeatFilter``);

into ``riskcode.evaluate_shoreline`` with the hysteresis state carried from
one step to the next. Official bulletins are not fed: the timeline shows
what the local measurements alone make of the storm.

``python -m haixun.simulators.timeline [--step-min 10]`` prints the table.
Pure: no network, database or clock.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from haixun.data import riskspecs
from haixun.data.datum import to_warning_datum
from haixun.data.geography import Geography, load_geography
from haixun.riskcode import (
    AreaIndex,
    CameraEventInput,
    Level,
    Observation,
    RiskConfig,
    SeawallIndex,
    SegmentSpec,
    ShorelineInputs,
    ShorelineResult,
    ShorelineState,
    TidePrediction,
    evaluate_shoreline,
    load_config,
)
from haixun.riskcode.model import SegmentDecision
from haixun.simulators import typhoon as ty
from haixun.simulators.cameras import RepeatFilter, camera_events
from haixun.simulators.geo import SimGeography, load_sim_geography
from haixun.simulators.scenario import PointState, Scenario, build_scenario, observe

CST = ty.CST
DEFAULT_START = datetime(2021, 7, 24, tzinfo=CST)
DEFAULT_END = datetime(2021, 7, 28, tzinfo=CST)
# The tide prediction reaches this far past the window so the 12 h forecast
# rule has its next high waters until the last step.
PREDICTION_MARGIN = timedelta(hours=13)
# Hazards in the order used to name the dominant one when several share the top level.
HAZARD_ORDER = ("storm_tide", "overtopping", "wave", "wind", "storm_tide_forecast", "camera:overtopping",
                "camera:water_on_road")
LEVEL_CHAR = {Level.NONE: ".", Level.UNKNOWN: "?", Level.BLUE: "b", Level.YELLOW: "y", Level.ORANGE: "o",
              Level.RED: "R"}


@dataclass(frozen=True, slots=True)
class TimelineOptions:
    start: datetime = DEFAULT_START
    end: datetime = DEFAULT_END
    step_s: float = 600.0  # riskcode cycle
    model_step_s: float = 300.0  # scenario grid (as the replay)
    camera_period_s: float = 300.0  # camera analytics tick (as the replay, RunConfig.camera_period_s)
    camera_repeat_s: float = 1800.0  # as RunConfig.camera_repeat_s
    cameras: bool = True
    seed: int = 0
    # gateways switched off: (gateway id, from, until or None); their stations deliver nothing in that
    # window, so riskcode sees their last readings ageing (as the live system does)
    offline_gateways: tuple[tuple[str, datetime, datetime | None], ...] = ()


@dataclass(frozen=True, slots=True)
class StepRecord:
    at: datetime
    levels: Mapping[str, Level]  # shown (after hysteresis)
    floors: Mapping[str, Level]  # shown floor ("unknown, at least <floor>"; == level for a colour)
    unknown_hazards: Mapping[str, tuple[str, ...]]
    raw_levels: Mapping[str, Level]
    dominant: Mapping[str, str]  # hazard(s) at the raw level, "" when none
    hazards: Mapping[str, Mapping[str, Level]]  # segment -> hazard -> level
    q_lpsm: Mapping[str, float | None]
    water_m: Mapping[str, float]  # observed level at each tide station
    surge_m: Mapping[str, float]  # observed - astronomical at each tide station
    hs_m: Mapping[str, float]  # observed Hs at each wave station
    city: Level
    towns: Mapping[str, Level]
    camera_events: int  # published since the previous step


@dataclass(frozen=True, slots=True)
class SegmentSummary:
    segment_id: str
    tide_station: str
    wave_station: str
    peak_level: Level
    peak_from: datetime | None  # first step at the peak level
    peak_hazard: str
    hours: Mapping[Level, float]  # shown level durations
    peak_water_m: float
    peak_water_at: datetime
    peak_surge_m: float
    peak_hs_m: float
    peak_q_lpsm: float
    camera_events: int


@dataclass(frozen=True)
class Timeline:
    options: TimelineOptions
    steps: tuple[StepRecord, ...]
    segments: Mapping[str, SegmentSummary]
    segment_ids: tuple[str, ...]
    town_ids: tuple[str, ...]
    camera_event_count: int
    camera_by_type: Mapping[str, int] = field(default_factory=dict)
    camera_segments: frozenset[str] = field(default_factory=frozenset)

    @property
    def step_hours(self) -> float:
        return self.options.step_s / 3600.0

    def coast_level(self, rec: StepRecord) -> Level:
        return max(rec.levels.values(), key=lambda lv: lv.rank)

    def segment_hours_at(self, level: Level) -> float:
        return sum(s.hours.get(level, 0.0) for s in self.segments.values())

    def camera_events_between(self, t0: datetime, t1: datetime) -> int:
        return sum(r.camera_events for r in self.steps if t0 < r.at <= t1)

    def render(self, every: timedelta = timedelta(hours=1)) -> str:
        return render(self, every)


# --------------------------------------------------------------------------- inputs

def segment_specs(geography: Geography) -> list[SegmentSpec]:
    return list(riskspecs.segment_specs(geography))


def area_index(config: RiskConfig, geography: Geography, segments: Sequence[SegmentSpec]) -> AreaIndex:
    villages, towns = riskspecs.area_specs(geography)
    return AreaIndex.build(config, SeawallIndex(config, segments), villages, towns)


def tide_predictions(geo: SimGeography, scenario: Scenario) -> dict[str, TidePrediction]:
    """The simulator's true astronomical tide at every station that measures the tide level."""
    out = {}
    for st in geo.stations:
        if "tide_level" in st.quantities:
            s = scenario.stations[st.id]
            out[st.id] = TidePrediction(t_s=s.epoch_s.copy(), level_m=s.tide_astro.copy())
    return out


def _dominant(decision: SegmentDecision) -> str:
    top = decision.raw_level
    if top.rank <= Level.NONE.rank:
        return ""
    names = {r.hazard for r in decision.hazards if r.level is top}
    ordered = [h for h in HAZARD_ORDER if h in names] + sorted(names - set(HAZARD_ORDER))
    return "+".join(ordered)


# --------------------------------------------------------------------------- run

def run_timeline(options: TimelineOptions = TimelineOptions(), *, geo: SimGeography | None = None,
                 geography: Geography | None = None, config: RiskConfig | None = None) -> Timeline:
    """Replay In-fa through riskcode (see the module docstring)."""
    geo = geo or load_sim_geography()
    geography = geography or load_geography()
    config = config or load_config()
    specs = segment_specs(geography)
    areas = area_index(config, geography, specs)
    t0, t1 = options.start.timestamp(), options.end.timestamp()
    scenario = build_scenario(geo, t0, (options.end + PREDICTION_MARGIN).timestamp(), track=ty.INFA_2021,
                              step_s=options.model_step_s, seed=options.seed)
    predictions = tide_predictions(geo, scenario)
    obs_rng = np.random.default_rng([options.seed, 1])
    cam_rng = np.random.default_rng([options.seed, 2])
    repeat = RepeatFilter(options.camera_repeat_s)
    hold_s = max((r.hold_s for r in config.camera.types.values()), default=0.0)

    steps: list[StepRecord] = []
    events: list[CameraEventInput] = []
    cam_count: dict[str, int] = {s.id: 0 for s in specs}
    by_type: dict[str, int] = {}
    next_cam = t0
    prev: ShorelineState | None = None
    last_seen: dict[str, Mapping[str, Observation]] = {}
    n = int(round((t1 - t0) / options.step_s))
    for k in range(n + 1):
        now_s = t0 + k * options.step_s
        now = datetime.fromtimestamp(now_s, UTC)
        published = 0
        while options.cameras and next_cam <= now_s:
            when = datetime.fromtimestamp(next_cam, UTC)
            states = {s.id: (s, scenario.segment_state(s.id, next_cam)) for s in geo.segments}
            for cam in geo.cameras:
                segs = {sid: states[sid] for sid in cam.segment_ids if sid in states}
                for ev in camera_events(cam, when, segs, list(geo.low_points), cam_rng):
                    if not repeat.admit(cam.id, ev, when):
                        continue
                    seg_ids = (ev["segment_id"],) if ev.get("segment_id") else cam.segment_ids
                    events.append(CameraEventInput(cam.id, when, ev["type"], float(ev["confidence"]), seg_ids, cam.kind))
                    published += 1
                    by_type[ev["type"]] = by_type.get(ev["type"], 0) + 1
                    if ev["type"] == "overtopping":
                        for sid in seg_ids:
                            cam_count[sid] = cam_count.get(sid, 0) + 1
            next_cam += options.camera_period_s
        events = [e for e in events if (now - e.ts).total_seconds() <= hold_s]
        station_states: dict[str, PointState] = {st.id: scenario.station_state(st.id, now_s) for st in geo.stations}
        # observe() reports each station's own datum; ingest converts to CN1985 (haixun/data/datum.py)
        observations = {st.id: {q: Observation(to_warning_datum(q, v, st.datum_offset_m), now)
                                for q, v in observe(st, station_states[st.id], obs_rng).items()}
                        for st in geo.stations}
        for st in geo.stations:
            if any(gw == st.gateway_id and t_off <= now and (t_on is None or now < t_on)
                   for gw, t_off, t_on in options.offline_gateways):
                observations[st.id] = last_seen.get(st.id, {})  # nothing new: the last readings age
        last_seen = {sid: o for sid, o in observations.items()}
        inputs = ShorelineInputs(observations=observations, tide_predictions=predictions, camera_events=tuple(events))
        result = evaluate_shoreline(config, specs, inputs, prev, now, areas)
        prev = result.state
        steps.append(_record(result, observations, predictions, now, published))
    return Timeline(options, tuple(steps), _summaries(steps, specs, options.step_s, cam_count),
                    tuple(s.id for s in specs), tuple(t.id for t in geography.towns),
                    sum(r.camera_events for r in steps), by_type,
                    frozenset(s for s, c in cam_count.items() if c > 0))


def _record(result: ShorelineResult, observations: Mapping[str, Mapping[str, Observation]],
            predictions: Mapping[str, TidePrediction], now: datetime, published: int) -> StepRecord:
    water = {sid: o["tide_level"].value for sid, o in observations.items() if "tide_level" in o}
    surge = {}
    for sid, value in water.items():
        astro = predictions[sid].at(now) if sid in predictions else None
        if astro is not None:
            surge[sid] = value - astro
    hs = {sid: o["wave_height"].value for sid, o in observations.items() if "wave_height" in o}
    rollup = result.rollup
    return StepRecord(
        at=now,
        levels={k: v.level for k, v in result.segments.items()},
        floors={k: v.floor for k, v in result.segments.items()},
        unknown_hazards={k: v.decision.unknown_hazards for k, v in result.segments.items()},
        raw_levels={k: v.decision.raw_level for k, v in result.segments.items()},
        dominant={k: _dominant(v.decision) for k, v in result.segments.items()},
        hazards={k: {r.hazard: r.level for r in v.decision.hazards} for k, v in result.segments.items()},
        q_lpsm={k: v.decision.overtopping_lpsm for k, v in result.segments.items()},
        water_m=water, surge_m=surge, hs_m=hs,
        city=rollup.city.level if rollup else Level.UNKNOWN,
        towns={k: v.level for k, v in rollup.towns.items()} if rollup else {},
        camera_events=published,
    )


def _summaries(steps: Sequence[StepRecord], specs: Sequence[SegmentSpec], step_s: float,
               cam_count: Mapping[str, int]) -> dict[str, SegmentSummary]:
    out = {}
    dt_h = step_s / 3600.0
    for spec in specs:
        sid = spec.id
        hours: dict[Level, float] = {}
        for r in steps:
            hours[r.levels[sid]] = hours.get(r.levels[sid], 0.0) + dt_h
        peak = max((r.levels[sid] for r in steps), key=lambda lv: lv.rank)
        first = next((r for r in steps if r.levels[sid] is peak), None)
        at_peak_raw = next((r for r in steps if r.raw_levels[sid] is peak), first)
        wet = max(steps, key=lambda r: r.water_m.get(spec.tide_station, float("-inf")))
        qs = [r.q_lpsm[sid] for r in steps if r.q_lpsm[sid] is not None]
        out[sid] = SegmentSummary(
            segment_id=sid, tide_station=spec.tide_station, wave_station=spec.wave_station,
            peak_level=peak, peak_from=first.at if first else None,
            peak_hazard=at_peak_raw.dominant[sid] if at_peak_raw else "",
            hours=hours,
            peak_water_m=wet.water_m.get(spec.tide_station, float("nan")), peak_water_at=wet.at,
            peak_surge_m=max((r.surge_m.get(spec.tide_station, float("-inf")) for r in steps), default=float("nan")),
            peak_hs_m=max((r.hs_m.get(spec.wave_station, 0.0) for r in steps), default=0.0),
            peak_q_lpsm=max(qs, default=0.0),
            camera_events=cam_count.get(sid, 0),
        )
    return out


# --------------------------------------------------------------------------- output

def _cst(t: datetime) -> str:
    return t.astimezone(CST).strftime("%d %H:%M")


def _ruler(starts: Sequence[datetime]) -> str:
    """'|' where a CST day starts, followed by the day of month."""
    chars = [" "] * len(starts)
    for i, t in enumerate(starts):
        local = t.astimezone(CST)
        if i == 0 or local.day != starts[i - 1].astimezone(CST).day:
            label = f"|{local.day:02d}"
            for j, ch in enumerate(label):
                if i + j < len(chars):
                    chars[i + j] = ch
    return "".join(chars)


def render(tl: Timeline, every: timedelta = timedelta(hours=1)) -> str:
    """Text report: level strip per segment (one char per ``every``, worst in the interval), then the table."""
    per = max(1, int(round(every.total_seconds() / tl.options.step_s)))
    chunks = [tl.steps[i:i + per] for i in range(0, len(tl.steps), per)]

    def strip(get: Callable[[StepRecord], Level]) -> str:
        return "".join(LEVEL_CHAR[max((get(r) for r in c), key=lambda lv: lv.rank)] for c in chunks)

    lines = [f"In-fa 2021 through riskcode: {_cst(tl.options.start)} .. {_cst(tl.options.end)} CST, "
             f"step {tl.options.step_s / 60:.0f} min, one char = {every.total_seconds() / 3600:g} h "
             f"(. none, b blue, y yellow, o orange, R red, ? unknown); landfall {_cst(ty.INFA_LANDFALL_PINGHU)}",
             f"{'CST day':8} " + _ruler([c[0].at for c in chunks])]
    lines.append(f"{'city':8} " + strip(lambda r: r.city))
    for town in tl.town_ids:
        lines.append(f"{town:8} " + strip(lambda r, t=town: r.towns.get(t, Level.UNKNOWN)))
    for sid in tl.segment_ids:
        lines.append(f"{sid:8} " + strip(lambda r, s=sid: r.levels[s]))
    lines.append("")
    lines.append("segment  peak    from(CST)  dominant             h>=orange h red  water m (at)        "
                 "surge m  Hs m  q l/s/m  cam ev")
    for sid in tl.segment_ids:
        s = tl.segments[sid]
        ge_orange = s.hours.get(Level.ORANGE, 0.0) + s.hours.get(Level.RED, 0.0)
        lines.append(
            f"{sid:8} {s.peak_level.value:7} {(_cst(s.peak_from) if s.peak_from else '-'):10} {s.peak_hazard[:20]:20} "
            f"{ge_orange:8.1f} {s.hours.get(Level.RED, 0.0):5.1f}  {s.peak_water_m:5.2f} ({_cst(s.peak_water_at)})  "
            f"{s.peak_surge_m:7.2f} {s.peak_hs_m:5.2f} {s.peak_q_lpsm:8.2f} {s.camera_events:6d}")
    lf = ty.INFA_LANDFALL_PINGHU
    lines.append("")
    lines.append(f"segment-hours: red {tl.segment_hours_at(Level.RED):.1f}, orange {tl.segment_hours_at(Level.ORANGE):.1f}, "
                 f"yellow {tl.segment_hours_at(Level.YELLOW):.1f}, blue {tl.segment_hours_at(Level.BLUE):.1f}")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(tl.camera_by_type.items()))
    lines.append(f"camera events: {tl.camera_event_count} in all ({kinds}), "
                 f"{tl.camera_events_between(lf - timedelta(hours=3), lf + timedelta(hours=3))} within +/-3 h of landfall; "
                 f"overtopping seen on {len(tl.camera_segments)} segments")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="In-fa 2021 replay through the risk engine (offline)")
    parser.add_argument("--step-min", type=float, default=10.0, help="riskcode cycle in minutes (10-30)")
    parser.add_argument("--every-h", type=float, default=1.0, help="hours per character of the level strips")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cameras", action="store_true")
    args = parser.parse_args(argv)
    tl = run_timeline(TimelineOptions(step_s=args.step_min * 60.0, seed=args.seed, cameras=not args.no_cameras))
    print(tl.render(timedelta(hours=args.every_h)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

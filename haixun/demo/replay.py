"""What the demo's replay needs besides the simulator itself.

* One replay clock (haixun/clock.py) for every child: the demo builds it once
  (simulated start = wall start = now, ``speed``) and hands ``clock.spec()``
  to ingest, engine, API and the replay as ``HAIXUN_CLOCK``. Ingest QC, the
  engine (staleness, dwell, holds, feed validity) and the API (data ages)
  then judge the storm in simulated time with the packaged thresholds.
* A feed API key (role ``feed``), so the replay's official bulletins reach
  ``POST /api/v1/feeds/{source}``. The previous demo key is revoked first:
  one active demo key at a time.
* ``--backfill-days``: 30 days of hourly history before the live run, so the
  engine fits its tide models (15 days needed) within the demo.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import psycopg

from haixun.api.keys import add_api_key, revoke_api_keys
from haixun.clock import Clock

DEMO_FEED_KEY_NAME = "haixun-demo-replay"
DEMO_ACTOR = "haixun demo"
BACKFILL_DAYS = 30
CST = timezone(timedelta(hours=8))


def demo_clock(speed: float, now: datetime | None = None) -> Clock:
    """The replay clock, anchored at a whole wall-clock second (what the spec can carry)."""
    start = (now or datetime.now(UTC)).replace(microsecond=0)
    return Clock.replay(start, speed, wall_start=start)


def demo_feed_key(database_url: str) -> str:
    """A fresh feed key for the replay (any earlier demo key revoked)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        revoke_api_keys(conn, actor=DEMO_ACTOR, name=DEMO_FEED_KEY_NAME)
        key, _ = add_api_key(conn, name=DEMO_FEED_KEY_NAME, role="feed", sources=[], actor=DEMO_ACTOR)
    return key


def feeds_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api/v1/feeds/{{source}}"


# --------------------------------------------------------------------------- the replay's plan

# Wall seconds of calm pre-roll between starting ingest/engine/API on the replay clock and the
# storm window's start: the engine fits its tide models meanwhile. The clock starts where the
# history ends (``history_end``) and the replay publishes from there on, so no component ever
# sees a reading from its future and there is no gap in the data.
CLOCK_LEAD_S = 20.0

DRILL_SEGMENT = "PH01"
DRILL_SOURCE = "demo_drill"  # its own source: a series of its own, never superseding the simulated services' ones
OUTAGE_GATEWAY = "gw-zhapu"
OUTAGE_BEFORE_LANDFALL_S = 6600.0  # 1 h 50 min before landfall (issue 12's case)
OUTAGE_FOR_S = 7200.0  # simulated seconds the gateway stays away


@dataclass
class ReplayPlan:
    """Where the replay lies on the replay clock, and (with --check) the story it must tell."""

    start: datetime
    end: datetime
    landfall: datetime
    offset_s: float  # storm time = sim time - offset
    source: object  # simulators.source.ModelSource
    check_args: tuple[str, ...] = ()
    outage: object | None = None  # story.Outage
    drill: tuple = ()  # ((sim time, msgType, level), ...) of the --check bulletin drill
    story: object | None = None  # story.Story (built lazily: build_story)
    window_args: tuple[str, ...] = ()  # --peak-in/--after/--seed: the backfill must map storm time the same way
    history_end: datetime | None = None  # the backfill ends here = the replay clock at the services' start
    replay_argv: tuple[str, ...] = ()  # `simulate replay` arguments: from history_end, the window, faults

    def storm_time(self, t: datetime) -> datetime:
        return datetime.fromtimestamp(t.timestamp() - self.offset_s, CST)

    @classmethod
    def build(cls, options, catalog=None, now: datetime | None = None) -> ReplayPlan:
        import argparse

        from haixun.demo.story import Downgrade, Outage, build_story, station_segments
        from haixun.riskcode import load_config
        from haixun.riskcode.levels import Level
        from haixun.simulators import cli as sim_cli
        from haixun.simulators import typhoon as ty
        from haixun.simulators.geo import load_sim_geography
        from haixun.simulators.source import replay_source

        parser = argparse.ArgumentParser(add_help=False)
        sim_cli.configure(parser.add_subparsers())
        ns, _ = parser.parse_known_args(["simulate", "replay", *options.replay_args])
        lead = timedelta(seconds=CLOCK_LEAD_S * options.speed)
        history_end = (ns.start - lead) if ns.start else (now or datetime.now(UTC)).replace(microsecond=0)
        start = history_end + lead
        peak_in_h, after_h = sim_cli.replay_window(ns.peak_in, ns.after)
        geo = load_sim_geography()
        source = replay_source(geo, start, historical=False, peak_in=timedelta(hours=peak_in_h), seed=ns.seed)
        end = start + timedelta(hours=peak_in_h + after_h)
        if ns.duration is not None:
            end = start + timedelta(seconds=ns.duration)
        landfall = start + timedelta(hours=peak_in_h)
        # the backfill and the replay start at history_end: their landfall is as much later
        lead_h = lead / timedelta(hours=1)
        window = ("--peak-in", repr(peak_in_h + lead_h), "--after", repr(after_h), "--seed", str(ns.seed))
        plan = cls(start, end, landfall, source.offset_s, source, window_args=window, history_end=history_end)
        own = ["--start", history_end.isoformat(), *window]
        if ns.duration is not None:
            own += ["--duration", repr(ns.duration + lead.total_seconds())]
        plan.replay_argv = tuple(_without(options.replay_args, ("--start", "--peak-in", "--after", "--seed",
                                                                  "--duration"))) + tuple(own)
        if options.check:
            config = load_config()
            extra: list[str] = []
            outages = []
            off_after = peak_in_h * 3600.0 - OUTAGE_BEFORE_LANDFALL_S  # from the window's start
            if not ns.fault and off_after > 0 and start + timedelta(seconds=off_after + OUTAGE_FOR_S) < end:
                extra += ["--fault", f"offline@{OUTAGE_GATEWAY}",
                          "--fault-after", f"{off_after + lead.total_seconds():g}",  # from the replay's start
                          "--offline-for", f"{OUTAGE_FOR_S / options.speed:g}"]
                stations = [s.id for s in geo.stations if s.gateway_id == OUTAGE_GATEWAY]
                off_at = start + timedelta(seconds=off_after)
                outages.append(Outage(",".join(stations), off_at, off_at + timedelta(seconds=OUTAGE_FOR_S),
                                      station_segments(stations), float(config.staleness.max_age_s["tide_level"])))
                plan.outage = outages[0]
            downgrades = []
            if start + timedelta(hours=4) < end:
                # orange: above anything the services or the sensors say that early in the window,
                # so the drill segment's level is held by the drill bulletin alone
                plan.drill = ((start + timedelta(hours=1), "Alert", "orange"),
                              (start + timedelta(hours=2), "Update", "blue"),
                              (start + timedelta(hours=3), "Cancel", "none"))
                downgrades.append(Downgrade(start + timedelta(hours=2), (DRILL_SEGMENT,), Level.ORANGE, Level.BLUE))
            plan.check_args = tuple(extra)
            plan.replay_argv += plan.check_args
            plan.story = build_story(source, start, end, outages=outages, downgrades=downgrades, config=config)
            # an engine cycle and the pipeline take about a wall second: at high speed that is minutes
            plan.story = dataclasses.replace(plan.story, outage_allowance_s=300.0 + options.speed * 1.0)
        else:
            plan.story = build_story(source, start, end, step=timedelta(minutes=20))
        assert ty.INFA_LANDFALL_PINGHU
        return plan


def _without(argv: tuple[str, ...], options: tuple[str, ...]) -> list[str]:
    """``argv`` without these options and their values (``--x v`` or ``--x=v``)."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in options:
            skip = True
            continue
        if any(a.startswith(o + "=") for o in options):
            continue
        out.append(a)
    return out


def drill_bulletin(plan: ReplayPlan, index: int):
    """The --check drill: a yellow surge bulletin for one segment, its blue Update, its Cancel."""
    from haixun.contract import format_ts
    from haixun.simulators.feeds import Bulletin

    at, msg_type, level = plan.drill[index]
    run = plan.start.strftime("%Y%m%dT%H%M%S")
    ident = f"haixun-demo-drill.{run}.{index}"
    refs = [f"haixun-demo-drill.{run}.{index - 1}"] if index else []
    return Bulletin(DRILL_SOURCE, {
        "identifier": ident, "external_id": ident, "msgType": msg_type, "references": refs, "sent": format_ts(at),
        "issuer": "haixun demo --check (drill, not a forecast)", "kind": "surge_forecast", "level": level,
        "area": {"segments": [DRILL_SEGMENT]}, "valid_from": format_ts(at),
        "valid_to": format_ts(at + timedelta(hours=12)), "issued_at": format_ts(at),
        "text_zh": "演练：风暴潮警报测试。", "text_en": f"DRILL: storm surge {msg_type} {level} (demo --check).",
    })

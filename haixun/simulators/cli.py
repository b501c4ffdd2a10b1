"""``haixun simulate gateways|replay|cameras|faults|load|feeds``."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime, timedelta, timezone

from haixun.clock import Clock
from haixun.settings import Settings

log = logging.getLogger("haixun.simulators")

# The default replay window, in storm time: calm weather (Beaufort < 6, no surge) hours before
# the first rise, the high waters of 25 July (10:00 and the overnight 22:40), the landfall at
# 09:50 CST 26 July, and calm again (docs/simulators.md "The replay window").
STORM_WINDOW_START = datetime(2021, 7, 24, 8, tzinfo=timezone(timedelta(hours=8)))
STORM_WINDOW_END = datetime(2021, 7, 27, 6, tzinfo=timezone(timedelta(hours=8)))


DEFAULT_PEAK_IN_H = ((datetime(2021, 7, 26, 9, 50, tzinfo=timezone(timedelta(hours=8))) - STORM_WINDOW_START)
                          / timedelta(hours=1))
DEFAULT_AFTER_H = ((STORM_WINDOW_END - datetime(2021, 7, 26, 9, 50, tzinfo=timezone(timedelta(hours=8))))
                        / timedelta(hours=1))


def replay_window(peak_in_h: float | None, after_h: float | None) -> tuple[float, float]:
    """(hours from the start to the landfall, hours after it) of the replay."""
    return (DEFAULT_PEAK_IN_H if peak_in_h is None else peak_in_h,
            DEFAULT_AFTER_H if after_h is None else after_h)


def _ts(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--start {text!r} needs a UTC offset (e.g. +08:00)")
    return t.astimezone(UTC)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per real second (default 1; 60 = 1 h per min); "
                        "ignored when HAIXUN_CLOCK is a replay clock (its speed applies)")
    p.add_argument("--start", type=_ts, default=None,
                   help="simulated start time, RFC 3339 with offset (default: the start of the HAIXUN_CLOCK "
                        "replay clock, else now)")
    p.add_argument("--duration", type=float, default=None, help="simulated seconds to run (default: forever / storm window)")
    p.add_argument("--period", type=float, default=60.0, help="observation period in simulated seconds (default 60)")
    p.add_argument("--batch", type=int, default=1, help="observations per message (buffered gateways), default 1")
    p.add_argument("--geo", default=None, help="geography GeoJSON (default: the packaged haixun/data/pinghu.geojson; validated)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fault", action="append", default=[], metavar="KIND[@TARGET]",
                   help="stuck|spike|dropout|skew|malformed|offline|duplicate; TARGET = ids (comma), fraction or all")
    p.add_argument("--fault-after", type=float, default=0.0, help="simulated seconds before faults start")
    p.add_argument("--fault-probability", type=float, default=1.0, help="per-message probability for spike/dropout/duplicate/malformed")
    p.add_argument("--skew", type=float, default=600.0, help="clock skew in seconds for --fault skew")
    p.add_argument("--offline-for", type=float, default=30.0, help="real seconds an offline gateway stays away")
    p.add_argument("--backfill-days", type=_non_negative, default=0.0, metavar="N",
                   help="first publish N days of hourly history per station, ending at the start (default 0: none)")


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def _replay_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--historical", action="store_true", help="publish the 2021-07-24..27 timestamps (model time = sim time)")
    p.add_argument("--peak-in", type=float, default=None,
                   help=f"hours from the start to the Pinghu landfall (default {DEFAULT_PEAK_IN_H:g}: the storm "
                        "window starts in calm weather at 08:00 CST 24 July 2021)")
    p.add_argument("--after", type=float, default=None,
                   help=f"hours simulated after the landfall (default {DEFAULT_AFTER_H:g}: until calm again, "
                        "06:00 CST 27 July 2021)")


def _feed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-url", default="http://127.0.0.1:8000/api/v1/feeds/{source}")
    p.add_argument("--api-key", default=None)
    p.add_argument("--feed-period", type=float, default=3600.0,
                   help="simulated seconds between the services' forecast rounds (default 3600); a bulletin "
                        "goes out when a series' level changes, every 6 h when it does not, and a Cancel at the end")


def configure(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser("simulate", help="field simulators: gateways, In-fa replay, cameras, faults, load, feeds")
    sub = sim.add_subparsers(dest="sim_command", metavar="MODE", required=True)

    p = sub.add_parser("gateways", help="every station publishes calm-weather observations")
    _common(p)
    p.set_defaults(func=cmd_gateways)

    p = sub.add_parser("replay", help="typhoon In-fa (2021) replay through the gateways, with cameras and feeds")
    _common(p)
    _replay_args(p)
    _feed_args(p)
    p.add_argument("--no-cameras", action="store_true")
    p.add_argument("--no-feeds", action="store_true")
    p.add_argument("--backfill-only", action="store_true",
                   help="publish the --backfill-days history ending at the start, then exit (the demo runs this "
                        "before it starts the replay clock)")
    p.set_defaults(func=cmd_replay, speed=60.0)

    p = sub.add_parser("cameras", help="camera analytics events only (replay conditions)")
    _common(p)
    _replay_args(p)
    p.set_defaults(func=cmd_cameras, speed=60.0)

    p = sub.add_parser("faults", help="calm gateways with faults (at least one --fault)")
    _common(p)
    p.set_defaults(func=cmd_faults)

    p = sub.add_parser("feeds", help="official bulletins only, POSTed to --api-url")
    _common(p)
    _replay_args(p)
    _feed_args(p)
    p.set_defaults(func=cmd_feeds, speed=60.0)

    p = sub.add_parser("load", help="N virtual stations x rate Hz; reports msg/s and readings/s")
    p.add_argument("--stations", type=int, default=1000)
    p.add_argument("--rate", type=float, default=1.0, help="readings per station per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds")
    p.add_argument("--batch", type=int, default=1, help="readings per message (array payload)")
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--in-flight", type=int, default=2000)
    p.add_argument("--prefix", default="LOAD")
    p.set_defaults(func=cmd_load)


def run_clock(args: argparse.Namespace, settings: Settings, default_start: datetime) -> tuple[Clock, datetime, bool]:
    """(clock, run start, shared): the replay clock of HAIXUN_CLOCK when set
    (every process of the replay reads the same one), else one built here
    from --start/--speed, anchored at this (whole) wall-clock second."""
    shared = settings.clock
    if shared.is_replay:
        assert shared.sim_start is not None
        return shared, args.start or shared.sim_start, True
    start = args.start or default_start
    wall = datetime.now(UTC).replace(microsecond=0)  # the spec has whole seconds
    return Clock.replay(start, args.speed, wall_start=wall), start, False


def _build(args: argparse.Namespace, settings: Settings, *, replay: bool):
    from pathlib import Path

    from haixun.simulators import typhoon as ty
    from haixun.simulators.backfill import BackfillOptions
    from haixun.simulators.faults import FaultSpec, resolve_faults
    from haixun.simulators.gateway import GatewayOptions
    from haixun.simulators.geo import load_sim_geography
    from haixun.simulators.runner import RunConfig
    from haixun.simulators.source import ModelSource, replay_source

    geo = load_sim_geography(Path(args.geo) if args.geo else None)
    now = datetime.now(UTC).replace(microsecond=0)
    historical = replay and args.historical
    default_start = datetime(2021, 7, 24, tzinfo=ty.CST).astimezone(UTC) if historical else now
    clock, start, shared = run_clock(args, settings, default_start)
    if shared:
        if args.speed != clock.speed and args.speed != 1.0:
            log.warning("--speed %g ignored: HAIXUN_CLOCK runs at x%g", args.speed, clock.speed)
    elif clock.speed != 1.0 or args.start is not None:
        # the other processes of this replay need the same clock
        print(f"HAIXUN_CLOCK={clock.spec()}", file=sys.stderr, flush=True)
    until = None
    if replay:
        peak_in_h, after_h = replay_window(args.peak_in, args.after)
        if historical:
            source = replay_source(geo, start, historical=True, peak_in=timedelta(0), seed=args.seed)
            until = ty.INFA_LANDFALL_PINGHU + timedelta(hours=after_h)
            if args.start is None and not shared:
                until = datetime(2021, 7, 28, tzinfo=ty.CST).astimezone(UTC)
        else:
            source = replay_source(geo, start, historical=False, peak_in=timedelta(hours=peak_in_h), seed=args.seed)
            until = start + timedelta(hours=peak_in_h + after_h)
    else:
        source = ModelSource(geo, 0.0, None, args.seed)
    if args.duration is not None:
        until = start + timedelta(seconds=args.duration)
    specs = [FaultSpec.parse(f, after_s=args.fault_after, probability=args.fault_probability, skew_s=args.skew,
                             offline_for_s=args.offline_for) for f in args.fault]
    plan = resolve_faults(specs, {s.id: s.gateway_id for s in geo.stations}, seed=args.seed)
    cfg = RunConfig(sim_start=start, until=until, speed=clock.speed, clock=clock,
                    gateway=GatewayOptions(period_s=args.period, batch=args.batch, seed=args.seed), faults=plan,
                    backfill=BackfillOptions(days=args.backfill_days) if args.backfill_days > 0 else None)
    return geo, source, cfg


def _run(settings: Settings, geo, source, cfg) -> int:
    import asyncio

    from haixun.simulators.runner import run_simulation

    log.info("simulating %d stations / %d cameras (%s geography) from %s at x%.0f until %s", len(geo.stations),
             len(geo.cameras), geo.source, cfg.sim_start.isoformat(), cfg.speed, cfg.until)
    stats = asyncio.run(run_simulation(settings, geo, source, cfg))
    msgs = sum(g.messages for g in stats.gateways.values())
    readings = sum(g.readings for g in stats.gateways.values())
    backfilled = stats.backfill.observations if stats.backfill is not None else 0
    print(f"messages={msgs} readings={readings} camera_events={stats.camera_events} "
          f"bulletins={stats.bulletins} delivered={stats.bulletins_delivered} backfill_observations={backfilled}")
    return 0


def cmd_gateways(args: argparse.Namespace, settings: Settings) -> int:
    return _run(settings, *_build(args, settings, replay=False))


def cmd_faults(args: argparse.Namespace, settings: Settings) -> int:
    if not args.fault:
        print("give at least one --fault KIND[@TARGET]")
        return 2
    return _run(settings, *_build(args, settings, replay=False))


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    geo, source, cfg = _build(args, settings, replay=True)
    cfg.cameras = not args.no_cameras
    cfg.feeds = not args.no_feeds
    cfg.api_url, cfg.api_key, cfg.feed_period_s = args.api_url, args.api_key, args.feed_period
    cfg.backfill_only = args.backfill_only
    return _run(settings, geo, source, cfg)


def cmd_cameras(args: argparse.Namespace, settings: Settings) -> int:
    geo, source, cfg = _build(args, settings, replay=True)
    cfg.cameras, cfg.gateways_enabled = True, False
    return _run(settings, geo, source, cfg)


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    geo, source, cfg = _build(args, settings, replay=True)
    cfg.feeds, cfg.gateways_enabled = True, False
    cfg.api_url, cfg.api_key, cfg.feed_period_s = args.api_url, args.api_key, args.feed_period
    return _run(settings, geo, source, cfg)


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from haixun.simulators.load import LoadOptions, run_load

    opts = LoadOptions(stations=args.stations, rate_hz=args.rate, duration_s=args.duration, batch=args.batch,
                       connections=args.connections, in_flight=args.in_flight, prefix=args.prefix)
    r = asyncio.run(run_load(settings, opts))
    print(f"requested={r.requested_messages} published={r.published_messages} failed={r.failed} "
          f"elapsed={r.elapsed_s:.2f}s msg/s={r.msg_per_s:.0f} readings/s={r.readings_per_s:.0f}")
    return 0 if r.published_messages == r.requested_messages else 1

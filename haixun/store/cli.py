"""``haixun migrate``."""

from __future__ import annotations

import argparse

from haixun.settings import Settings


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from haixun.store.migrate import migrate

    days = args.retention_days if args.retention_days is not None else settings.retention_days
    mode = migrate(settings.database_url, mode=args.readings_mode or settings.readings_mode, retention_days=days)
    print(f"migrated {settings.database_url.rsplit('@', 1)[-1]} (readings: {mode})")
    return 0


def _retention(args: argparse.Namespace, settings: Settings) -> int:
    from haixun.store.migrate import apply_retention

    n = apply_retention(settings.database_url)
    print(f"retention: {n} day(s) of readings dropped")
    return 0


def configure(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("migrate", help="create the database if absent and apply schema migrations")
    p.add_argument("--readings-mode", choices=("auto", "timescale", "partitioned"), default=None,
                   help="storage of readings on a new database (default HAIXUN_READINGS_MODE, auto: TimescaleDB "
                        "when preloaded with the Timescale License, else partitioned tables)")
    p.add_argument("--retention-days", type=int, default=None,
                   help="keep this many days of readings behind the newest one, 0 = off (default "
                        "HAIXUN_RETENTION_DAYS, else the database's setting: 400 on a new one)")
    p.set_defaults(func=_migrate)
    r = sub.add_parser("retention", help="drop readings older than the retention setting (counted on data time)")
    r.set_defaults(func=_retention)

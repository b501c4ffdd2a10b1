"""``haixun migrate``."""

from __future__ import annotations

import argparse

from haixun.settings import Settings


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from haixun.store.migrate import migrate

    mode = migrate(settings.database_url)
    print(f"migrated {settings.database_url.rsplit('@', 1)[-1]} (readings: {mode})")
    return 0


def configure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="create the database if absent and apply schema migrations")
    p.set_defaults(func=_migrate)

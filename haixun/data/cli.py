"""``haixun load-geo`` and ``haixun geo-check``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from haixun.settings import Settings

if TYPE_CHECKING:
    from haixun.data.geography import Geography


def _load(path: Path | None) -> Geography | None:
    """The validated geography, or None after printing why it was refused."""
    from haixun.data.geography import GeographyError, load_geography

    try:
        return load_geography(path)
    except GeographyError as exc:
        print(exc)
        return None


def _geo_check(args: argparse.Namespace, settings: Settings) -> int:
    geo = _load(args.path)
    if geo is None:
        return 1
    print(f"{geo.source}: version {geo.version} OK - {len(geo.segments)} segments, "
          f"{geo.seawall_length_m() / 1000:.2f} km of seawall, {len(geo.stations)} stations, "
          f"{len(geo.cameras)} cameras, {len(geo.towns)} towns, {len(geo.villages)} villages, "
          f"{len(geo.shelters)} shelters, {len(geo.roads)} roads")
    return 0


def _load_geo(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from haixun.data.sync import sync_to_db

    geo = _load(args.path)
    if geo is None:
        return 1
    with psycopg.connect(settings.database_url) as conn:
        result = sync_to_db(conn, geo, force_state=args.force_state)
    changed = ", ".join(f"{k} {v}" for k, v in result.changed.items() if v) or "nothing"
    removed = ", ".join(f"{k} {v}" for k, v in result.removed.items() if v) or "nothing"
    print(f"geography {result.version} loaded from {geo.source}: changed {changed}; removed/deactivated {removed}")
    if result.kept_state:
        print("kept duty-officer state (use --force-state to reset): " + ", ".join(result.kept_state))
    return 0


def configure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("load-geo", help="validate the geography file and load it into the database")
    p.add_argument("--path", type=Path, default=None, help="GeoJSON file (default: the packaged pinghu.geojson)")
    p.add_argument("--force-state", action="store_true",
                   help="also reset shelter open / road closed state set by duty officers to the file's values")
    p.set_defaults(func=_load_geo)
    p = sub.add_parser("geo-check", help="validate a geography file and print a summary or its problems")
    p.add_argument("--path", type=Path, default=None, help="GeoJSON file (default: the packaged pinghu.geojson)")
    p.set_defaults(func=_geo_check)

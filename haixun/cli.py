"""``haixun`` command line: one subcommand family per package.

Each package that offers commands has a ``cli.py`` with
``configure(subparsers)``, which adds its subcommands and sets
``func(args, settings) -> int`` on each. Those modules import their heavy
dependencies inside the command functions, so ``haixun --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from haixun.settings import Settings

COMMAND_MODULES = (
    "haixun.store.cli",      # migrate
    "haixun.data.cli",       # load-geo, geo-check
    "haixun.ingest.cli",     # ingest
    "haixun.engine.cli",     # engine
    "haixun.api.cli",        # api
    "haixun.simulators.cli", # simulate ...
    "haixun.demo.cli",       # demo
    "haixun.gateways.cli",   # gateways (broker users, ACL, TLS)
    "haixun.bench_cli",      # bench
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="haixun", description="Pinghu marine-hazard monitoring and risk codes")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that package offers no commands (yet)
                continue
            raise
        module.configure(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args, Settings()) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

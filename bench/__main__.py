"""``python -m bench [--smoke] [--only a,b] [--out docs/performance.md]``."""

from __future__ import annotations

import argparse
import sys

from bench.runner import SECTION_KEYS, run_benchmarks


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="haixun benchmarks -> docs/performance.md")
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smoke", action="store_true", help="small sizes (development; numbers are not the result)")
    p.add_argument("--only", default="", help=f"comma-separated sections: {','.join(SECTION_KEYS)}")
    p.add_argument("--out", default=None, help="report path (default docs/performance.md)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_benchmarks(smoke=args.smoke, only=args.only, out=args.out)


if __name__ == "__main__":
    sys.exit(main())

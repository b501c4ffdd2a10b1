"""``haixun bench [--smoke] [--only a,b] [--out PATH]``: run the benchmarks of the checkout.

The ``bench`` package lives at the repository root (next to ``haixun/``), not
inside the installed package, so this command only works from a checkout; it
runs ``python -m bench`` there with the same interpreter.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from haixun.settings import Settings


def checkout_root() -> Path | None:
    """The repository root holding ``bench/__main__.py``, or None for an installed copy."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "bench" / "__main__.py").is_file() else None


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    import subprocess
    import sys

    root = checkout_root()
    if root is None:
        print("haixun bench needs a source checkout (bench/ next to haixun/); none found", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "bench"]
    if args.smoke:
        cmd.append("--smoke")
    if args.only:
        cmd += ["--only", args.only]
    if args.out:
        cmd += ["--out", str(Path(args.out).resolve())]
    return subprocess.call(cmd, cwd=root)


def configure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run the benchmarks (source checkout only) -> docs/performance.md")
    p.add_argument("--smoke", action="store_true", help="small sizes (development; numbers are not the result)")
    p.add_argument("--only", default="", help="comma-separated sections (copy,ingest,latency,lookup,fanout,"
                                              "recompute,store,profile)")
    p.add_argument("--out", default=None, help="report path (default docs/performance.md of the checkout)")
    p.set_defaults(func=_bench)

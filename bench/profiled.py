"""Run a ``haixun`` command under pyinstrument: ``python -m bench.profiled --out F [--html H] -- <haixun args>``.

The command stops gracefully on SIGTERM (ingest, engine and uvicorn all do),
then the profile (wall-clock samples of the main thread, where the event loop
runs) is written as text to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections import defaultdict
from pathlib import Path

from pyinstrument import Profiler

from haixun.cli import main as haixun_main

INTERVAL_S = 0.001
TOP = 25
# the event loop waiting for I/O: not work
IDLE_MARKERS = ("asyncio/runners.py", "selectors.py", "select (", "poll (", "epoll")


def self_times(frame, acc: dict[str, float]) -> None:
    """Accumulate self time per function over the whole call tree."""
    if frame is None:
        return
    if not frame.function.startswith("["):  # "[self]"/"[await]" pseudo-frames repeat their parent's time
        acc[f"{frame.function} ({frame.file_path_short}:{frame.line_no})"] += frame.total_self_time
    for child in frame.children:
        self_times(child, acc)


def write_summary(profiler: Profiler, path: Path) -> None:
    session = profiler.last_session
    acc: dict[str, float] = defaultdict(float)
    root = session.root_frame() if session else None
    self_times(root, acc)
    total = root.time if root is not None else 0.0
    idle = sum(v for k, v in acc.items() if any(m in k for m in IDLE_MARKERS))
    top = sorted(((k, v) for k, v in acc.items() if not any(m in k for m in IDLE_MARKERS)), key=lambda kv: -kv[1])
    path.write_text(json.dumps({"total_s": total, "idle_s": idle, "top_self": top[:TOP]}), encoding="utf-8")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    a = p.parse_args()
    args = a.rest[1:] if a.rest and a.rest[0] == "--" else a.rest
    # uvicorn re-raises SIGTERM after its graceful shutdown: turn that into SystemExit so the
    # profile below is still written (ingest and engine handle SIGTERM inside their loop).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    profiler = Profiler(interval=INTERVAL_S, async_mode="disabled", use_timing_thread=True)
    profiler.start()
    try:
        code = haixun_main(args)
    finally:
        profiler.stop()
        a.out.write_text(profiler.output_text(unicode=False, color=False, show_all=False), encoding="utf-8")
        write_summary(profiler, a.out.with_suffix(".json"))
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())

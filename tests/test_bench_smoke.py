"""The benchmark runs end to end on a fast subset and writes a report with numbers.

No performance target is asserted here (the machine is shared while tests run).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_smoke_writes_sections_with_numbers(tmp_path: Path) -> None:
    out = tmp_path / "performance.md"
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--only", "copy,recompute", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    assert "## Machine and run" in text
    assert "**commit**" in text
    copy = text.split("## Raw COPY ceiling", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"\|\s*[\d,]+\s*\|\s*[\d,]+\s*\|", copy), copy
    recompute = text.split("## 5. Full-shoreline recompute", 1)[1].split("\n## ", 1)[0]
    assert "evaluate_shoreline" in recompute and "fit_tide" in recompute
    assert re.search(r"\|\s*\d+\.\d\s*\|", recompute), recompute
    assert "Not measured" not in text
    assert (tmp_path / "performance.raw.json").is_file()


def test_haixun_bench_command_is_registered() -> None:
    from haixun.cli import build_parser

    args = build_parser().parse_args(["bench", "--smoke", "--only", "copy"])
    assert args.smoke and args.only == "copy" and callable(args.func)

"""What ``python -m bench`` needs besides haixun itself, checked before any section starts.

Python packages come from the ``bench`` extra (``pip install -e '.[bench]'``); the HTTP load generator is
wrk, a C program from Debian (``scripts/install-bench-tools``), so the lookup rows are the server's
figure and not a Python client's ceiling.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass

INSTALL_EXTRA = "pip install -e '.[bench]'"
INSTALL_TOOLS = "scripts/install-bench-tools (as root: apt-get install wrk)"

# section -> Python modules it imports (top-level names) and programs it runs
MODULES: dict[str, tuple[str, ...]] = {
    "ingest": ("matplotlib",), "latency": ("matplotlib", "websockets", "httpx"), "lookup": ("httpx",),
    "fanout": ("matplotlib", "websockets", "httpx"), "profile": ("pyinstrument", "httpx"),
}
PROGRAMS: dict[str, tuple[str, ...]] = {"lookup": ("wrk",)}


@dataclass(frozen=True, slots=True)
class Missing:
    section: str
    kind: str   # "module" | "program"
    name: str


def missing(sections: list[str]) -> list[Missing]:
    out = []
    for s in sections:
        out += [Missing(s, "module", m) for m in MODULES.get(s, ()) if importlib.util.find_spec(m) is None]
        out += [Missing(s, "program", p) for p in PROGRAMS.get(s, ()) if shutil.which(p) is None]
    return out


def message(gaps: list[Missing]) -> str:
    """What is missing, for which section, and how to get it."""
    lines = ["python -m bench: missing what the selected sections need:"]
    for g in gaps:
        lines.append(f"  - {g.kind} {g.name} (section {g.section})")
    if any(g.kind == "module" for g in gaps):
        lines.append(f"Python packages: {INSTALL_EXTRA}")
    if any(g.kind == "program" for g in gaps):
        lines.append(f"Load generator: {INSTALL_TOOLS}")
    lines.append("Or leave those sections out with --only.")
    return "\n".join(lines)

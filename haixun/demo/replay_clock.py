"""Ingest QC for an accelerated replay.

``haixun simulate replay --speed N`` starts at the wall-clock time and runs its
clock N times faster, so after a few seconds its observation timestamps are
ahead of the receive time. The packaged QC (``haixun/ingest/qc.toml``) fails any
timestamp more than ``future_fail_s`` (300 s) ahead: right for real gauges,
fatal for a replay at 60x (the storm would never reach the database).

The demo therefore runs ingest with a derived QC file: the packaged one,
unchanged except ``future_fail_s`` widened to 7 days (longer than any replay) and the
``version`` marked ``+demo-replay`` (it is logged at start-up and recorded with
the readings' QC, so demo data is never mistaken for production QC).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

DEMO_VERSION_SUFFIX = "+demo-replay"
_FUTURE = re.compile(r"^(future_fail_s\s*=\s*)([0-9.eE+]+)\s*$", re.M)
_VERSION = re.compile(r'^(version\s*=\s*")([^"]*)(")\s*$', re.M)


class ReplayQcError(RuntimeError):
    """The packaged QC file does not have the expected keys."""


def packaged_qc_text() -> str:
    return (resources.files("haixun.ingest") / "qc.toml").read_text(encoding="utf-8")


def replay_qc_text(base: str, future_fail_s: float) -> str:
    if not _FUTURE.search(base) or not _VERSION.search(base):
        raise ReplayQcError("haixun/ingest/qc.toml has no `future_fail_s = N` or `version = \"...\"` line")
    text = _FUTURE.sub(lambda m: f"{m.group(1)}{future_fail_s:.0f}", base, count=1)
    return _VERSION.sub(lambda m: f"{m.group(1)}{m.group(2)}{DEMO_VERSION_SUFFIX}{m.group(3)}", text, count=1)


# The whole In-fa track spans 5 simulated days; a replay never gets further ahead.
REPLAY_MAX_LEAD_S = 7 * 86_400.0


def write_replay_qc(path: Path, future_fail_s: float = REPLAY_MAX_LEAD_S) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replay_qc_text(packaged_qc_text(), future_fail_s), encoding="utf-8")
    return path

"""Risk configuration for an accelerated replay (embedded database only).

The engine measures its holding times on the wall clock: a downgrade waits
``[hysteresis] dwell_s`` (30 min), a camera event counts for ``hold_s``. In a
replay at N x those are 30 min of *wall* time, i.e. N x 30 min of storm: the
codes would stay red long after the storm has passed. For the demo the same
durations are meant in simulated time, so the demo activates a threshold
version (``threshold_versions``, the mechanism of ``PUT /api/v1/thresholds``)
equal to the active/packaged configuration with those durations divided by N
and the version marked ``+demo-xN``. Thresholds themselves are not touched.

The demo activates it after ``migrate`` and, when it stops, deactivates it and
re-activates the version it replaced (a run killed with SIGKILL leaves it
active until the next demo run or an admin activates another version).
"""

from __future__ import annotations

import hashlib
import logging
import re
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

SCALED_KEYS = ("dwell_s", "hold_s", "corroboration_window_s")
DEMO_MARK = "+demo-x"
CREATED_BY = "haixun demo"
_KEY = re.compile(r"^(\s*(?:" + "|".join(SCALED_KEYS) + r")\s*=\s*)([0-9.eE+]+)(.*)$", re.M)
_VERSION = re.compile(r'^(version\s*=\s*")([^"]*)(")', re.M)
_PREVIOUS = re.compile(r"previous active id (\d+)")


def packaged_riskcode_text() -> str:
    return (resources.files("haixun.riskcode") / "riskcode.toml").read_text(encoding="utf-8")


def scaled_config_text(base: str, speed: float) -> str:
    """``base`` with the holding durations divided by ``speed`` (at least 1 s) and the version marked."""
    if not _VERSION.search(base):
        raise ValueError("riskcode configuration has no version line")
    if not _KEY.search(base):
        raise ValueError("riskcode configuration has none of " + ", ".join(SCALED_KEYS))

    def scale(m: re.Match[str]) -> str:
        return f"{m.group(1)}{max(1, round(float(m.group(2)) / speed))}{m.group(3)}"

    text = _KEY.sub(scale, base)

    def mark(m: re.Match[str]) -> str:
        original = m.group(2).split(DEMO_MARK, 1)[0]
        return f"{m.group(1)}{original}{DEMO_MARK}{speed:g}{m.group(3)}"

    return _VERSION.sub(mark, text, count=1)


def apply_replay_thresholds(url: str, speed: float) -> str | None:
    """Activate the scaled configuration; returns its version (None at speed <= 1: nothing to scale).

    The previously active version (if any) is the base and is named in the
    comment, so :func:`remove_replay_thresholds` can re-activate it.
    """
    remove_replay_thresholds(url)  # a demo version left by a killed run
    if speed <= 1:
        return None
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("LOCK TABLE threshold_versions IN SHARE ROW EXCLUSIVE MODE")
            active = conn.execute("SELECT id, body FROM threshold_versions WHERE active").fetchone()
            base = active[1] if active is not None else packaged_riskcode_text()
            body = scaled_config_text(base, speed)
            conn.execute("UPDATE threshold_versions SET active = false WHERE active")
            previous = f"previous active id {active[0]}" if active is not None else "previous active id none"
            conn.execute(
                "INSERT INTO threshold_versions (version, format, body, sha256, active, created_by, comment) "
                "VALUES (%s, 'toml', %s, %s, true, %s, %s)",
                (_version_of(body), body, hashlib.sha256(body.encode()).hexdigest(), CREATED_BY,
                 f"replay at {speed:g}x: holding durations ({', '.join(SCALED_KEYS)}) divided by {speed:g}; {previous}"),
            )
            return _version_of(body)


def remove_replay_thresholds(url: str) -> bool:
    """Deactivate an active demo version and re-activate the one it replaced. True if one was active."""
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("LOCK TABLE threshold_versions IN SHARE ROW EXCLUSIVE MODE")
            row = conn.execute("SELECT id, comment FROM threshold_versions WHERE active AND created_by = %s",
                               (CREATED_BY,)).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE threshold_versions SET active = false WHERE id = %s", (row[0],))
            m = _PREVIOUS.search(row[1])
            if m:
                conn.execute("UPDATE threshold_versions SET active = true WHERE id = %s", (int(m.group(1)),))
            log.info("demo threshold version %s deactivated", row[0])
            return True


def _version_of(body: str) -> str:
    m = _VERSION.search(body)
    assert m is not None
    return m.group(2)

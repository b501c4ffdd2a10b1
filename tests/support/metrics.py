"""Prometheus text exposition, read back in the tests."""

from __future__ import annotations


def metric(text: str, name: str, labels: str = "") -> float:
    """The value of sample ``name`` + ``labels`` (the label part as exposed, e.g. ``{task="writer"}``), 0 if absent."""
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.split()[-1])
    return 0.0

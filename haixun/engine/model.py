"""The engine's own data types (between riskcode's result and the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

SUBJECT_KINDS = ("segment", "village", "town", "city")


@dataclass(frozen=True, slots=True)
class SubjectDecision:
    """One subject's decision this cycle, ready to store and publish.

    ``entry`` is what goes into the state_log body (segment entry, or area
    entry ``{"level", "counts", "population"}``); ``decision`` is the full
    riskcode record stored in ``current_levels.decision`` / ``decisions``.
    """

    kind: str
    id: str
    level: str
    raw_level: str
    since: datetime
    entry: dict[str, Any]
    decision: dict[str, Any]
    reasons: list[Any] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What one riskcode call produced, in engine terms."""

    config_version: str
    subjects: list[SubjectDecision]
    hysteresis: Any  # riskcode's opaque state, handed back on the next cycle


@dataclass(frozen=True, slots=True)
class CurrentRow:
    """A subject as last written (in memory; restored from current_levels)."""

    level: str
    raw_level: str
    since: datetime
    entry: dict[str, Any]
    last_history_at: datetime | None


class LatestEntry(TypedDict):
    value: float
    ts: datetime
    qc: int


class StationEntry(TypedDict):
    """A station in the state body (docs/state.md ``stations``)."""

    age_s: float | None       # seconds since its newest accepted reading (data time); None: never delivered
    online: bool
    latest: dict[str, LatestEntry]  # quantity -> latest accepted value


@dataclass(slots=True)
class Trigger:
    """Why a cycle runs. ``stations`` accumulates the notified stations."""

    reasons: set[str] = field(default_factory=set)
    stations: set[str] = field(default_factory=set)
    snapshot: bool = False

    @property
    def label(self) -> str:
        if "start" in self.reasons:
            return "start"
        if "ingest" in self.reasons:
            return "ingest"
        return sorted(self.reasons)[0] if self.reasons else "interval"

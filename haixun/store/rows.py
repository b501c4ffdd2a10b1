"""Rows that ingest stores (built by the pure ingest pipeline, written by store/batches.py).

No I/O here: the pipeline imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from haixun import contract


class ReadingRow(NamedTuple):
    """One reading to store; field order = the COPY column order in store/batches.py.

    A NamedTuple (not a frozen dataclass): built 5+ times per message, and
    construction is several times cheaper. The readings of one message share
    their ``ts`` and ``received_at`` objects, which QC and the writer use to
    convert each only once per message.
    """

    station_id: str
    quantity: str
    ts: datetime
    value: float
    qc: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class EventRow:
    event: contract.CameraEvent
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StatusRow:
    status: contract.GatewayStatus
    received_at: datetime

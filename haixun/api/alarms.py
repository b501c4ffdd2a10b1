"""Alarms (level_changes rows, store/alarms.py) as the API sends them: ``AlarmOut``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from haixun.store.alarms import AlarmRow


class AlarmOut(BaseModel):
    """A level change (or data-outage alarm) of a segment, village, town or gateway. Times RFC 3339."""

    id: int
    subject_kind: str
    subject_id: str
    at: str
    from_level: str
    to_level: str
    from_floor: str | None
    to_floor: str | None
    alarm_type: str
    cleared_at: str | None
    detail: str
    reasons: Any
    acknowledged_at: str | None
    acknowledged_by: str | None
    ack_comment: str | None
    notify_count: int
    last_notified_at: str | None


def alarm_json(row: AlarmRow) -> dict[str, Any]:
    """The row as JSON (the AlarmOut fields): timestamps by ``isoformat``."""
    out = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    for k in ("at", "acknowledged_at", "last_notified_at", "cleared_at"):
        if isinstance(out.get(k), datetime):
            out[k] = out[k].isoformat()
    return out

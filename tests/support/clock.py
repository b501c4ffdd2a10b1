"""The wall clock in UTC, as the tests stamp readings (``haixun.contract.format_ts`` writes it)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


"""Stored rows (store/ dataclasses, or mappings) as JSON objects: timestamps RFC 3339 with ``Z``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from haixun.api.live import iso


def row_json(row: Any) -> dict[str, Any]:
    """A dataclass instance or a mapping as a dict, each datetime value as ``iso`` (``...Z``)."""
    items = ({f.name: getattr(row, f.name) for f in dataclasses.fields(row)} if dataclasses.is_dataclass(row)
             else dict(row) if isinstance(row, Mapping) else None)
    if items is None:
        raise TypeError(f"not a row: {type(row).__name__}")
    return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in items.items()}


def opt_row_json(row: Any | None) -> dict[str, Any] | None:
    return None if row is None else row_json(row)

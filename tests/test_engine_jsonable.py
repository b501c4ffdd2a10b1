"""engine.publish.jsonable (orjson) gives the plain JSON values the json module gave: datetimes as iso(),
enums and dataclasses through the same default, int keys as text, numpy floats as floats."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from haixun.engine.publish import _json_default, jsonable
from haixun.riskcode.levels import Level, Status


@dataclass(frozen=True)
class _WithDict:
    a: int

    def to_dict(self) -> dict[str, int]:
        return {"a": self.a, "twice": 2 * self.a}


def _old(obj: object) -> object:
    return json.loads(json.dumps(obj, default=_json_default))


def test_the_json_values() -> None:
    obj = {"since": datetime(2026, 12, 1, 3, 4, 5, 678, tzinfo=UTC), "level": Level.RED, "status": Status(Level.BLUE),
           "rec": _WithDict(3), "counts": {1: 2, "x": (1, 2.5, None, True)}, "text": "潮位", "small": 1e-05,
           "np": np.float64(0.1) + 0.2, "big": 2 ** 62, "neg": -0.0, "nested": [{"ts": datetime(2026, 1, 1, tzinfo=UTC)}]}
    assert jsonable(obj) == _old(obj)
    assert jsonable(obj)["since"] == "2026-12-01T03:04:05.000678Z"


def test_a_nan_becomes_null() -> None:
    assert jsonable({"value": math.nan, "ok": 1.5}) == {"value": None, "ok": 1.5}

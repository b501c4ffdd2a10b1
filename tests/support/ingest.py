"""The hostile-input vectors of issue 14 and their targets (ingest tests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg

from haixun.contract import Reason, format_ts
from haixun.settings import Settings
from tests.support.db import add_cameras, add_stations
from tests.support.mqtt import obs_json


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def nested_json(depth: int) -> str:
    """A JSON object ``depth`` levels deep, as text (json.dumps itself would recurse too deep)."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


def add_hostile_targets(db_url: str) -> None:
    """Station H1 and camera CAMH of gateway gw-h, the targets of the hostile vectors."""
    add_stations(db_url, ["H1"])
    add_cameras(db_url, ["CAMH"])
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE stations SET gateway_id = 'gw-h', quantities = '{tide_level,wind_speed}' WHERE id = 'H1'")
        conn.execute("UPDATE cameras SET gateway_id = 'gw-h' WHERE id = 'CAMH'")


DEEP = (Reason.BAD_SCHEMA, Reason.BAD_JSON)  # json.loads may already refuse the depth, or the extra check does


def issue14_vectors(settings: Settings) -> list[tuple[str, bytes, tuple[str, ...]]]:
    """(topic, payload, acceptable reasons) of every vector in issue 14 items 1-2, on obs, event and status topics."""
    ts = format_ts(_now())
    out: list[tuple[str, bytes, str]] = []
    for bad_ts in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        out += [
            (settings.topic("obs", "H1"), obs_json(bad_ts, {"tide_level": 1.0}).encode(), Reason.BAD_TIMESTAMP),
            (settings.topic("event", "CAMH"), json.dumps({"ts": bad_ts, "type": "overtopping",
                                                          "confidence": 0.5}).encode(), Reason.BAD_TIMESTAMP),
            (settings.topic("status", "gw-h"), json.dumps({"status": "online", "ts": bad_ts}).encode(),
             Reason.BAD_TIMESTAMP),
            (settings.topic("status", "x"), json.dumps({"status": "online", "ts": bad_ts}).encode(),
             Reason.BAD_TIMESTAMP),
        ]
    big = "1" + "0" * 399
    out.append((settings.topic("event", "CAMH"),
                (f'{{"ts": "{ts}", "type": "overtopping", "confidence": {big}}}').encode(), Reason.BAD_SCHEMA))
    out.append((settings.topic("obs", "H1"), (f'{{"ts": "{ts}", "obs": {{"tide_level": {big}}}}}').encode(),
                Reason.OUT_OF_PHYSICAL_RANGE))
    deep = nested_json(975)
    out.append((settings.topic("event", "CAMH"),
                (f'{{"ts": "{ts}", "type": "overtopping", "confidence": 0.5, "extra": {deep}}}').encode(),
                DEEP))
    out.append((settings.topic("status", "gw-h"), (f'{{"status": "online", "extra": {deep}}}').encode(), DEEP))
    out.append((settings.topic("status", "gw-h"), (f'{{"status": "online", "extra": {nested_json(40)}}}').encode(),
                Reason.BAD_SCHEMA))
    out.append((settings.topic("event", "CAMH"),
                json.dumps({"ts": ts, "type": "overtopping", "confidence": 0.5, "note": "a\u0000b"}).encode(),
                Reason.BAD_SCHEMA))
    # item 2: a topic of 8000 characters (the dead-letter insert itself failed on the index)
    out.append((f"{settings.topic_root}/v1/obs/{'A' * 8000}", obs_json(ts, {"tide_level": 1.0}).encode(),
                Reason.BAD_TOPIC))
    out.append((f"{settings.topic_root}/v1/obs/{'é' * 4000}", b"{}", Reason.BAD_TOPIC))
    return [(t, p, tuple(str(x) for x in r) if isinstance(r, tuple) else (str(r),)) for t, p, r in out]

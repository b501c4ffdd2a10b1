"""Pure batch processing: raw MQTT messages -> rows to store.

No I/O here: the caller supplies the known station and camera ids and the QC
engine. Every message ends as rows (readings, camera event, gateway status)
or as exactly one dead letter with a contract reason code.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from haixun import contract
from haixun.contract import ContractError, Reason, TopicKind
from haixun.data.datum import to_warning_datum
from haixun.errors import HaixunError
from haixun.ingest.admission import Admission
from haixun.ingest.qc import QcEngine, QcResult
from haixun.store.rows import DeadLetterRow, EventRow, ReadingRow, StatusRow

# Dead letters keep the raw payload for forensics, truncated for oversized ones.
DEAD_LETTER_PAYLOAD_MAX = 16 * 1024


class RawMessage(NamedTuple):
    topic: str
    payload: bytes
    received_at: datetime


@dataclass(slots=True)
class Processed:
    readings: list[ReadingRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    statuses: list[StatusRow] = field(default_factory=list)
    dead_letters: list[DeadLetterRow] = field(default_factory=list)
    qc: QcResult | None = None
    messages: int = 0


class NeedLookup(HaixunError):
    """An id is not in the cache; the caller refreshes it (or spools if the DB is down)."""

    def __init__(self, kind: str, ids: set[str]) -> None:
        super().__init__(f"unknown {kind}: {sorted(ids)[:5]}")
        self.kind = kind
        self.ids = ids


# Topics are cut to this many characters in dead letters: the btree index on
# dead_letters.topic takes entries of at most ~2700 bytes (issue 14: an
# 8000-character topic made the dead-letter insert itself fail).
DEAD_LETTER_TOPIC_MAX = 512
DEAD_LETTER_DETAIL_MAX = 2000


def _text(s: str, limit: int) -> str:
    """Safe for a PostgreSQL text column: no NUL, no lone surrogates, at most ``limit`` characters."""
    s = s[:limit] + ("..." if len(s) > limit else "")
    return s.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def dead_letter(msg: RawMessage, reason: str, detail: str) -> DeadLetterRow:
    return DeadLetterRow(msg.received_at, _text(msg.topic, DEAD_LETTER_TOPIC_MAX),
                         msg.payload[:DEAD_LETTER_PAYLOAD_MAX], reason, _text(detail, DEAD_LETTER_DETAIL_MAX))


def _parse(root: str, msg: RawMessage, max_bytes: int) -> tuple[TopicKind, Any]:
    topic = contract.parse_topic(root, msg.topic)
    if topic.kind is TopicKind.OBS:
        return topic.kind, contract.parse_obs(topic.source_id, msg.payload, max_bytes)
    if topic.kind is TopicKind.EVENT:
        return topic.kind, contract.parse_event(topic.source_id, msg.payload, max_bytes)
    return topic.kind, contract.parse_status(topic.source_id, msg.payload, max_bytes)


def required_ids(root: str, messages: Sequence[RawMessage], max_bytes: int) -> tuple[set[str], set[str]]:
    """Station and camera ids the batch refers to (for cache checks)."""
    stations: set[str] = set()
    cameras: set[str] = set()
    for m in messages:
        parts = m.topic.split("/")
        if len(parts) == 4 and parts[0] == root:
            if parts[2] == TopicKind.OBS:
                stations.add(parts[3])
            elif parts[2] == TopicKind.EVENT:
                cameras.add(parts[3])
    return stations, cameras


def process(
    root: str,
    messages: Sequence[RawMessage],
    *,
    stations: Collection[str],
    cameras: Collection[str],
    qc: QcEngine,
    max_bytes: int,
    admission: Admission | None = None,
) -> Processed:
    """Parse, check ids, admission, convert levels to CN1985, QC.

    QC history is not committed (call ``qc.commit(out.qc)`` once stored). Levels
    of a station whose datum is not CN1985 are converted with
    ``qc.datum_offsets`` (loaded from ``stations.datum_offset_m``).
    """
    out = Processed(messages=len(messages))
    pending: list[ReadingRow] = []
    datum_offsets = qc.datum_offsets
    for m in messages:
        try:
            kind, parsed = _parse(root, m, max_bytes)
            if admission is not None:
                admission.check(kind, parsed, m.received_at)
        except ContractError as exc:
            out.dead_letters.append(dead_letter(m, exc.reason.value, exc.detail))
            continue
        except Exception as exc:  # noqa: BLE001 - no message may stop the writer (issue 14)
            out.dead_letters.append(dead_letter(m, Reason.REJECTED.value, f"ingest failed on it: {describe(exc)}"))
            continue
        if kind is TopicKind.OBS:
            obs_list: list[contract.ObsMessage] = parsed
            station_id = obs_list[0].station_id
            if station_id not in stations:
                out.dead_letters.append(dead_letter(m, Reason.UNKNOWN_STATION.value,
                                                    f"station {station_id!r} is not in the stations table"))
                continue
            rat = m.received_at
            # The one place where levels move to the warning datum (haixun/data/datum.py):
            # QC, the readings table and riskcode only ever see CN1985.
            offset = datum_offsets.get(station_id, 0.0)
            for obs in obs_list:
                ts = obs.ts
                for q, v in obs.values.items():
                    if offset:
                        v = to_warning_datum(q, v, offset)
                    pending.append(ReadingRow(station_id, q, ts, v, 0, rat))
        elif kind is TopicKind.EVENT:
            ev: contract.CameraEvent = parsed
            if ev.camera_id not in cameras:
                out.dead_letters.append(dead_letter(m, Reason.UNKNOWN_CAMERA.value,
                                                    f"camera {ev.camera_id!r} is not in the cameras table"))
                continue
            out.events.append(EventRow(ev, m.received_at))
        else:
            out.statuses.append(StatusRow(parsed, m.received_at))
    result = qc.evaluate(pending)
    out.readings = [
        ReadingRow(sid, q, ts, v, flag, rat)
        for (sid, q, ts, v, _, rat), flag in zip(pending, result.flags, strict=True)
    ]
    out.qc = result
    return out


def utc_from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)

"""Bounded on-disk spool of raw MQTT messages for when PostgreSQL is down.

Raw messages (topic, payload, received_at) are spooled, not parsed rows, so
that draining re-runs the whole pipeline (station lookup, QC, dead letters)
once the database is back: a station cannot be checked while it is down.

Layout: ``<spool_dir>/<20-digit segment number>.spool``, append-only, one
active segment rotated at ``segment_max_bytes``. Record::

    magic b"HXS1" | u32 topic_len | u32 payload_len | f64 received_at (epoch s)
    | topic | payload | u32 crc32(everything before)

``append`` writes a whole batch then fsyncs (file and, on a new segment, the
folder) before returning, so a batch is durable before its messages are
acknowledged. A torn tail (crash mid-write, never acknowledged) fails the
length/CRC check and ends the segment. The total size is bounded by
``max_bytes``: ``append`` raises ``SpoolFull`` and the caller applies
backpressure instead of dropping.

Hand-written (about 100 lines) rather than a queue library: the candidates on
PyPI (persist-queue, diskcache) are SQLite-backed with their own locking and
no per-batch fsync control; this needs only append, fsync and ordered replay.
"""

from __future__ import annotations

import builtins
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from haixun.errors import Unavailable

MAGIC = b"HXS1"
_HEAD = struct.Struct("<4sIId")
_CRC = struct.Struct("<I")
SUFFIX = ".spool"


class SpoolFull(Unavailable):
    """The spool reached its size bound: stop consuming until it drains."""


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    topic: str
    payload: bytes
    received_at: float  # epoch seconds, UTC
    offset: int  # byte offset of the record's end within its segment


def encode(topic: str, payload: bytes, received_at: float) -> bytes:
    t = topic.encode()
    body = _HEAD.pack(MAGIC, len(t), len(payload), received_at) + t + payload
    return body + _CRC.pack(zlib.crc32(body))


def read_segment(path: Path, start: int = 0) -> Iterator[SpooledMessage]:
    """Records of one segment from byte ``start``; stops at a torn tail."""
    data = path.read_bytes()
    pos = start
    while pos + _HEAD.size <= len(data):
        magic, tl, pl, rat = _HEAD.unpack_from(data, pos)
        end = pos + _HEAD.size + tl + pl
        if magic != MAGIC or end + _CRC.size > len(data):
            return
        (crc,) = _CRC.unpack_from(data, end)
        if crc != zlib.crc32(data[pos:end]):
            return
        topic = data[pos + _HEAD.size: pos + _HEAD.size + tl].decode()
        yield SpooledMessage(topic, data[pos + _HEAD.size + tl: end], rat, end + _CRC.size)
        pos = end + _CRC.size


class Spool:
    def __init__(self, directory: Path, max_bytes: int, segment_max_bytes: int = 16 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_max_bytes = segment_max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._active: Path | None = None
        self._bytes = sum(p.stat().st_size for p in self.segments())

    def segments(self) -> list[Path]:
        """Segment files, oldest first."""
        return sorted(self.directory.glob("*" + SUFFIX))

    @property
    def bytes(self) -> int:
        return self._bytes

    def is_empty(self) -> bool:
        return not self.segments()

    def _next_segment(self) -> Path:
        # Names are never reused (nanosecond clock, strictly after the last
        # one): the drain progress rows in the database are keyed by name.
        existing = self.segments()
        n = time.time_ns()
        if existing:
            n = max(n, int(existing[-1].stem) + 1)
        return self.directory / f"{n:020d}{SUFFIX}"

    def append(self, messages: list[tuple[str, builtins.bytes, float]]) -> None:
        """Append a batch durably (fsync) or raise ``SpoolFull`` (nothing written)."""
        blob = b"".join(encode(t, p, r) for t, p, r in messages)
        if self._bytes + len(blob) > self.max_bytes:
            raise SpoolFull(f"spool {self.directory} holds {self._bytes} bytes, bound {self.max_bytes}")
        new_file = False
        if self._active is None or not self._active.exists() or self._active.stat().st_size >= self.segment_max_bytes:
            self._active = self._next_segment()
            new_file = True
        fd = os.open(self._active, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
        if new_file:
            dfd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._bytes += len(blob)

    def seal(self) -> None:
        """Close the active segment: the next append starts a new one."""
        self._active = None

    def remove(self, segment: Path) -> None:
        size = segment.stat().st_size
        segment.unlink()
        self._bytes = max(0, self._bytes - size)
        if self._active == segment:
            self._active = None

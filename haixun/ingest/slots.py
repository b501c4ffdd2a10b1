"""Worker slots: a stable identity for each of N ingest workers that share one state folder.

Scale-out (docs/operations.md, "Scale-out") runs N ``haixun ingest`` processes
on one MQTT v5 shared subscription. Each needs its own persistent session
(client id) and its own spool, and a worker that is restarted (or replaced by a
new container after ``kill -9``) must take over the *same* session and spool:
Mosquitto 2 keeps routing a dead member's share of the messages into its
session and redelivers its unacknowledged ones only to that session
(measured, docs/operations.md), and a spool is drained only by its owner.

A slot is an exclusive ``flock`` on ``<state_dir>/ingest-slots/<n>.lock``,
held for the life of the process; the kernel drops it when the process dies,
however it dies. ``claim_slot(..., "auto")`` takes the lowest free slot, so a
replacement worker takes the slot its dead predecessor left. Slot ``n`` means
client id ``<base>-<n>`` and spool ``<state_dir>/spool-<n>``. The folder must
be one filesystem seen by one kernel (a local volume shared by the replicas
of one host, ``docker compose --scale``); across hosts, give each worker a
fixed ``--slot N`` (e.g. a StatefulSet ordinal) on its own volume.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from haixun.errors import HaixunError

MAX_SLOTS = 256
SLOT_FOLDER = "ingest-slots"


class SlotTaken(HaixunError, RuntimeError):
    """The slot asked for is held by another live process."""


@dataclass(frozen=True, slots=True)
class WorkerSlot:
    index: int
    client_id: str
    spool_dir: Path
    lock_path: Path
    fd: int

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def slot_identity(state_dir: Path, base_client_id: str, index: int) -> tuple[str, Path]:
    """(client id, spool folder) of slot ``index``."""
    return f"{base_client_id}-{index}", state_dir / f"spool-{index}"


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for an operator; the lock is the flock
    return fd


def claim_slot(state_dir: Path, base_client_id: str, slot: str, max_slots: int = MAX_SLOTS) -> WorkerSlot:
    """Claim ``slot`` ("auto": the lowest free one, or a number) under ``state_dir``; raise SlotTaken."""
    folder = state_dir / SLOT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    if slot == "auto":
        candidates = range(max_slots)
    else:
        try:
            wanted = int(slot)
        except ValueError:
            raise ValueError(f"--slot must be 'auto' or a number 0-{max_slots - 1}, not {slot!r}") from None
        if not 0 <= wanted < max_slots:
            raise ValueError(f"--slot must be 'auto' or a number 0-{max_slots - 1}, not {slot!r}")
        candidates = range(wanted, wanted + 1)
    for i in candidates:
        path = folder / f"{i}.lock"
        fd = _try_lock(path)
        if fd is None:
            continue
        client_id, spool_dir = slot_identity(state_dir, base_client_id, i)
        return WorkerSlot(i, client_id, spool_dir, path, fd)
    if slot == "auto":
        raise SlotTaken(f"all {max_slots} ingest slots under {folder} are held by running workers")
    raise SlotTaken(f"ingest slot {slot} under {folder} is held by another running worker")

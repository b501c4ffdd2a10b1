"""One life cycle for haixun's long-running asyncio services (IngestService, EngineService, the API's
StateListener).

    new --start()--> starting --> running --stop()--> stopping --> stopped

* ``start()`` runs once per instance: a second ``start()`` (or one after ``stop()``) raises
  ``LifecycleError``, as aiomqtt's ``Client`` refuses re-entry: a service that started twice would
  leak its first pool and tasks. Make a new instance to run again.
* A ``start()`` that fails (a timeout, an unreachable server, a cancellation) rolls back what it began
  (tasks cancelled, pools closed) before the error propagates, and the service is then ``stopped``.
* ``stop()`` before ``start()`` raises ``LifecycleError`` (it is a caller's bug); a second ``stop()``,
  or one after a failed start, does nothing, so ``async with`` plus an explicit ``stop()`` is fine.
* ``stop()`` while ``start()`` is still running raises ``LifecycleError``: cancel the task that
  runs ``start()`` instead (its roll-back then stops what it began).

Standard library only.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable

from haixun.errors import HaixunError


class LifecycleError(HaixunError, RuntimeError):
    """A service was started or stopped out of order (a programming error, never a request's)."""


class State(enum.Enum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Lifecycle:
    """The state of one service instance and the rules above; the service calls ``start``/``stop``
    with its own coroutines."""

    __slots__ = ("name", "state")

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = State.NEW

    @property
    def running(self) -> bool:
        return self.state is State.RUNNING

    async def start(self, begin: Callable[[], Awaitable[None]], roll_back: Callable[[], Awaitable[None]]) -> None:
        """Run ``begin()`` once; on any failure ``roll_back()`` (which must undo a partial ``begin``)."""
        if self.state is not State.NEW:
            again = "it is already running" if self.state in (State.STARTING, State.RUNNING) else "it was stopped"
            raise LifecycleError(f"{self.name}.start() called twice: {again}; one start per instance "
                                 f"(make a new {self.name} to run again)")
        self.state = State.STARTING
        try:
            await begin()
        except BaseException:
            self.state = State.STOPPING
            try:
                await roll_back()
            finally:
                self.state = State.STOPPED
            raise
        self.state = State.RUNNING

    async def stop(self, end: Callable[[], Awaitable[None]]) -> None:
        """Run ``end()`` once, after a successful start; a no-op when already stopped or stopping."""
        if self.state is State.NEW:
            raise LifecycleError(f"{self.name}.stop() before start(): nothing to stop")
        if self.state is State.STARTING:
            raise LifecycleError(f"{self.name}.stop() while start() is running: cancel the start instead")
        if self.state in (State.STOPPING, State.STOPPED):
            return
        self.state = State.STOPPING
        try:
            await end()
        finally:
            self.state = State.STOPPED

"""The one polling helper of the tests.

``await eventually(check)`` calls ``check`` (a function; its result may be
awaitable) until it returns something truthy and returns that. After
``timeout`` seconds it fails with an AssertionError naming ``what`` and the
last result. The timeout bounds a hang; it asserts no speed, so keep it
generous (a loaded 2-core machine is slow). ``ignore``: exception types that
mean "not yet" (a server still starting refuses connections). ``eventually_sync``
is the same for code without an event loop (browser tests, threads, processes).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT_S = 30.0


class _Poll:
    """The verdict shared by both loops: done, not yet, or (past the deadline) an AssertionError."""

    def __init__(self, timeout: float, what: str) -> None:
        self.timeout, self.what = timeout, what
        self.deadline = time.monotonic() + timeout

    def done(self, last: Any) -> bool:
        if last and not isinstance(last, BaseException):
            return True
        if time.monotonic() > self.deadline:
            raise AssertionError(f"{self.what} not met within {self.timeout:g} s (last result: {last!r})")
        return False


async def eventually(check: Callable[[], Any], *, timeout: float = DEFAULT_TIMEOUT_S, step: float = 0.05,
                     what: str = "condition", ignore: tuple[type[BaseException], ...] = ()) -> Any:
    poll = _Poll(timeout, what)
    while True:
        try:
            last = check()
            last = await last if inspect.isawaitable(last) else last
        except ignore as exc:
            last = exc
        if poll.done(last):
            return last
        await asyncio.sleep(step)


def eventually_sync(check: Callable[[], Any], *, timeout: float = DEFAULT_TIMEOUT_S, step: float = 0.05,
                    what: str = "condition", ignore: tuple[type[BaseException], ...] = ()) -> Any:
    poll = _Poll(timeout, what)
    while True:
        try:
            last = check()
        except ignore as exc:
            last = exc
        if poll.done(last):
            return last
        time.sleep(step)

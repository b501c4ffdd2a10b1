"""The one polling helper of the tests.

``await eventually(check)`` calls ``check`` (a function; its result may be
awaitable) until it returns something truthy and returns that. After
``timeout`` seconds it fails with an AssertionError naming ``what`` and the
last result. The timeout bounds a hang; it asserts no speed, so keep it
generous (a loaded 2-core machine is slow). ``eventually_sync`` is the same
for code without an event loop (browser tests, threads).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT_S = 30.0


def _failure(what: str, timeout: float, last: Any) -> AssertionError:
    return AssertionError(f"{what} not met within {timeout:g} s (last result: {last!r})")


async def eventually(check: Callable[[], Any], *, timeout: float = DEFAULT_TIMEOUT_S, step: float = 0.05,
                     what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() > deadline:
            raise _failure(what, timeout, last)
        await asyncio.sleep(step)


def eventually_sync(check: Callable[[], Any], *, timeout: float = DEFAULT_TIMEOUT_S, step: float = 0.05,
                    what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise _failure(what, timeout, last)
        time.sleep(step)

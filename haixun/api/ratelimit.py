"""Login throttling: failed logins counted per user name and per client address in a sliding window.

In memory, per API process (each ``--workers`` process counts on its own: with N workers an attacker gets
at most N times the limit). A user name or address with ``max_failures`` failures inside ``window_s``
is refused (429, ``Retry-After``) until the oldest of them leaves the window; a successful login clears
the user name's failures (not the address's). Limits: ``ApiOptions.login_*`` (docs/api.md).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque


class FailureWindow:
    """Failure times per key, at most ``max_keys`` keys (the least recently failed are forgotten)."""

    def __init__(self, max_failures: int, window_s: float, max_keys: int = 100_000) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._d: OrderedDict[str, deque[float]] = OrderedDict()

    def _live(self, key: str, now: float) -> deque[float] | None:
        q = self._d.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._d[key]
            return None
        return q

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until ``key`` may try again (0: it may now)."""
        now = time.monotonic() if now is None else now
        q = self._live(key, now)
        if q is None or len(q) < self.max_failures:
            return 0.0
        return max(0.0, q[len(q) - self.max_failures] + self.window_s - now)

    def fail(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        q = self._live(key, now)
        if q is None:
            q = self._d[key] = deque(maxlen=self.max_failures)
        q.append(now)
        self._d.move_to_end(key)
        while len(self._d) > self.max_keys:
            self._d.popitem(last=False)

    def clear(self, key: str) -> None:
        self._d.pop(key, None)


class LoginLimiter:
    def __init__(self, user_max: int, addr_max: int, window_s: float) -> None:
        self.users = FailureWindow(user_max, window_s)
        self.addrs = FailureWindow(addr_max, window_s)

    def retry_after(self, username: str, addr: str) -> tuple[float, str]:
        """(seconds, "user" | "address") of the longer wait, (0, "") when the attempt may go ahead."""
        u, a = self.users.retry_after(username.casefold()), self.addrs.retry_after(addr)
        if u <= 0 and a <= 0:
            return 0.0, ""
        return (u, "user") if u >= a else (a, "address")

    def failed(self, username: str, addr: str) -> None:
        self.users.fail(username.casefold())
        self.addrs.fail(addr)

    def succeeded(self, username: str) -> None:
        self.users.clear(username.casefold())

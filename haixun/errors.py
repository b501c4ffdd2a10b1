"""The one root of haixun's own exceptions, and how the API answers each.

Every domain exception of the packages derives from ``HaixunError`` (tests/test_errors.py finds them all
in the source and checks it). ``status`` and ``code`` say what an HTTP request that ends in one gets:
``haixun.api.errors`` installs one handler for the root that writes the API's error body
(``{"error": {"code", "message", "details"}, "detail"}``, docs/api.md "Errors"), so no route converts
a domain error itself. Errors that can never come out of a request (a broken geography file, an
embedded server that did not start) keep the default: an internal error, 500, whose message is not shown.

Standard library only: the pure packages (riskcode, contract) derive their errors from it too.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HaixunError(Exception):
    """Root of haixun's domain errors. ``status``/``code``: the API's answer to one (500 ``internal``
    unless a subclass says otherwise); ``public``: whether its message may be shown to the caller."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    public: ClassVar[bool] = False
    generic: ClassVar[str] = "internal error"  # the message when the error's own text is not ``public``

    def message(self) -> str:
        """One line for people (the API's ``error.message``)."""
        if not self.public:
            return self.generic
        text = str(self).strip()
        return text.splitlines()[0] if text else type(self).__name__

    def details(self) -> Any:
        """Structured detail for the API's ``error.details`` (JSON-able), or None."""
        return None

    def headers(self) -> dict[str, str] | None:
        """Response headers the API adds (e.g. Retry-After), or None."""
        return None


class InvalidInput(HaixunError, ValueError):
    """A value the caller sent cannot be used (a ValueError too, so pydantic validators report it)."""

    status, code, public = 422, "invalid_input", True


class NotFound(HaixunError, LookupError):
    """What the caller asked for does not exist."""

    status, code, public = 404, "not_found", True


class Conflict(HaixunError):
    """The request contradicts the stored state (already acknowledged, unknown reference, ...)."""

    status, code, public = 409, "conflict", True


class Unavailable(HaixunError):
    """A service this answer needs is down right now; try again shortly. Its own text (hosts, ports) is
    for the log, not the caller."""

    status, code = 503, "unavailable"
    generic = "a service this answer needs is unavailable right now; try again shortly"

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": "5"}

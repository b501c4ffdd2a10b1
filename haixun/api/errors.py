"""One error body for every error response (docs/api.md, errors):

    {"error": {"code": "invalid_input", "message": "...", "details": ...}, "detail": ...}

``detail`` is what FastAPI always put there (a string, or the list of validation errors), kept so that
older clients keep working. Input the database cannot take (NUL characters, dates beyond its range,
numbers beyond a column's range) is a 422, a database outage or a statement timeout a 503: never a 500.

haixun's own exceptions (``haixun.errors.HaixunError`` and its subclasses) carry their status, code,
message and details; one handler writes them, so routes raise domain errors and convert none.
"""

from __future__ import annotations

import contextlib
import logging
import math
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from haixun.errors import HaixunError, InvalidInput

log = logging.getLogger(__name__)

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         406: "not_acceptable", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
         422: "invalid_input", 429: "rate_limited", 500: "internal", 503: "unavailable"}

# Timestamps the API accepts: PostgreSQL's timestamptz covers 4713 BC .. 294276 AD, Python 1 .. 9999 AD;
# nothing of this service lies outside these years, and every value inside converts to UTC and back.
TS_MIN_YEAR, TS_MAX_YEAR = 1900, 2999


def check_ts(ts: datetime, name: str = "timestamp") -> datetime:
    """``ts`` (aware) when it lies in TS_MIN_YEAR..TS_MAX_YEAR; InvalidInput (a ValueError) otherwise."""
    try:
        year = ts.astimezone(UTC).year
    except (OverflowError, ValueError):
        year = 0
    if not TS_MIN_YEAR <= year <= TS_MAX_YEAR:
        raise InvalidInput(f"{name} must lie between the years {TS_MIN_YEAR} and {TS_MAX_YEAR} (UTC)")
    return ts


def check_text(value: str, name: str = "text") -> str:
    """``value`` unless it holds a NUL character (which PostgreSQL text cannot store): InvalidInput."""
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain NUL characters")
    return value


def error_body(status: int, message: str, details: Any = None, code: str | None = None,
               legacy_detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code or CODES.get(status, "error"), "message": message, "details": safe_json(details)},
            "detail": safe_json(message if legacy_detail is None else legacy_detail)}


def error_response(status: int, message: str, details: Any = None, code: str | None = None,
                   headers: dict[str, str] | None = None, legacy_detail: Any = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, details, code, legacy_detail), status_code=status,
                        headers=headers)


def safe_json(value: Any, depth: int = 0) -> Any:
    """``value`` made strictly JSON-encodable: non-finite floats and unknown objects as strings,
    bytes decoded with replacement, nesting cut at 20 levels."""
    if depth > 20:
        return "..."
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[:1000]).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): safe_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [safe_json(v, depth + 1) for v in value]
    return str(value)


def _validation_message(errors: list[Any]) -> str:
    parts = []
    for e in errors[:5]:
        if isinstance(e, dict):
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "request"
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more if parts else "invalid request"


def _clean_validation_errors(errors: Any) -> list[Any]:
    out = []
    for e in errors if isinstance(errors, (list, tuple)) else [errors]:
        if isinstance(e, dict):
            e = {k: v for k, v in e.items() if k != "url"}
            if isinstance(e.get("ctx"), dict):
                e["ctx"] = {k: str(v) if isinstance(v, Exception) else v for k, v in e["ctx"].items()}
        out.append(safe_json(e))
    return out


async def _http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail
    if isinstance(detail, dict):
        message, details = str(detail.get("message", "")), detail
    else:
        message, details = str(detail), None
    headers = getattr(exc, "headers", None)
    if exc.status_code in (204, 304):
        return JSONResponse(None, status_code=exc.status_code, headers=headers)
    return error_response(exc.status_code, message, details, headers=headers, legacy_detail=detail)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = _clean_validation_errors(exc.errors())
    return error_response(422, _validation_message(errors), errors, legacy_detail=errors)


async def _data_error(request: Request, exc: psycopg.DataError) -> JSONResponse:
    # psycopg refuses NUL in text client-side (DataError); the server's class-22 errors (e.g. 22P05
    # untranslatable character, 22008 datetime overflow, 22003 numeric out of range) are DataErrors too.
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "NUL" in msg or "0x00" in msg or "\\u0000" in msg:
        msg = "text must not contain NUL characters"
    return error_response(422, f"a value cannot be stored: {msg}", code="invalid_input")


async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
    return error_response(422, f"a value is out of range: {exc}", code="out_of_range")


async def _unavailable(request: Request, exc: Exception) -> JSONResponse | None:
    log.warning("database unavailable for %s %s: %s", getattr(request, "method", "WS"), request.url.path,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if isinstance(request, WebSocket):  # e.g. a ?since= replay read during an outage: try again later
        with contextlib.suppress(Exception):
            await request.close(1013, "database unavailable")
        return None
    return error_response(503, "the database is unavailable or too slow right now; try again shortly",
                          code="unavailable", headers={"Retry-After": "5"})


def domain_error_body(exc: HaixunError) -> tuple[int, dict[str, Any]]:
    """(status, body) of the API's answer to a domain error: its status, code, message and details;
    ``detail`` (kept for older clients) is the details when there are any, else the message."""
    details = exc.details()
    message = exc.message()
    return exc.status, error_body(exc.status, message, details, code=exc.code,
                                  legacy_detail=details if details is not None else message)


async def _domain(request: Request, exc: HaixunError) -> JSONResponse | None:
    if exc.status >= 500:
        log.error("%s %s failed: %s: %s", getattr(request, "method", "WS"), request.url.path, type(exc).__name__,
                  str(exc).splitlines()[0] if str(exc) else "", exc_info=exc.status == 500)
    status, body = domain_error_body(exc)
    if isinstance(request, WebSocket):  # no body to send: the close frame says it
        with contextlib.suppress(Exception):
            await request.close(1011 if status >= 500 else 1008, body["error"]["message"][:100])
        return None
    return JSONResponse(body, status_code=status, headers=exc.headers())


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    return error_response(500, "internal error", code="internal")


def _ws_aware(handler: Any, close_code: int) -> Any:
    """An HTTP handler that, for a websocket, closes it with ``close_code`` (an ignored JSON body would
    leave the socket without a close frame)."""
    async def wrapped(request: Request, exc: Exception) -> JSONResponse | None:
        if isinstance(request, WebSocket):
            with contextlib.suppress(Exception):
                await request.close(close_code, str(exc)[:100])
            return None
        result: JSONResponse = await handler(request, exc)
        return result
    return wrapped


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_exception)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(psycopg.DataError, _ws_aware(_data_error, 1007))
    app.add_exception_handler(OverflowError, _ws_aware(_overflow, 1007))
    app.add_exception_handler(psycopg.OperationalError, _unavailable)
    app.add_exception_handler(PoolTimeout, _unavailable)
    app.add_exception_handler(HaixunError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal)

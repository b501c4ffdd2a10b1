"""Keep resident locations out of the logs: strip the query string of
location paths from uvicorn's access and websocket log lines."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

PRIVATE_PATHS = ("/api/v1/risk", "/ws/risk")

_TOKEN = re.compile(r"[^\s\"']+")
_QMARK = re.compile(r"\?|%(?:25)*3[fF]")  # "?", or "?" percent-encoded once or more
_COORD_KEY = re.compile(r"(?:^|[&;?])\s*(?:lat|lon|lng|latitude|longitude)\s*=", re.IGNORECASE)


def _decoded(text: str, rounds: int = 4) -> str:
    for _ in range(rounds):
        nxt = unquote_plus(text)
        if nxt == text:
            break
        text = nxt
    return text


def _scrub_token(token: str) -> str:
    m = _QMARK.search(token)
    if m is None:
        return token
    path, _, query = _decoded(token).partition("?")
    # a location path in any spelling (trailing or doubled slashes, dot segments, case, percent-encoding),
    # or any query that names a coordinate
    if "risk" in path.lower() or _COORD_KEY.search("&" + query):
        return token[: m.start()]
    return token


def scrub(text: str) -> str:
    """``text`` with the query string of every location request removed (path kept)."""
    if "?" not in text and "%" not in text:
        return text
    return _TOKEN.sub(lambda m: _scrub_token(m.group(0)), text)


class LocationScrubber(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        return True


def install(logger_names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Idempotent: adds one scrubber per logger."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, LocationScrubber) for f in logger.filters):
            logger.addFilter(LocationScrubber())

"""Keep resident locations out of the logs: strip the query string of
location paths from uvicorn's access and websocket log lines."""

from __future__ import annotations

import logging

PRIVATE_PATHS = ("/api/v1/risk", "/ws/risk")


def scrub(text: str) -> str:
    for path in PRIVATE_PATHS:
        marker = path + "?"
        i = text.find(marker)
        while i >= 0:
            end = i + len(marker)
            while end < len(text) and text[end] not in ' "\'':
                end += 1
            text = text[: i + len(path)] + text[end:]
            i = text.find(marker, i + len(path))
    return text


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

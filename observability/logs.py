"""Structured logs: with ``LOG_FORMAT=json`` every record is one JSON object on one line.

Fields: ``timestamp`` (ISO-8601 UTC), ``level``, ``logger``, ``message``; ``trace_id`` and
``span_id`` while a span is active; ``event_id`` while an agent works on one event (the
correlation id, set with :func:`correlated`); ``exception`` with the traceback, if any; and
whatever a call passed in ``extra=``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

from observability.tracing import ids

#: the id of the event being worked on, for log records
CORRELATION_ID: ContextVar[str | None] = ContextVar("driftline_correlation_id", default=None)
LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "error": "ERROR"}
#: attributes every LogRecord has; anything else on a record came from ``extra=``
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@contextlib.contextmanager
def correlated(event_id: str | None) -> Iterator[None]:
    token = CORRELATION_ID.set(event_id)
    try:
        yield
    finally:
        CORRELATION_ID.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = ids()
        if current is not None:
            doc["trace_id"], doc["span_id"] = current
        event_id = CORRELATION_ID.get()
        if event_id is not None:
            doc["event_id"] = event_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in doc:
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(doc, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def logging_config(level: str, fmt: str, *, loggers: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """A ``logging.config.dictConfig`` for ``fmt`` ``json`` (None for ``text``: the tool's own).

    ``loggers`` are set to propagate to the root handler (uvicorn's, say, which have their own).
    """
    if fmt != "json":
        return None
    name = LEVELS.get(level, level.upper())
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json",
                                 "stream": "ext://sys.stdout"}},
        "loggers": {logger: {"handlers": [], "propagate": True, "level": name} for logger in loggers},
        "root": {"level": name, "handlers": ["default"]},
    }

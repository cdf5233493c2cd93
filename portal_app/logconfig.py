"""One logging configuration for every process: the Reflex backend workers and CLI (rxconfig.py) and
the billing CLI (portal_app/billing/__main__.py).

Each line carries a UTC time, the level, the logger and the id of the request or Reflex event being
served (`request_id`, "-" outside one). LOG_FORMAT=json writes one JSON object per line (time, level,
logger, message, request_id, exception) for log shippers; otherwise a readable line:

    2026-12-02T09:41:07.123Z INFO    portal_app.background [-] billing run: 3 renewed, ...

Every handler masks secrets (portal_app/logredact.py's filter), besides the record factory. In a
backend worker, `adopt_server_loggers()` (a lifespan task) moves Reflex's, granian's and uvicorn's
loggers onto this handler, so each of their records is printed once, in this format.

Reflex, run by its CLI, marks the process and its workers as "managed" (REFLEX_MANAGED_LOGGING) and
then re-attaches its own Rich sink to the `reflex` logger (and stops its propagation) every time a
Reflex Config is created, long after start-up. `leave_reflex_logging_to_the_app()` turns that mode off
for this process and the workers it starts - Reflex's documented library mode, where its records
propagate to the application's handlers - so Reflex's lines stay in this format for the process's life.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import os
import time
from typing import Any

from portal_app.logredact import RedactingFilter

NO_REQUEST = "-"
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NO_REQUEST)

# Loggers of the servers around the app: their own handlers (no time, no masking filter) are dropped
# in the workers and their records go to the root handler instead.
SERVER_LOGGERS = (
    "reflex", "_granian", "granian.access", "uvicorn", "uvicorn.error", "uvicorn.access",
    "engineio.server", "socketio.server",
)  # fmt: skip
# Libraries that narrate every HTTP call at INFO (the Stripe SDK, httpx), every file change, or
# every schema check (alembic's "Context impl SQLiteImpl."): shown from WARNING, or with LOG_LEVEL=DEBUG.
CHATTY_LOGGERS = (
    "stripe", "httpx", "httpcore", "urllib3", "watchfiles", "multipart", "alembic", "fontTools",
    # Set on these exact loggers: python-engineio/socketio add a handler of their own (a second copy of
    # every line) to a logger whose level is unset when Reflex creates its socket server.
    "engineio.server", "socketio.server",
)  # fmt: skip


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request or event it belongs to."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get()
        return True


def _utc_time(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """`<UTC time> <LEVEL> <logger> [<request id>] <message>`, then the traceback if any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc_time(record)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = NO_REQUEST
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": _utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or NO_REQUEST,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


def logging_config(level: str = "INFO", log_format: str = "text") -> dict[str, Any]:
    """The dictConfig for LOG_LEVEL / LOG_FORMAT: one stderr handler on the root logger."""
    number = logging.getLevelName(level)
    quiet = number if number == logging.DEBUG else max(number, logging.WARNING)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "portal_app.logconfig.RequestIdFilter"},
            "redact": {"()": "portal_app.logredact.RedactingFilter"},
        },
        "formatters": {
            "text": {"()": "portal_app.logconfig.TextFormatter"},
            "json": {"()": "portal_app.logconfig.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json" if log_format == "json" else "text",
                "filters": ["request_id", "redact"],
            }
        },
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {name: {"level": logging.getLevelName(quiet)} for name in CHATTY_LOGGERS},
    }


def install(level: str = "INFO", log_format: str = "text") -> None:
    """Configure logging for this process (again: the last call wins, handlers are replaced)."""
    logging.config.dictConfig(logging_config(level, log_format))
    filter_every_handler()


def filter_every_handler() -> None:
    """Put the masking filter on every handler of every logger, those other libraries made included."""
    loggers = [logging.getLogger(), *(obj for obj in logging.Logger.manager.loggerDict.values())]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


def adopt_server_loggers() -> None:
    """In a backend worker, once the server has set up its own logging: Reflex's, granian's and
    uvicorn's records go through the root handler only (one line each, this format, masked)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
    filter_every_handler()


REFLEX_MANAGED_LOGGING = "REFLEX_MANAGED_LOGGING"  # reflex_base.utils.log: the CLI's marker


def leave_reflex_logging_to_the_app() -> None:
    """Reflex in library mode from now on (here and in the workers this process starts): it attaches no
    handler of its own, and its records reach the root handler configured above."""
    os.environ[REFLEX_MANAGED_LOGGING] = "false"
    adopt_server_loggers()


async def worker_logging() -> None:
    """Reflex lifespan task: runs in each backend worker after the server configured its logging."""
    adopt_server_loggers()


def set_request_id(value: str) -> contextvars.Token[str]:
    return request_id.set(value or NO_REQUEST)


def reset_request_id(token: contextvars.Token[str]) -> None:
    request_id.reset(token)

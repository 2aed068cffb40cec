"""Structured logs: JSON lines on stdout via structlog; one line per request, never a secret."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

__all__ = ["configure_logging", "request_logger"]


def configure_logging(level: str = "info", *, stream: TextIO | None = None) -> None:
    """Send structlog events as JSON lines to ``stream`` (stdout) at ``level``."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )


def request_logger() -> structlog.typing.FilteringBoundLogger:
    """The logger request lines go to."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("starbase.http")
    return logger

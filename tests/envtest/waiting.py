"""Wait on a condition with a deadline (the only way tests here wait)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until"]

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float, message: str, interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something truthy (returned); ``AssertionError`` naming
    ``message`` when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)  # the polling interval of a condition with a deadline

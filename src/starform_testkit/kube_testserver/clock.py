"""A settable clock: the test server's notion of "now" moves only when a test moves it."""

from __future__ import annotations

import datetime as _dt
import threading

__all__ = ["SettableClock"]


class SettableClock:
    """A clock that starts at ``start`` (default: the wall time at creation) and stands still."""

    def __init__(self, *, start: _dt.datetime | None = None) -> None:
        now = start or _dt.datetime.now(_dt.UTC)
        self._now = now.astimezone(_dt.UTC).replace(microsecond=0)
        self._lock = threading.Lock()

    def now(self) -> _dt.datetime:
        """The current time of this clock (UTC, second precision)."""
        with self._lock:
            return self._now

    def set(self, when: _dt.datetime) -> None:
        """Jump to ``when``."""
        with self._lock:
            self._now = when.astimezone(_dt.UTC).replace(microsecond=0)

    def advance(self, seconds: float) -> _dt.datetime:
        """Move forward by ``seconds`` and return the new time."""
        with self._lock:
            self._now = self._now + _dt.timedelta(seconds=seconds)
            return self._now

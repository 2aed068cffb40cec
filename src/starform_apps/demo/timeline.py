"""A readable timeline for the demo: elapsed time, a step, and what happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Timeline"]


class Timeline:
    """Prints ``[  1.23s] step  detail`` lines, with numbered chapters."""

    def __init__(self, out: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._out = out
        self._clock = clock
        self._start = clock()
        self._chapter = 0
        self.lines: list[str] = []

    def _emit(self, text: str) -> None:
        self.lines.append(text)
        self._out.write(text + "\n")
        self._out.flush()

    def chapter(self, title: str) -> None:
        """Start a numbered chapter of the story."""
        self._chapter += 1
        self._emit(f"\n== {self._chapter}. {title}")

    def step(self, what: str, detail: str = "") -> None:
        """One thing that happened, stamped with the time since the start."""
        elapsed = self._clock() - self._start
        self._emit(f"[{elapsed:7.2f}s] {what:<34} {detail}".rstrip())

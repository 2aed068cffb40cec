"""The Shuttle loop: reconcile every interval, at once on a watch event, back off on failure."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from starform_apps.shuttle.reconciler import Reconciler, ReconcileResult

__all__ = ["Backoff", "ShuttleLoop"]

_log = logging.getLogger("starform.shuttle")


class Backoff:
    """Exponential backoff with full jitter, honouring a server's ``Retry-After``."""

    def __init__(
        self, *, base: float = 1.0, cap: float = 300.0, rng: Callable[[], float] = random.random
    ) -> None:
        self._base = base
        self._cap = cap
        self._rng = rng
        self.failures = 0

    def success(self) -> None:
        """Reset after a success."""
        self.failures = 0

    def failure(self, *, retry_after: float | None = None) -> float:
        """Record a failure; returns how long to wait before the next try."""
        self.failures += 1
        ceiling = min(self._cap, self._base * 2 ** min(self.failures - 1, 20))
        delay = ceiling * (0.5 + 0.5 * self._rng())
        return float(max(delay, retry_after or 0.0))


class ShuttleLoop:
    """Drives a :class:`Reconciler` until stopped."""

    def __init__(
        self,
        reconciler: Reconciler,
        *,
        interval: float = 30.0,
        debounce: float = 1.0,
        backoff: Backoff | None = None,
        on_result: Callable[[ReconcileResult], None] | None = None,
    ) -> None:
        self._reconciler = reconciler
        self._interval = interval
        self._debounce = debounce
        self._backoff = backoff or Backoff()
        self._on_result = on_result
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.ticks = 0

    def trigger(self, *_: object) -> None:
        """Ask for a reconcile now (a watch event on an owned object)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current reconcile, then return from :meth:`run`."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def run_once(self) -> ReconcileResult:
        """One reconcile, with the loop's bookkeeping."""
        self._wake.clear()
        result = self._reconciler.reconcile()
        self.ticks += 1
        if self._on_result is not None:
            self._on_result(result)
        return result

    def run(self) -> None:
        """Reconcile until :meth:`stop`."""
        while not self._stop.is_set():
            try:
                result = self.run_once()
            except Exception:  # a bug must not kill the agent: log, back off, go on
                _log.exception("reconcile crashed")
                delay = self._backoff.failure()
            else:
                failed = result.execution is not None and not result.execution.complete
                if failed or not result.source_ok:
                    retry_after = result.execution.retry_after if result.execution else None
                    delay = min(self._interval, self._backoff.failure(retry_after=retry_after))
                    if retry_after:
                        delay = max(delay, retry_after)
                else:
                    self._backoff.success()
                    delay = self._interval
            if self._wake.wait(delay) and not self._stop.is_set():
                # coalesce a burst of watch events (including our own writes) into one reconcile
                self._stop.wait(self._debounce)

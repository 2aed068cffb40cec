"""The Shuttle loop: reconcile every interval, at once on a watch event or when Starbase's answer
to the long-poll brings news, back off on failure.

With a :class:`~starform_apps.shuttle.notify.PullChannel`, the loop starts the channel's thread
and reconciles on what it pulled (the periodic reconcile still runs, for drift); without one,
each reconcile pulls itself (a plain conditional GET).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from starform_apps.shuttle.notify import PullChannel
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
    """Drives a :class:`Reconciler` until stopped.

    ``wake`` is set by the watch cache on a change to an owned object; ``stop`` by a signal
    (the reconcile under way sees it too, and starts no further action).
    """

    def __init__(
        self,
        reconciler: Reconciler,
        *,
        interval: float = 30.0,
        debounce: float = 1.0,
        backoff: Backoff | None = None,
        on_result: Callable[[ReconcileResult], None] | None = None,
        on_crash: Callable[[], None] | None = None,
        wake: threading.Event | None = None,
        stop: threading.Event | None = None,
        channel: PullChannel | None = None,
    ) -> None:
        self._reconciler = reconciler
        self.channel = channel
        self._interval = interval
        self._debounce = debounce
        self._backoff = backoff or Backoff()
        self._on_result = on_result
        self._on_crash = on_crash
        self._stop = stop or threading.Event()
        self._wake = wake or threading.Event()
        self.ticks = 0

    def trigger(self, *_: object) -> None:
        """Ask for a reconcile now (a watch event on an owned object)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current reconcile (starting no further action), then return from :meth:`run`."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def run_once(self) -> ReconcileResult:
        """One reconcile, with the loop's bookkeeping."""
        self._wake.clear()
        channel = self.channel
        pulled = channel.take() if channel is not None and channel.running else None
        result = self._reconciler.reconcile(pulled)
        self.ticks += 1
        if self._on_result is not None:
            self._on_result(result)
        return result

    def _delay(self, result: ReconcileResult) -> float:
        failed = result.report is not None and result.report.outcome.value in ("partial", "failed")
        if not (failed or not result.source_ok):
            self._backoff.success()
            return self._interval
        retry_after = result.execution.retry_after if result.execution else None
        delay = min(self._interval, self._backoff.failure(retry_after=retry_after))
        return max(delay, retry_after) if retry_after else delay

    def run(self) -> None:
        """Reconcile until :meth:`stop` (starting the pull channel first, when there is one)."""
        self._recover()
        if self.channel is not None:
            self.channel.start()
            # the first reconcile enforces what the first pull brought (not "no payload yet")
            while not self.channel.answered.wait(0.05) and not self._stop.is_set() and self.channel.running:
                pass
        while not self._stop.is_set():
            try:
                result = self.run_once()
            except Exception:  # a bug must not kill the agent: log, back off, go on
                _log.exception("reconcile crashed", extra={"outcome": "crashed"})
                if self._on_crash is not None:
                    self._on_crash()
                delay = self._backoff.failure()
            else:
                delay = self._delay(result)
            if self._wake.wait(delay) and not self._stop.is_set() and not self._news():
                self._coalesce()

    def _recover(self) -> None:
        """Settle a crash's intents before anything is pulled (from the payload they were made
        for); a failure is logged and counted, and the loop goes on."""
        try:
            self._reconciler.recover()
        except Exception:  # a bug must not kill the agent
            _log.exception("settling a crash's intents crashed", extra={"outcome": "crashed"})
            if self._on_crash is not None:
                self._on_crash()

    def _coalesce(self) -> None:
        """Wait the debounce, coalescing a burst of watch events (our own writes included) into
        one reconcile; news from Starbase during it cuts it short."""
        deadline = time.monotonic() + self._debounce
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self._wake.clear()
            if self._wake.wait(left) and self._news():
                return

    def _news(self) -> bool:
        """True when Starbase's answer woke the loop: reconcile at once, no debounce."""
        return self.channel is not None and self.channel.urgent

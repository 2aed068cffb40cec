"""The notification channel: a long-poll held on Starbase, waking the loop as soon as it answers.

:class:`PullChannel` runs in a thread of its own. It asks for the payload with ``Prefer:
wait=<n>``; Starbase holds the request until the cluster's payload changes or ``n`` seconds
pass, and Shuttle asks again at once. An answer that brings something (a new payload, a refused
one, a reconcile request) wakes the loop, which reconciles without its debounce. When Starbase
does not honour the wait (no ``Preference-Applied``), the channel polls every ``interval``
seconds instead; when it cannot be reached, it retries with jittered exponential backoff
(tenacity). The loop's periodic reconcile still runs (drift), using what the channel pulled.

Reconcile requests (``Starform-Reconcile-Request``) are handed on once each (an id Starbase names
again, until it is reported served, does not trigger a second reconcile).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import attrs
import tenacity

from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.pull import Pulled, Puller, PullOutcome

__all__ = ["PullChannel", "merge_pulls"]

_log = logging.getLogger("starform.shuttle")

_SEEN_REQUESTS = 1000
"""Reconcile request ids remembered (so one named again is not served twice)."""
_EARLY_ANSWER = 1.0
"""An unchanged answer faster than this, with nothing in it, was not held: pause as long."""


def merge_pulls(first: Pulled, then: Pulled) -> Pulled:
    """What two pulls in a row amount to for the next reconcile: the latest reachability, a new
    payload (or epoch) if either brought one, every reconcile request of both."""
    requests = tuple(dict.fromkeys((*first.reconcile_requests, *then.reconcile_requests)))
    outcome = then.outcome
    if outcome is PullOutcome.UNCHANGED and first.outcome in (PullOutcome.NEW, PullOutcome.REJECTED):
        outcome = first.outcome
    return attrs.evolve(
        then,
        outcome=outcome,
        new_epoch=first.new_epoch or then.new_epoch,
        reconcile_requests=requests,
    )


class PullChannel:
    """Long-polls Starbase through a :class:`~starform_apps.shuttle.pull.Puller` until stopped."""

    def __init__(
        self,
        puller: Puller,
        metrics: ShuttleMetrics,
        *,
        wait: int,
        interval: float,
        wake: threading.Event,
        stop: threading.Event,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._puller = puller
        self._metrics = metrics
        self._wait = wait
        self._interval = interval
        self._wake = wake
        self._stop = stop
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._pending: Pulled | None = None
        self._last = Pulled(PullOutcome.UNCHANGED)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._honoured: bool | None = None
        self._thread: threading.Thread | None = None
        self._last_seconds = 0.0
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda pulled: pulled.outcome is PullOutcome.UNREACHABLE),
            wait=tenacity.wait_random_exponential(multiplier=backoff_base, max=backoff_cap),
            stop=tenacity.stop_when_event_set(stop),
            sleep=self._sleep,  # a stop interrupts the backoff
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        self.answers = 0
        """Answers handled (successful or not), for tests and diagnostics."""
        self.answered = threading.Event()
        """Set once the first answer (or failure) is in: the loop's first reconcile waits for it."""

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    # the loop's side --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the channel's thread runs (the loop then takes pulls from it)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def urgent(self) -> bool:
        """True when what the channel holds calls for a reconcile now (no debounce)."""
        with self._lock:
            pending = self._pending
        return pending is not None and _brings_news(pending)

    def take(self) -> Pulled:
        """What was pulled since the last take (merged), or the last pull when nothing new came."""
        with self._lock:
            pending, self._pending = self._pending, None
            return pending if pending is not None else attrs.evolve(self._last, reconcile_requests=())

    # the thread --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the channel's thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="shuttle-pull", daemon=True)
            self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the thread to end (after a stop)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Pull until stopped: again at once after a held answer, after ``interval`` when Starbase
        does not long-poll, with backoff while it cannot be reached."""
        while not self._stop.is_set():
            # the first pull does not wait: the loop's first reconcile needs its answer now
            wait = self._wait if self.answered.is_set() else 0
            try:
                pulled = self._retrying(self._pull, wait)
            except Exception:  # a bug must not end the channel: the loop would never hear again
                if self._stop.is_set():
                    return
                _log.exception("the pull channel crashed; retrying", extra={"outcome": "crashed"})
                self._stop.wait(self._interval)
                continue
            if pulled is None or self._stop.is_set():
                return
            if wait:
                self._pause(pulled)

    def _pull(self, wait: int) -> Pulled:
        started = self._monotonic()
        pulled = self._puller.pull(wait=wait)
        if self._stop.is_set():
            return pulled
        self.answers += 1
        pulled = self._first_time(pulled)
        self._observe(pulled, self._monotonic() - started, asked=wait)
        with self._lock:
            self._last = pulled
            self._pending = pulled if self._pending is None else merge_pulls(self._pending, pulled)
        if _brings_news(pulled):
            self._wake.set()
        self.answered.set()
        return pulled

    def _first_time(self, pulled: Pulled) -> Pulled:
        """``pulled`` with only the reconcile requests not handed on before."""
        fresh = tuple(rid for rid in pulled.reconcile_requests if rid not in self._seen)
        for rid in fresh:
            self._seen[rid] = None
        while len(self._seen) > _SEEN_REQUESTS:
            self._seen.popitem(last=False)
        if fresh:
            self._metrics.reconcile_requests.labels(stage="received").inc(len(fresh))
            _log.info("starbase asks for a reconcile now", extra={"requests": list(fresh)})
        return attrs.evolve(pulled, reconcile_requests=fresh)

    def _observe(self, pulled: Pulled, seconds: float, *, asked: int) -> None:
        reason = {
            PullOutcome.NEW: "payload",
            PullOutcome.REJECTED: "rejected",
            PullOutcome.UNREACHABLE: "unreachable",
        }.get(pulled.outcome, "timeout")
        if reason == "timeout" and pulled.reconcile_requests:
            reason = "reconcile-request"
        self._metrics.pull_wakeups.labels(reason=reason).inc()
        if reason != "timeout" and reason != "unreachable":
            _log.info("woken by starbase", extra={"reason": reason, "seconds": round(seconds, 3)})
        if (
            asked
            and pulled.outcome is not PullOutcome.UNREACHABLE
            and pulled.long_polled is not self._honoured
        ):
            self._honoured = pulled.long_polled
            self._metrics.long_poll.set(1 if pulled.long_polled else 0)
            if pulled.long_polled:
                _log.info("starbase long-polls: changes arrive at once", extra={"wait": self._wait})
            elif self._wait:
                _log.warning(
                    "starbase does not honour the long-poll: polling instead",
                    extra={"interval": self._interval, "wait": self._wait},
                )
        self._last_seconds = seconds

    def _pause(self, pulled: Pulled) -> None:
        """How long to wait before the next pull (the stop cuts it short)."""
        if not pulled.long_polled:
            self._stop.wait(self._interval)
        elif not _brings_news(pulled) and self._last_seconds < _EARLY_ANSWER:
            self._stop.wait(_EARLY_ANSWER)  # held for nothing: do not spin on a server that answers at once


def _brings_news(pulled: Pulled) -> bool:
    return pulled.outcome in (PullOutcome.NEW, PullOutcome.REJECTED) or bool(pulled.reconcile_requests)

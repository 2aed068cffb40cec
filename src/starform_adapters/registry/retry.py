"""Retries of transient registry failures (tenacity): unavailable, or rate limited with a short hint.

Only :class:`~starform_core.errors.RegistryUnavailableError` and
:class:`~starform_core.errors.RegistryRateLimitedError` are retried. A rate limit waits what the
registry's ``Retry-After`` asks (when it asks more than ``max_retry_after`` the error is raised
at once: the caller should come back later); anything else backs off exponentially with jitter.
Everything else (not found, unauthorized, a bad answer) fails at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import attrs
import tenacity

from starform_core.errors import RegistryRateLimitedError, RegistryUnavailableError

__all__ = ["RetryPolicy"]

T = TypeVar("T")


def _is_transient(policy: RetryPolicy) -> Callable[[BaseException], bool]:
    def transient(error: BaseException) -> bool:
        if isinstance(error, RegistryRateLimitedError):
            return error.retry_after is None or error.retry_after <= policy.max_retry_after
        return isinstance(error, RegistryUnavailableError)

    return transient


@attrs.frozen
class RetryPolicy:
    """How often and how long to retry. ``sleep`` is injectable so tests wait for nothing."""

    attempts: int = 4
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    max_retry_after: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def _wait(self) -> Callable[[tenacity.RetryCallState], float]:
        backoff = tenacity.wait_random_exponential(multiplier=self.initial_backoff, max=self.max_backoff)

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            if isinstance(error, RegistryRateLimitedError) and error.retry_after is not None:
                return error.retry_after
            return float(backoff(state))

        return wait

    def call(self, fn: Callable[[], T], *, on_retry: Callable[[BaseException, float, int], None]) -> T:
        """Run ``fn``, retrying transient failures; ``on_retry(error, wait, attempt)`` before each wait."""

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            wait = state.upcoming_sleep
            if error is not None:
                on_retry(error, wait, state.attempt_number)

        retrying = tenacity.Retrying(
            sleep=self.sleep,
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait(),
            retry=tenacity.retry_if_exception(_is_transient(self)),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)

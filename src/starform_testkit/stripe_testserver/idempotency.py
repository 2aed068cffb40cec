"""Stripe's idempotency layer: a key replays its first result, for the same parameters only.

A request with an ``Idempotency-Key`` seen before (for the same API key) gets the stored status
and body back with ``Idempotent-Replayed: true``; other parameters under the same key are a
``400 idempotency_error``; a second request while the first is running is a ``409``. Results are
kept for 24 hours (Stripe's window); :meth:`IdempotencyStore.expire_all` ends them early.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from starform_testkit.stripe_testserver.errors import StripeApiError

__all__ = ["IdempotencyStore", "Saved"]

WINDOW_SECONDS = 24 * 3600


@attrs.frozen
class Saved:
    """A stored first result."""

    fingerprint: str
    status: int
    body: Any
    saved_at: float


class IdempotencyStore:
    """Results by ``(api key, idempotency key)``."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._saved: dict[tuple[str, str], Saved] = {}
        self._running: set[tuple[str, str]] = set()
        self._clock = clock
        self.replays = 0

    @staticmethod
    def fingerprint(method: str, path: str, params: Any) -> str:
        """What must be identical for a replay."""
        return hashlib.sha256(json.dumps([method, path, params], sort_keys=True).encode()).hexdigest()

    def begin(self, scope: tuple[str, str], fingerprint: str) -> Saved | None:
        """The saved result to replay, or ``None`` (then the caller runs and calls :meth:`finish`)."""
        with self._lock:
            saved = self._saved.get(scope)
            if saved is not None and self._clock() - saved.saved_at > WINDOW_SECONDS:
                del self._saved[scope]
                saved = None
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    raise StripeApiError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                    )
                self.replays += 1
                return saved
            if scope in self._running:
                raise StripeApiError(
                    409,
                    "idempotency_error",
                    "There is currently another in-progress request using this Idempotent Key.",
                )
            self._running.add(scope)
            return None

    def finish(self, scope: tuple[str, str], fingerprint: str, status: int, body: Any, *, save: bool) -> None:
        """Store the result (``save``: the request got as far as executing)."""
        with self._lock:
            self._running.discard(scope)
            if save:
                self._saved[scope] = Saved(fingerprint, status, body, self._clock())

    def expire_all(self) -> None:
        """Forget every stored result (as if 24 hours had passed)."""
        with self._lock:
            self._saved.clear()

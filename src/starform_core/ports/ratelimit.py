"""The rate-limit port: count hits per key within a moving window, shared by every process.

Implementations keep the counters in process (one Starbase) or in a shared backend such as
Redis (several Starbase processes behind one load balancer). A backend that fails raises
:class:`~starform_core.errors.RateLimitBackendError`; callers decide to fail open or closed.
"""

from __future__ import annotations

from typing import Protocol

import attrs

__all__ = ["RateDecision", "RateLimit", "RateLimiter"]


@attrs.frozen
class RateLimit:
    """At most ``amount`` hits in any window of ``per_seconds`` seconds."""

    amount: int = attrs.field(validator=attrs.validators.ge(1))
    per_seconds: int = attrs.field(validator=attrs.validators.ge(1))

    def __str__(self) -> str:
        return f"{self.amount} per {self.per_seconds} s"


@attrs.frozen
class RateDecision:
    """The outcome of one hit: allowed or not, what is left, and when to retry if refused."""

    allowed: bool
    remaining: int
    retry_after_seconds: float = 0.0


class RateLimiter(Protocol):
    """Moving-window counters by key."""

    def hit(self, key: str, limit: RateLimit) -> RateDecision:
        """Count one hit of ``key`` against ``limit`` (a refused hit is not counted)."""
        ...

    def reset(self, key: str, limit: RateLimit) -> None:
        """Forget the hits of ``key`` under ``limit``."""
        ...

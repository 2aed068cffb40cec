"""The rate-limit port on ``limits``' moving window: exact ("at most N in any window").

``memory://`` keeps counters in this process (one Starbase). ``redis://host:port[/db]`` keeps
them in Redis, where one atomic Lua script per hit makes the limit hold across every Starbase
process sharing that Redis. Backend failures raise ``RateLimitBackendError``.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.errors import ConfigurationError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from starform_core.errors import RateLimitBackendError, ValidationError
from starform_core.ports.ratelimit import RateDecision, RateLimit

__all__ = ["LimitsRateLimiter"]

_NAMESPACE = "starbase"


def _item(limit: RateLimit) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(limit.amount, limit.per_seconds, namespace=_NAMESPACE)


class LimitsRateLimiter:
    """Moving-window rate limits in the storage named by ``storage_uri``."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        if not storage_uri.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValidationError(
                "STARBASE_RATE_LIMIT_STORAGE", "must be memory:// or a redis:// (rediss://) URL"
            )
        try:
            storage = storage_from_string(storage_uri)
        except (ConfigurationError, ValueError) as exc:
            raise ValidationError("STARBASE_RATE_LIMIT_STORAGE", "is not a usable storage URL") from exc
        if not isinstance(storage, Storage):  # pragma: no cover - the sync factory returns sync storage
            raise ValidationError("STARBASE_RATE_LIMIT_STORAGE", "must name a synchronous storage")
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self.shared = not storage_uri.startswith("memory://")

    def hit(self, key: str, limit: RateLimit) -> RateDecision:
        """Count one hit of ``key``; a refused hit says when the window has room again."""
        item = _item(limit)
        try:
            if self._limiter.hit(item, key):
                stats = self._limiter.get_window_stats(item, key)
                return RateDecision(allowed=True, remaining=max(stats.remaining, 0))
            stats = self._limiter.get_window_stats(item, key)
        except Exception as exc:  # the backend's own errors (redis, connection) vary by version
            raise RateLimitBackendError(f"rate-limit backend failed: {type(exc).__name__}") from exc
        wait = max(stats.reset_time - time.time(), 0.0)
        return RateDecision(allowed=False, remaining=0, retry_after_seconds=math.ceil(wait * 1000) / 1000)

    def reset(self, key: str, limit: RateLimit) -> None:
        """Forget ``key``'s hits under ``limit``."""
        try:
            self._limiter.clear(_item(limit), key)
        except Exception as exc:
            raise RateLimitBackendError(f"rate-limit backend failed: {type(exc).__name__}") from exc

    def ping(self) -> bool:
        """Whether the backend answers."""
        try:
            return bool(self._storage.check())
        except Exception:
            return False

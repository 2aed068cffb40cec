"""Rate quotas (§39.2 #5): per user, per scoped token, per agent, deploys per service, webhooks.

Each quota is a moving window on the :class:`~starform_core.ports.ratelimit.RateLimiter` port
(``limits`` in process, or Redis shared by several Starbase processes). A refused request is a
``429`` with ``Retry-After`` (whole seconds) and never reaches the store. If the backend fails,
the request is let through (fail open) and a WARNING and a metric say so: a Redis outage must
not take the control plane down.
"""

from __future__ import annotations

import math

import attrs
import structlog

from starform_apps.starbase.http_errors import HttpError
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.quotas import DEFAULT_LIMITS, Quota
from starform_core.errors import RateLimitBackendError
from starform_core.ports.ratelimit import RateLimit, RateLimiter

__all__ = ["Quota", "RateLimits"]

_log = structlog.get_logger("starbase.ratelimit")

_WHO = {
    Quota.USER: "this user",
    Quota.TOKEN: "this token",
    Quota.AGENT: "this cluster's agent",
    Quota.DEPLOY: "deploys of this service",
    Quota.WEBHOOK: "this payment provider's webhooks",
}


@attrs.define
class RateLimits:
    """The quotas of one Starbase, on a limiter backend."""

    limiter: RateLimiter
    metrics: Metrics
    limits: dict[Quota, RateLimit] = attrs.field(factory=lambda: dict(DEFAULT_LIMITS))

    def charge(self, quota: Quota, key: str) -> None:
        """Count one request of ``key`` against ``quota``; ``429`` with ``Retry-After`` when spent."""
        limit = self.limits[quota]
        try:
            decision = self.limiter.hit(f"{quota.value}:{key}", limit)
        except RateLimitBackendError as exc:
            self.metrics.rate_limit_errors.inc()
            _log.warning("rate-limit backend failed; request let through", quota=quota.value, error=str(exc))
            return
        if decision.allowed:
            return
        self.metrics.rate_limited.labels(quota=quota.value).inc()
        retry = max(1, math.ceil(decision.retry_after_seconds))
        raise HttpError(
            429,
            f"rate limit of {limit} for {_WHO[quota]} reached; retry in {retry} s",
            headers={"Retry-After": str(retry), "RateLimit-Policy": f"{limit.amount};w={limit.per_seconds}"},
        )

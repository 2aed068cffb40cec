"""Rate limiting on the ``limits`` library: in process (``memory://``) or shared (``redis://``)."""

from starform_adapters.ratelimit.limits_backend import LimitsRateLimiter

__all__ = ["LimitsRateLimiter"]

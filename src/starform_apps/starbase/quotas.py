"""The rate quotas of §39.2 #5 and their settings (no web framework here: the CLI reads them)."""

from __future__ import annotations

import enum
import re

from starform_core.errors import ValidationError
from starform_core.ports.ratelimit import RateLimit

__all__ = ["DEFAULT_LIMITS", "Quota", "parse_rate"]

_RATE = re.compile(r"([1-9][0-9]{0,8})\s*/\s*(second|minute|hour|day)")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class Quota(enum.StrEnum):
    """Whose budget a request is charged to."""

    USER = "user"
    TOKEN = "token"
    AGENT = "agent"
    DEPLOY = "deploy"
    WEBHOOK = "webhook"


DEFAULT_LIMITS: dict[Quota, RateLimit] = {
    Quota.USER: RateLimit(100, 60),
    Quota.TOKEN: RateLimit(100, 60),
    Quota.AGENT: RateLimit(600, 60),
    Quota.DEPLOY: RateLimit(10, 60),
    Quota.WEBHOOK: RateLimit(1200, 60),
}
"""Seeds §39.2 #5: 100 requests a minute per user; CI tokens alike; agents and deploys apart.
Payment provider webhooks (signed, not token-authenticated) have their own budget per provider:
the provider redelivers what was refused."""


def parse_rate(setting: str, text: str) -> RateLimit:
    """``"100/minute"`` (per second, minute, hour or day) as a :class:`RateLimit`."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValidationError(setting, "must look like 100/minute (per second, minute, hour or day)")
    return RateLimit(int(match[1]), _UNIT_SECONDS[match[2]])

"""Billing configuration: the payment provider, the audit trail, the acceptance window."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

import attrs

from starform_core.errors import ValidationError

__all__ = ["BillingConfig"]


def _days(text: str) -> int:
    if not text:
        return 35
    if not text.isdigit() or not 1 <= int(text) <= 366:
        raise ValidationError("STARBASE_BILLING_ACCEPT_DAYS", "must be a whole number of days from 1 to 366")
    return int(text)


@attrs.frozen(repr=False)
class BillingConfig:
    """Where billing goes; secrets are never printed.

    Without ``stripe_api_key`` invoices are computed and kept as drafts (no payment provider);
    without ``clickhouse_url`` the audit trail is the PostgreSQL table.
    """

    stripe_api_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    clickhouse_url: str | None = None
    clickhouse_database: str = "starform"
    accept_days: int = 35

    @property
    def accept_window(self) -> dt.timedelta:
        """How old a snapshot's window may be and still be billed."""
        return dt.timedelta(days=self.accept_days)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BillingConfig:
        """Read ``STRIPE_API_KEY``, ``STRIPE_WEBHOOK_SECRET``, ``STRIPE_API_BASE``,
        ``CLICKHOUSE_URL``, ``CLICKHOUSE_DATABASE`` and ``STARBASE_BILLING_ACCEPT_DAYS``."""
        env = os.environ if env is None else env
        return cls(
            stripe_api_key=env.get("STRIPE_API_KEY") or None,
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            clickhouse_url=env.get("CLICKHOUSE_URL") or None,
            clickhouse_database=env.get("CLICKHOUSE_DATABASE") or "starform",
            accept_days=_days(env.get("STARBASE_BILLING_ACCEPT_DAYS", "").strip()),
        )

    def __repr__(self) -> str:
        return (
            f"BillingConfig(stripe_api_key={'<set>' if self.stripe_api_key else None}, "
            f"stripe_webhook_secret={'<set>' if self.stripe_webhook_secret else None}, "
            f"clickhouse_url={'<set>' if self.clickhouse_url else None}, accept_days={self.accept_days})"
        )

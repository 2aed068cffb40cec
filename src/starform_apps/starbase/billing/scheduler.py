"""What billing asks of the job queue: later payment attempts and per-workspace closes."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from starform_core.billing import BillingMonth

__all__ = ["JobScheduler"]


class JobScheduler(Protocol):
    """Defers billing jobs (procrastinate in Starbase; a recorder in tests)."""

    def close_workspace_month(self, workspace_id: str, month: BillingMonth) -> None:
        """Queue the close of one workspace's month (at most one queued per workspace and month)."""
        ...

    def collect_payment(self, invoice_id: str, attempt: int, *, at: dt.datetime) -> None:
        """Queue payment attempt ``attempt`` of an invoice for ``at``."""
        ...

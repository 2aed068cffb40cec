"""Billing's jobs on Starbase's queue (a procrastinate blueprint, registered in :mod:`..jobs`).

* ``billing:close_previous_month``, periodic (``0 6 1 * *``: 06:00 UTC on the 1st, six hours for
  agents' outboxes to drain): queues the close of every workspace with charges;
* ``billing:close_workspace_month(workspace_id, month)``: one workspace's close (idempotent);
* ``billing:collect_payment(invoice_id, attempt)``: a dunning retry, scheduled for its time;
* ``billing:purge_usage_state``, daily: forgets de-duplication state older than the window.

Jobs that fail with a retryable error (the database, the audit trail, a provider outage) are
retried with exponential backoff; a definitive refusal fails the job (logged).
"""

from __future__ import annotations

import datetime as dt

import procrastinate
from procrastinate import Blueprint, JobContext, RetryDecision
from procrastinate.jobs import Job

from starform_apps.starbase.billing.service import Billing
from starform_core.billing import BillingMonth
from starform_core.errors import PaymentProviderError, StoreError, UsageAuditError

__all__ = ["CLOSE_CRON", "PURGE_CRON", "TransientErrors", "make_blueprint"]

CLOSE_CRON = "0 6 1 * *"
"""When the monthly close runs (UTC)."""
PURGE_CRON = "17 3 * * *"
"""When de-duplication state past the acceptance window is purged (UTC)."""
PURGE_MARGIN = dt.timedelta(days=5)


class TransientErrors(procrastinate.BaseRetryStrategy):
    """Retry errors a later attempt can fix, with exponential backoff (2, 4, 8, ... s, at most 1 h)."""

    def __init__(self, *, max_attempts: int = 12) -> None:
        self.max_attempts = max_attempts

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        """A retry for transient errors only."""
        transient = isinstance(exception, StoreError | UsageAuditError) or (
            isinstance(exception, PaymentProviderError) and exception.retryable
        )
        if not transient or job.attempts >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": min(3600, 2 ** (job.attempts + 1))})


def _billing(context: JobContext) -> Billing:
    billing: Billing = context.additional_context["billing"]
    return billing


def make_blueprint() -> Blueprint:
    """A fresh blueprint of billing's tasks (an App namespaces the tasks it adds, in place, so
    every App gets its own)."""
    blueprint = Blueprint()

    @blueprint.periodic(cron=CLOSE_CRON)
    @blueprint.task(name="close_previous_month", pass_context=True, retry=TransientErrors())
    def close_previous_month(context: JobContext, timestamp: int) -> None:
        """Queue the close of the month before ``timestamp`` for every workspace with charges."""
        month = BillingMonth.of(dt.datetime.fromtimestamp(timestamp, dt.UTC)).previous()
        _billing(context).close.close_all(month)

    @blueprint.task(name="close_workspace_month", pass_context=True, retry=TransientErrors())
    def close_workspace_month(context: JobContext, workspace_id: str, month: str) -> None:
        """Close one workspace's month into its invoice."""
        _billing(context).close.close(workspace_id, BillingMonth.parse(month))

    @blueprint.task(name="collect_payment", pass_context=True, retry=TransientErrors())
    def collect_payment(context: JobContext, invoice_id: str, attempt: int) -> None:
        """A payment attempt of the dunning schedule."""
        _billing(context).collection.collect(invoice_id, attempt)

    @blueprint.periodic(cron=PURGE_CRON)
    @blueprint.task(name="purge_usage_state", pass_context=True, retry=TransientErrors(max_attempts=3))
    def purge_usage_state(context: JobContext, timestamp: int) -> None:
        """Forget de-duplication and coverage state no snapshot can touch any more."""
        billing = _billing(context)
        now = dt.datetime.fromtimestamp(timestamp, dt.UTC)
        billing.ledger.purge(before=now - billing.config.accept_window - PURGE_MARGIN)

    return blueprint

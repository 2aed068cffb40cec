"""The invoice lifecycle and the dunning schedule.

::

    draft ──finalize──▶ open ──pay──▶ paid
      │                  │  ╲
      │ (total 0)        │   payment fails ──▶ payment_failed ──retry──▶ paid
      └────────▶ paid    │                        │  ▲   │
                         │                        └──┘   └─ last retry fails ─▶ uncollectible
                         └──────────────void──────────────────────────────────▶ void

``paid`` and ``void`` are final; an ``uncollectible`` invoice may still be paid (a customer who
settles later). Refunds do not change the status: they are credit notes against the invoice.
Provider events can arrive late, twice or out of order: :func:`next_status` answers ``None``
for a transition that would go backwards, and the caller ignores the event.
"""

from __future__ import annotations

import datetime as dt
import enum
import math

import attrs

__all__ = ["DunningPolicy", "InvoiceStatus", "build_minutes", "next_status"]


class InvoiceStatus(enum.StrEnum):
    """Where an invoice is in its life."""

    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    UNCOLLECTIBLE = "uncollectible"
    VOID = "void"


_S = InvoiceStatus
_ALLOWED: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    _S.DRAFT: frozenset({_S.OPEN, _S.PAID, _S.VOID}),
    _S.OPEN: frozenset({_S.PAID, _S.PAYMENT_FAILED, _S.UNCOLLECTIBLE, _S.VOID}),
    _S.PAYMENT_FAILED: frozenset({_S.PAID, _S.PAYMENT_FAILED, _S.UNCOLLECTIBLE, _S.VOID}),
    _S.UNCOLLECTIBLE: frozenset({_S.PAID, _S.VOID}),
    _S.PAID: frozenset(),
    _S.VOID: frozenset(),
}


def next_status(current: InvoiceStatus, target: InvoiceStatus) -> InvoiceStatus | None:
    """``target`` if the lifecycle allows moving there from ``current``, else ``None``.

    ``payment_failed`` to ``payment_failed`` is allowed (another failed attempt); every other
    same-status move is ``None`` (nothing to do).
    """
    return target if target in _ALLOWED[current] else None


@attrs.frozen
class DunningPolicy:
    """When to retry a failed payment: ``retry_after[n]`` after the ``n+1``-th failure.

    After the last retry fails the invoice is marked uncollectible. The default retries 3, 5 and
    7 days after each failure (four attempts over 15 days).
    """

    retry_after: tuple[dt.timedelta, ...] = (dt.timedelta(days=3), dt.timedelta(days=5), dt.timedelta(days=7))

    @property
    def max_attempts(self) -> int:
        """Payment attempts in total, the first one included."""
        return len(self.retry_after) + 1

    def next_attempt(self, failed_attempts: int, failed_at: dt.datetime) -> dt.datetime | None:
        """When to try again after ``failed_attempts`` failures, or ``None``: give up."""
        if failed_attempts < 1 or failed_attempts > len(self.retry_after):
            return None
        return failed_at + self.retry_after[failed_attempts - 1]


def build_minutes(started_at: dt.datetime, finished_at: dt.datetime) -> int:
    """A build's billed minutes: its duration rounded up to the whole minute (0 if none)."""
    seconds = (finished_at - started_at).total_seconds()
    return max(0, math.ceil(seconds / 60))

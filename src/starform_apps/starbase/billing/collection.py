"""Collecting invoices: payment attempts, dunning, uncollectible, credit notes.

Every provider call has a deterministic idempotency key derived from our ids, so a retried job
repeats the call harmlessly: ``starform:pay:<invoice>:<attempt>``, ``starform:uncollectible:
<invoice>``, ``starform:credit-note:<credit note>``. A failed attempt schedules the next one
from the :class:`~starform_core.billing.DunningPolicy`; after the last, the invoice is marked
uncollectible at the provider. Whoever records a failure first (this job or the provider's
``invoice.payment_failed`` webhook) takes the dunning step; the other finds it done.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import structlog

from starform_apps.starbase.billing.metrics import BillingMetrics
from starform_apps.starbase.billing.scheduler import JobScheduler
from starform_core.billing import DunningPolicy, InvoiceStatus
from starform_core.errors import BillingError, PaymentDeclinedError, PaymentProviderError, ValidationError
from starform_core.ports.billing import (
    CreditNoteRecord,
    InvoiceRecord,
    InvoiceStore,
    PaymentProvider,
    ProviderInvoice,
)

__all__ = ["Collection"]

_log = structlog.get_logger("starbase.billing")
_SETTLED = frozenset(
    {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE, InvoiceStatus.DRAFT}
)
MAX_CREDIT_NOTE_MEMO = 500


class Collection:
    """Payment attempts, dunning and refunds of stored invoices."""

    def __init__(
        self,
        invoices: InvoiceStore,
        provider: PaymentProvider | None,
        scheduler: JobScheduler | None,
        metrics: BillingMetrics,
        *,
        clock: Callable[[], dt.datetime],
        dunning: DunningPolicy,
    ) -> None:
        self._invoices = invoices
        self._provider = provider
        self._scheduler = scheduler
        self._metrics = metrics
        self._clock = clock
        self.dunning = dunning

    def _require_provider(self) -> PaymentProvider:
        if self._provider is None:
            raise BillingError("no payment provider is configured (set STRIPE_API_KEY)")
        return self._provider

    def report_failure(self, action: str, exc: PaymentProviderError) -> None:
        """Count and log a failed provider call (a WARNING line and a metric)."""
        self._metrics.provider_errors.labels(action, str(exc.retryable).lower()).inc()
        _log.warning("payment provider call failed", action=action, retryable=exc.retryable, code=exc.code)

    def record(self, invoice_id: str, status: InvoiceStatus, *, cause: str, **fields: object) -> bool:
        """Apply a status (``True`` if it moved the invoice) and count it."""
        change = self._invoices.apply_status(invoice_id, status, cause=cause, **fields)  # type: ignore[arg-type]
        if change is not None:
            self._metrics.invoices.labels(status.value).inc()
            _log.info(
                "invoice status", invoice_id=invoice_id, status=status.value, previous=change.previous.value
            )
        return change is not None

    def collect(self, invoice_id: str, attempt: int) -> InvoiceRecord:
        """Payment attempt ``attempt`` (1 = the first) unless the invoice is settled or it ran already."""
        invoice = self._invoices.invoice(invoice_id)
        if (
            invoice.status in _SETTLED
            or invoice.attempt_count >= attempt
            or invoice.provider_invoice_id is None
        ):
            return invoice
        provider = self._require_provider()
        try:
            paid = provider.pay(
                invoice.provider_invoice_id, idempotency_key=f"starform:pay:{invoice_id}:{attempt}"
            )
        except PaymentDeclinedError as exc:
            self.report_failure("pay", exc)
            self.after_failure(invoice_id, attempt, cause=f"payment attempt {attempt} declined ({exc.code})")
            return self._invoices.invoice(invoice_id)
        except PaymentProviderError as exc:
            self.report_failure("pay", exc)
            paid = self._settled_meanwhile(provider, invoice.provider_invoice_id, exc)
        self.record(
            invoice_id,
            InvoiceStatus.PAID,
            cause=f"payment attempt {attempt}",
            attempt_count=paid.attempt_count,
        )
        return self._invoices.invoice(invoice_id)

    @staticmethod
    def _settled_meanwhile(
        provider: PaymentProvider, provider_invoice_id: str, exc: PaymentProviderError
    ) -> ProviderInvoice:
        """After a refused attempt: the provider's invoice if it is paid already (an earlier,
        crashed attempt succeeded); otherwise the error again."""
        if exc.retryable:
            raise exc
        current = provider.retrieve(provider_invoice_id)
        if current.status is not InvoiceStatus.PAID:
            raise exc
        return current

    def after_failure(self, invoice_id: str, attempts: int, *, cause: str) -> None:
        """Record the ``attempts``-th failure; schedule the next try or give up (once per failure)."""
        now = self._clock()
        retry_at = self.dunning.next_attempt(attempts, now)
        moved = self.record(
            invoice_id,
            InvoiceStatus.PAYMENT_FAILED,
            cause=cause,
            attempt_count=attempts,
            next_payment_attempt=retry_at,
        )
        if not moved:
            return
        if retry_at is not None:
            if self._scheduler is not None:
                self._scheduler.collect_payment(invoice_id, attempts + 1, at=retry_at)
            return
        self.give_up(invoice_id)

    def give_up(self, invoice_id: str) -> None:
        """Mark the invoice uncollectible at the provider and here."""
        invoice = self._invoices.invoice(invoice_id)
        if invoice.provider_invoice_id is None:
            return
        try:
            self._require_provider().mark_uncollectible(
                invoice.provider_invoice_id, idempotency_key=f"starform:uncollectible:{invoice_id}"
            )
        except PaymentProviderError as exc:
            self.report_failure("mark_uncollectible", exc)
            raise
        self.record(
            invoice_id,
            InvoiceStatus.UNCOLLECTIBLE,
            cause=f"dunning gave up after {invoice.attempt_count} attempts",
        )

    def credit_note(
        self, invoice_id: str, amount_minor: int, reason: str, *, memo: str = "", refund: bool = True
    ) -> CreditNoteRecord:
        """Refund (or credit) part of an invoice as a credit note at the provider, then store it."""
        invoice = self._invoices.invoice(invoice_id)
        credited = sum(n.amount_minor for n in invoice.credit_notes)
        if amount_minor <= 0 or amount_minor + credited > invoice.total_minor:
            raise ValidationError(
                "amount", "must be positive and at most the invoice's total less earlier credit notes"
            )
        if not 1 <= len(reason) <= 100 or len(memo) > MAX_CREDIT_NOTE_MEMO:
            raise ValidationError("reason", "1 to 100 characters (memo at most 500)")
        if invoice.provider_invoice_id is None or invoice.status not in (
            InvoiceStatus.OPEN,
            InvoiceStatus.PAID,
            InvoiceStatus.PAYMENT_FAILED,
        ):
            raise ValidationError("invoice", f"a {invoice.status.value} invoice cannot take a credit note")
        note = CreditNoteRecord(str(uuid.uuid4()), invoice_id, amount_minor, reason, memo, refund=refund)
        try:
            created = self._require_provider().create_credit_note(
                invoice.provider_invoice_id,
                note,
                idempotency_key=f"starform:credit-note:{note.credit_note_id}",
            )
        except PaymentProviderError as exc:
            self.report_failure("credit_note", exc)
            raise
        stored = self._invoices.record_credit_note(
            CreditNoteRecord(
                note.credit_note_id,
                invoice_id,
                amount_minor,
                reason,
                memo,
                refund=created.refund,
                provider_credit_note_id=created.provider_credit_note_id,
            )
        )
        _log.info(
            "credit note issued",
            invoice_id=invoice_id,
            credit_note_id=stored.credit_note_id,
            refund=created.refund,
        )
        return stored

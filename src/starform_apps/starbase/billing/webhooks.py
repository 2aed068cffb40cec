"""Provider webhooks: verified, de-duplicated, applied to the invoice lifecycle.

An event is processed, then recorded as delivered (so a crash in between makes the provider's
redelivery process it again, harmlessly: every transition is guarded by the lifecycle and by
attempt counts). Events for invoices Starbase does not know are acknowledged and logged.
"""

from __future__ import annotations

import structlog

from starform_apps.starbase.billing.collection import Collection
from starform_apps.starbase.billing.metrics import BillingMetrics
from starform_core.billing import InvoiceStatus
from starform_core.errors import BillingError, StoreError, ValidationError, WebhookVerificationError
from starform_core.ports.billing import (
    CreditNoteRecord,
    InvoiceRecord,
    InvoiceStore,
    PaymentProvider,
    ProviderEvent,
    ProviderInvoice,
)

__all__ = ["ProviderWebhooks"]

_log = structlog.get_logger("starbase.billing")
_STATUS_OF = {
    "invoice.finalized": InvoiceStatus.OPEN,
    "invoice.paid": InvoiceStatus.PAID,
    "invoice.marked_uncollectible": InvoiceStatus.UNCOLLECTIBLE,
    "invoice.voided": InvoiceStatus.VOID,
}


class ProviderWebhooks:
    """Turns the provider's events into invoice status changes and credit notes."""

    def __init__(
        self,
        invoices: InvoiceStore,
        provider: PaymentProvider | None,
        collection: Collection,
        metrics: BillingMetrics,
    ) -> None:
        self._invoices = invoices
        self._provider = provider
        self._collection = collection
        self._metrics = metrics

    def handle(self, payload: bytes, signature: str) -> str:
        """Verify and apply one delivery; returns ``processed``, ``duplicate`` or ``ignored``."""
        if self._provider is None:
            raise BillingError("no payment provider is configured (set STRIPE_API_KEY)")
        try:
            event = self._provider.parse_webhook(payload, signature)
        except WebhookVerificationError:
            self._metrics.webhooks.labels("invalid").inc()
            _log.warning("webhook refused: signature does not verify")
            raise
        if self._invoices.delivered(event.event_id):
            self._metrics.webhooks.labels("duplicate").inc()
            return "duplicate"
        outcome = self._apply(event)
        self._invoices.record_delivery(event.event_id, event.type)
        self._metrics.webhooks.labels(outcome).inc()
        return outcome

    def _invoice_of(self, remote: ProviderInvoice) -> InvoiceRecord | None:
        found = self._invoices.invoice_by_provider_id(remote.provider_invoice_id)
        if found is None and remote.invoice_id:
            try:
                found = self._invoices.invoice(remote.invoice_id)
            except (StoreError, ValidationError):
                return None
        return found

    def _apply(self, event: ProviderEvent) -> str:
        if event.invoice is not None:
            invoice = self._invoice_of(event.invoice)
            if invoice is None:
                _log.warning("webhook for an unknown invoice", event_type=event.type)
                return "ignored"
            return self._apply_invoice(event, invoice)
        if event.credit_note is not None and event.type == "credit_note.created":
            note = event.credit_note
            invoice = self._invoices.invoice_by_provider_id(note.provider_invoice_id)
            if invoice is None:
                return "ignored"
            self._invoices.record_credit_note(
                CreditNoteRecord(
                    note.credit_note_id or event.event_id,
                    invoice.invoice_id,
                    note.amount_minor,
                    note.reason or "credit",
                    note.memo,
                    refund=note.refund,
                    provider_credit_note_id=note.provider_credit_note_id,
                )
            )
            return "processed"
        return "ignored"

    def _apply_invoice(self, event: ProviderEvent, invoice: InvoiceRecord) -> str:
        remote = event.invoice
        assert remote is not None
        if invoice.provider_invoice_id is None:
            self._invoices.set_provider_invoice(invoice.invoice_id, remote.provider_invoice_id)
        cause = f"webhook {event.type}"
        if event.type == "invoice.payment_failed":
            attempts = max(1, remote.attempt_count)  # the provider counts attempts; never 0 here
            self._collection.after_failure(invoice.invoice_id, attempts, cause=cause)
            return "processed"
        status = _STATUS_OF.get(event.type)
        if status is None:
            return "ignored"
        self._collection.record(invoice.invoice_id, status, cause=cause, attempt_count=remote.attempt_count)
        return "processed"

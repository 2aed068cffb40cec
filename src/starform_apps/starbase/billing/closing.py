"""The monthly close: one invoice per workspace and month, at the provider exactly once.

Each step is idempotent and resumable, so the close job may crash anywhere and run again:

1. the invoice is computed and stored as a draft with the usage it bills, in one transaction
   (a second close returns the stored invoice);
2. the workspace's provider customer (key ``starform:customer:<workspace>``);
3. the provider invoice: looked up by our id in its metadata first, else created (key
   ``starform:invoice:<invoice>``), then linked; a crash between the provider's answer and our
   write is recovered by the lookup, within or after the provider's 24-hour key window;
4. its lines, each keyed ``starform:line:<invoice>:<n>`` and skipped when already present;
5. finalize (key ``starform:finalize:<invoice>``), then the first payment attempt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import structlog

from starform_apps.starbase.billing.collection import Collection
from starform_apps.starbase.billing.scheduler import JobScheduler
from starform_core.billing import BillingMonth, ComputedInvoice, InvoiceStatus, PriceBook, compute_invoice
from starform_core.errors import PaymentProviderError, ValidationError
from starform_core.ports.billing import (
    CloseInputs,
    InvoiceRecord,
    InvoiceStore,
    PaymentProvider,
    ProviderInvoice,
    UsageLedger,
)

__all__ = ["MonthlyClose", "estimate_invoice"]

_log = structlog.get_logger("starbase.billing")


def estimate_invoice(
    ledger: UsageLedger, workspace_id: str, month: BillingMonth, *, book: PriceBook
) -> ComputedInvoice:
    """What the month would invoice now (usage so far, the full month's fees and credit)."""
    statement = ledger.statement(workspace_id, month)
    return compute_invoice(
        workspace_id,
        month,
        book=book,
        plans=statement.plans,
        usage=statement.usage,
        builds=statement.builds,
    )


class MonthlyClose:
    """Closes workspaces' months into invoices and hands them to the provider."""

    def __init__(
        self,
        ledger: UsageLedger,
        invoices: InvoiceStore,
        provider: PaymentProvider | None,
        collection: Collection,
        *,
        book: PriceBook,
        scheduler: JobScheduler | None = None,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._ledger = ledger
        self._invoices = invoices
        self._provider = provider
        self._collection = collection
        self._book = book
        self._scheduler = scheduler
        self._clock = clock

    def compute(self, inputs: CloseInputs) -> ComputedInvoice:
        """The pure computation the store runs inside its transaction."""
        statement = inputs.statement
        return compute_invoice(
            inputs.account.workspace_id,
            inputs.month,
            book=self._book,
            plans=statement.plans,
            usage=statement.usage,
            builds=statement.builds,
        )

    def estimate(self, workspace_id: str, month: BillingMonth) -> ComputedInvoice:
        """What the month would invoice now (see :func:`estimate_invoice`)."""
        return estimate_invoice(self._ledger, workspace_id, month, book=self._book)

    def check_closable(self, month: BillingMonth) -> None:
        """A month closes only once it is over."""
        if month.end > self._clock():
            raise ValidationError("month", f"{month} is not over yet")

    def close_all(self, month: BillingMonth) -> Sequence[str]:
        """Queue (or, without a job queue, run) the close of every workspace with charges."""
        self.check_closable(month)
        workspaces = self._invoices.workspaces_with_charges(month)
        for workspace_id in workspaces:
            if self._scheduler is not None:
                self._scheduler.close_workspace_month(workspace_id, month)
            else:
                self.close(workspace_id, month)
        _log.info("monthly close", month=str(month), workspaces=len(workspaces))
        return workspaces

    def close(self, workspace_id: str, month: BillingMonth) -> InvoiceRecord | None:
        """Close one workspace's month (idempotent); ``None`` if there is nothing to invoice."""
        self.check_closable(month)
        invoice = self._invoices.close_month(workspace_id, month, self.compute)
        if invoice is None:
            return None
        if self._provider is None:
            _log.warning(
                "no payment provider configured: invoice kept as a draft", invoice_id=invoice.invoice_id
            )
            return invoice
        if invoice.status is InvoiceStatus.DRAFT:
            self._send(self._provider, invoice)
        invoice = self._invoices.invoice(invoice.invoice_id)
        if invoice.status is InvoiceStatus.OPEN:
            invoice = self._collection.collect(invoice.invoice_id, invoice.attempt_count + 1)
        return invoice

    def _send(self, provider: PaymentProvider, invoice: InvoiceRecord) -> None:
        ident = invoice.invoice_id
        try:
            account = self._invoices.account(invoice.workspace_id)
            customer = provider.ensure_customer(
                account, idempotency_key=f"starform:customer:{invoice.workspace_id}"
            )
            if account.provider_customer_id != customer:
                self._invoices.set_customer(invoice.workspace_id, customer)
            remote = self._provider_invoice(provider, customer, invoice)
            provider.add_lines(
                customer, remote.provider_invoice_id, invoice, key_prefix=f"starform:line:{ident}"
            )
            finalized = self._finalize(provider, customer, remote.provider_invoice_id, ident)
        except PaymentProviderError as exc:
            self._collection.report_failure("close", exc)
            raise
        if finalized.total_minor != invoice.total_minor:
            _log.error(
                "provider total differs",
                invoice_id=ident,
                ours=invoice.total_minor,
                theirs=finalized.total_minor,
            )
        status = InvoiceStatus.PAID if finalized.status is InvoiceStatus.PAID else InvoiceStatus.OPEN
        self._collection.record(ident, status, cause="finalized at the provider")

    def _provider_invoice(
        self, provider: PaymentProvider, customer: str, invoice: InvoiceRecord
    ) -> ProviderInvoice:
        """The provider's invoice for ours: found by our id (after a crash), else created; linked."""
        ident = invoice.invoice_id
        remote = provider.find_invoice(customer, ident)
        if remote is None:
            remote = provider.create_invoice(customer, invoice, idempotency_key=f"starform:invoice:{ident}")
        if invoice.provider_invoice_id != remote.provider_invoice_id:
            self._invoices.set_provider_invoice(ident, remote.provider_invoice_id)
        return remote

    @staticmethod
    def _finalize(
        provider: PaymentProvider, customer: str, provider_invoice_id: str, ident: str
    ) -> ProviderInvoice:
        try:
            return provider.finalize(provider_invoice_id, idempotency_key=f"starform:finalize:{ident}")
        except PaymentProviderError:
            found = provider.find_invoice(customer, ident)
            if found is None or found.status is InvoiceStatus.DRAFT:
                raise
            return found

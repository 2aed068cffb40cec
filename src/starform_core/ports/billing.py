"""Billing ports: Starbase's usage ledger and invoice store, the usage audit trail, the payment provider.

Each protocol is sized for one role:

* :class:`UsageLedger`: what ingestion and the usage views need (running totals, builds);
* :class:`InvoiceStore`: what the monthly close, collection and webhooks need;
* :class:`UsageAuditTrail`: the append-only record of every snapshot, exactly as received;
* :class:`PaymentProvider`: invoices, payments and credit notes at the provider.

Every provider call takes an **idempotency key**: the same key returns the same result however
often a crashed or retried job repeats the call, so a workspace gets one invoice per month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import attrs

from starform_core.billing.invoice import BuildCharge, ComputedInvoice, InvoiceLine, UnbilledUsage
from starform_core.billing.lifecycle import InvoiceStatus
from starform_core.billing.metering import UsageKey, UsageQuantities
from starform_core.billing.months import BillingMonth
from starform_core.billing.plans import PlanPeriod
from starform_core.billing.snapshots import UsageSnapshot
from starform_core.model.tenant import TenantKey

__all__ = [
    "AuditedSnapshot",
    "BillingAccount",
    "BuildUsage",
    "CloseInputs",
    "CreditNoteRecord",
    "IngestResult",
    "InvoiceRecord",
    "InvoiceStore",
    "PaymentProvider",
    "ProviderCreditNote",
    "ProviderEvent",
    "ProviderInvoice",
    "RejectedSample",
    "StatusChange",
    "UsageAuditTrail",
    "UsageLedger",
    "UsageStatement",
]


@attrs.frozen
class RejectedSample:
    """A sample ingestion refused to bill, and why (e.g. ``project_not_on_cluster``)."""

    index: int
    uid: str
    reason: str


@attrs.frozen
class IngestResult:
    """What one snapshot did: billed objects, refused samples, rows written, a repeat or not.

    ``received_at`` is when the snapshot was first received (the same for every retry).
    ``audited``: the ledger also recorded the snapshot in the audit trail, in the same
    transaction (a PostgreSQL audit trail in the ledger's database); the audit port is not called.
    """

    duplicate: bool
    billed: int
    rejected: tuple[RejectedSample, ...] = ()
    rows_written: int = 0
    received_at: dt.datetime | None = None
    audited: bool = False


@attrs.frozen
class BuildUsage:
    """One finished build of the deploy pipeline; ``build_id`` makes recording idempotent."""

    build_id: str
    tenant: TenantKey
    started_at: dt.datetime
    finished_at: dt.datetime


@attrs.frozen
class UsageStatement:
    """Everything an invoice of a workspace needs: plan periods, unbilled usage and builds."""

    plans: tuple[PlanPeriod, ...] = ()
    usage: tuple[UnbilledUsage, ...] = ()
    builds: tuple[BuildCharge, ...] = ()


class UsageLedger(Protocol):
    """Running usage totals in Starbase's database (ingestion and the usage views)."""

    def ingest(self, snapshot: UsageSnapshot, *, digest: bytes) -> IngestResult:
        """Apply a snapshot once (de-duplicated by id; same id, other ``digest``: a conflict).

        Each sample's object must belong to a project pinned to the snapshot's cluster; other
        samples are refused (listed in the result) and bill nothing.
        """
        ...

    def record_build(self, build: BuildUsage) -> bool:
        """Record a finished build's minutes; ``False`` if the build id was recorded already."""
        ...

    def statement(self, workspace_id: str, month: BillingMonth) -> UsageStatement:
        """The workspace's unbilled usage up to ``month`` and its plan periods touching it."""
        ...

    def usage_totals(self, workspace_id: str, month: BillingMonth) -> Mapping[UsageKey, UsageQuantities]:
        """Every running total of the workspace for a usage month (billed or not)."""
        ...

    def plan_periods(self, workspace_id: str) -> Sequence[PlanPeriod]:
        """Every plan period of the workspace's projects (deleted projects included)."""
        ...

    def purge(self, *, before: dt.datetime) -> int:
        """Forget de-duplication and coverage state older than ``before``; returns rows removed."""
        ...


@attrs.frozen
class BillingAccount:
    """A workspace as a paying customer: its name, contact e-mail and provider customer id."""

    workspace_id: str
    name: str
    email: str = ""
    provider_customer_id: str | None = None


@attrs.frozen
class CreditNoteRecord:
    """A credit note (a refund or a credit) against an invoice."""

    credit_note_id: str
    invoice_id: str
    amount_minor: int
    reason: str
    memo: str = ""
    refund: bool = False
    provider_credit_note_id: str | None = None
    created_at: dt.datetime | None = None


@attrs.frozen
class InvoiceRecord:
    """A stored invoice: the computed lines, its lifecycle status, the provider's ids."""

    invoice_id: str
    workspace_id: str
    month: BillingMonth
    status: InvoiceStatus
    currency: str
    price_sheet: str
    subtotal_minor: int
    credit_minor: int
    total_minor: int
    lines: tuple[InvoiceLine, ...]
    provider_invoice_id: str | None = None
    attempt_count: int = 0
    next_payment_attempt: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    credit_notes: tuple[CreditNoteRecord, ...] = ()


@attrs.frozen
class CloseInputs:
    """What the store hands the pure computation when it closes a month."""

    account: BillingAccount
    month: BillingMonth
    statement: UsageStatement


@attrs.frozen
class StatusChange:
    """An applied lifecycle transition (``None`` from :meth:`InvoiceStore.apply_status`: ignored)."""

    invoice: InvoiceRecord
    previous: InvoiceStatus


class InvoiceStore(Protocol):
    """Invoices, credit notes and provider events in Starbase's database."""

    def workspaces_with_charges(self, month: BillingMonth) -> Sequence[str]:
        """Workspaces with plan periods or unbilled usage up to ``month`` whose invoice of the month
        is missing or still a draft (a close to do, or to finish)."""
        ...

    def account(self, workspace_id: str) -> BillingAccount:
        """The workspace as a customer (``StoreNotFoundError`` if the workspace is unknown)."""
        ...

    def set_customer(self, workspace_id: str, customer_id: str) -> None:
        """Remember the provider's customer id of a workspace."""
        ...

    def close_month(
        self, workspace_id: str, month: BillingMonth, compute: Callable[[CloseInputs], ComputedInvoice]
    ) -> InvoiceRecord | None:
        """The month's invoice: the stored one, else ``compute(inputs)`` stored as a draft.

        One transaction (serialised per workspace): the invoice, its lines and the usage it bills
        (marked billed) are written together. ``None`` when there is nothing to invoice.
        """
        ...

    def invoice(self, invoice_id: str) -> InvoiceRecord:
        """One invoice with its lines and credit notes."""
        ...

    def invoice_for(self, workspace_id: str, month: BillingMonth) -> InvoiceRecord | None:
        """The workspace's invoice of a month, if there is one."""
        ...

    def invoice_by_provider_id(self, provider_invoice_id: str) -> InvoiceRecord | None:
        """The invoice the provider knows by this id."""
        ...

    def invoices(self, workspace_id: str) -> Sequence[InvoiceRecord]:
        """The workspace's invoices, newest month first."""
        ...

    def set_provider_invoice(self, invoice_id: str, provider_invoice_id: str) -> None:
        """Remember the provider's id of an invoice."""
        ...

    def apply_status(
        self,
        invoice_id: str,
        status: InvoiceStatus,
        *,
        cause: str,
        attempt_count: int | None = None,
        next_payment_attempt: dt.datetime | None = None,
    ) -> StatusChange | None:
        """Move an invoice along its lifecycle; ``None`` if the move is not allowed (stale event)."""
        ...

    def record_credit_note(self, note: CreditNoteRecord) -> CreditNoteRecord:
        """Store a credit note (idempotent by its provider id)."""
        ...

    def delivered(self, event_id: str) -> bool:
        """Whether a provider event was processed already (de-duplication)."""
        ...

    def record_delivery(self, event_id: str, event_type: str) -> bool:
        """Mark a provider event processed (after processing it); ``False`` if it was already."""
        ...


@attrs.frozen
class AuditedSnapshot:
    """A snapshot as the audit trail holds it, with when it arrived and what ingestion refused."""

    snapshot: UsageSnapshot
    received_at: dt.datetime
    rejected: Mapping[str, str] = attrs.field(factory=dict)


class UsageAuditTrail(Protocol):
    """The append-only record of every usage snapshot (one row per sample)."""

    def append(
        self, snapshot: UsageSnapshot, *, received_at: dt.datetime, rejected: Mapping[str, str]
    ) -> None:
        """Record a snapshot; appending the same snapshot again changes nothing."""
        ...

    def snapshots(
        self,
        *,
        start: dt.datetime,
        end: dt.datetime,
        cluster_id: str | None = None,
        workspace_id: str | None = None,
    ) -> Sequence[AuditedSnapshot]:
        """Snapshots whose window overlaps ``[start, end)``, oldest first; ``workspace_id`` keeps
        only that workspace's samples (and snapshots that have some)."""
        ...


@attrs.frozen
class ProviderInvoice:
    """The provider's view of an invoice."""

    provider_invoice_id: str
    status: InvoiceStatus
    total_minor: int
    currency: str
    attempt_count: int = 0
    invoice_id: str | None = None
    line_numbers: frozenset[int] = frozenset()
    next_payment_attempt: dt.datetime | None = None


@attrs.frozen
class ProviderCreditNote:
    """The provider's view of a credit note."""

    provider_credit_note_id: str
    provider_invoice_id: str
    amount_minor: int
    reason: str
    memo: str = ""
    refund: bool = False
    credit_note_id: str | None = None


@attrs.frozen
class ProviderEvent:
    """A verified provider webhook: its id (for de-duplication), type and object."""

    event_id: str
    type: str
    created: dt.datetime
    invoice: ProviderInvoice | None = None
    credit_note: ProviderCreditNote | None = None


class PaymentProvider(Protocol):
    """Invoices, payments and credit notes at the payment provider (Stripe)."""

    def ensure_customer(self, account: BillingAccount, *, idempotency_key: str) -> str:
        """The provider customer of a workspace (created on first use); returns its id."""
        ...

    def find_invoice(self, customer_id: str, invoice_id: str) -> ProviderInvoice | None:
        """The provider invoice made for our ``invoice_id``, if one exists (for crash recovery)."""
        ...

    def retrieve(self, provider_invoice_id: str) -> ProviderInvoice:
        """The provider's current view of an invoice."""
        ...

    def create_invoice(
        self, customer_id: str, invoice: InvoiceRecord, *, idempotency_key: str
    ) -> ProviderInvoice:
        """Create the draft invoice at the provider (no lines yet)."""
        ...

    def add_lines(
        self, customer_id: str, provider_invoice_id: str, invoice: InvoiceRecord, *, key_prefix: str
    ) -> ProviderInvoice:
        """Add every line of ``invoice`` the provider invoice does not have yet."""
        ...

    def finalize(self, provider_invoice_id: str, *, idempotency_key: str) -> ProviderInvoice:
        """Finalize a draft (it becomes payable; a zero total is paid at once)."""
        ...

    def pay(self, provider_invoice_id: str, *, idempotency_key: str) -> ProviderInvoice:
        """Attempt payment; :class:`~starform_core.errors.PaymentDeclinedError` when declined."""
        ...

    def mark_uncollectible(self, provider_invoice_id: str, *, idempotency_key: str) -> ProviderInvoice:
        """Give up collecting an invoice."""
        ...

    def create_credit_note(
        self, provider_invoice_id: str, note: CreditNoteRecord, *, idempotency_key: str
    ) -> ProviderCreditNote:
        """Issue a credit note; with ``note.refund`` the amount is refunded to the payment method."""
        ...

    def parse_webhook(self, payload: bytes, signature: str) -> ProviderEvent:
        """Verify a webhook's signature and parse it (``WebhookVerificationError`` otherwise)."""
        ...

"""Billing request and response bodies (pydantic), converted to core values at the edge.

The usage snapshot (``POST /v1/clusters/{id}/usage-snapshots``) is what Shuttle sends every
60 s through its outbox; ``snapshot_id`` is stable per snapshot so a re-sent one is a no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import attrs
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from starform_core.billing import MAX_SAMPLES, ComputedInvoice, InvoiceLine, PriceSheet
from starform_core.billing.money import format_minor
from starform_core.ports.billing import CreditNoteRecord, InvoiceRecord

__all__ = [
    "CreditNoteOut",
    "InvoiceLineOut",
    "InvoiceListOut",
    "InvoiceOut",
    "PodSampleIn",
    "PriceSheetOut",
    "RejectedSampleOut",
    "SnapshotAccepted",
    "UsageOut",
    "UsageSnapshotIn",
    "VolumeSampleIn",
    "WebhookAccepted",
    "WindowIn",
]

Quantity = Field(min_length=1, max_length=32, description="A Kubernetes quantity: 250m, 1, 512Mi, 10Gi")
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
Uuid = Annotated[str, Field(pattern=UUID_PATTERN, description="A UUID, lower-case and hyphenated")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowIn(_In):
    """The interval the snapshot accounts for, ``[start, end)``, at most 300 s."""

    start: AwareDatetime
    end: AwareDatetime


class _TenantIn(_In):
    uid: Uuid = Field(description="The object's Kubernetes metadata.uid")
    workspace_id: Uuid
    project_id: Uuid
    environment: str = Field(min_length=1, max_length=30)
    service_id: Uuid


class PodSampleIn(_TenantIn):
    """One pod: its tenant key (from its labels), phase and effective resource requests."""

    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"]
    cpu: str = Quantity
    memory: str = Quantity
    running_since: AwareDatetime | None = Field(
        default=None, description="When its containers started running"
    )
    running_until: AwareDatetime | None = Field(default=None, description="When it stopped (finished pods)")


class VolumeSampleIn(_TenantIn):
    """One persistent volume claim and its size (capacity once bound, else its request)."""

    phase: Literal["Pending", "Bound", "Lost", "Released"]
    storage: str = Quantity
    bound_since: AwareDatetime | None = Field(default=None, description="When it became bound")
    bound_until: AwareDatetime | None = Field(
        default=None, description="When it stopped being bound (deleted or lost)"
    )


class UsageSnapshotIn(_In):
    """A cluster's billable objects during one window."""

    snapshot_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
    window: WindowIn
    agent: str = Field(default="", max_length=200)
    pods: list[PodSampleIn] = Field(default_factory=list, max_length=MAX_SAMPLES)
    volumes: list[VolumeSampleIn] = Field(default_factory=list, max_length=MAX_SAMPLES)


class RejectedSampleOut(BaseModel):
    """A sample that was not billed: ``list`` and ``index`` locate it in the request."""

    list: Literal["pods", "volumes"]
    index: int
    uid: str
    reason: str


class SnapshotAccepted(BaseModel):
    """The outcome of a snapshot (``duplicate``: it was received before; nothing changed)."""

    snapshot_id: str
    duplicate: bool
    samples: int
    billed: int
    rejected: list[RejectedSampleOut]


def _money(amount: int, currency: str) -> str:
    return format_minor(amount, currency)


def _totals(subtotal: int, credit: int, total: int, currency: str) -> dict[str, Any]:
    return {
        "subtotal": _money(subtotal, currency),
        "credit": _money(credit, currency),
        "total": _money(total, currency),
        "total_minor": total,
    }


class InvoiceLineOut(BaseModel):
    """One line; amounts in major units (``"12.34"``) and in minor units."""

    kind: str
    project_id: str
    description: str
    amount: str
    amount_minor: int
    tier: str
    usage_month: str
    resource: str | None = None
    environment: str | None = None
    service_id: str | None = None
    quantity: str | None = None
    unit: str | None = None
    unit_price: str | None = None

    @classmethod
    def of(cls, line: InvoiceLine, currency: str) -> InvoiceLineOut:
        """The view of a line."""
        return cls(
            kind=line.kind.value,
            project_id=line.project_id,
            description=line.description,
            amount=_money(line.amount_minor, currency),
            amount_minor=line.amount_minor,
            tier=line.tier.value,
            usage_month=str(line.usage_month),
            resource=None if line.resource is None else line.resource.value,
            environment=line.environment,
            service_id=line.service_id,
            quantity=None if line.quantity is None else str(line.quantity),
            unit=line.unit,
            unit_price=None if line.unit_price is None else str(line.unit_price),
        )


class CreditNoteOut(BaseModel):
    """A refund or credit against an invoice."""

    id: str
    amount: str
    amount_minor: int
    reason: str
    memo: str
    refund: bool
    created_at: datetime | None

    @classmethod
    def of(cls, note: CreditNoteRecord, currency: str) -> CreditNoteOut:
        """The view of a credit note."""
        return cls(
            id=note.credit_note_id,
            amount=_money(note.amount_minor, currency),
            amount_minor=note.amount_minor,
            reason=note.reason,
            memo=note.memo,
            refund=note.refund,
            created_at=note.created_at,
        )


class InvoiceOut(BaseModel):
    """A workspace's invoice of one month, its lifecycle status and its lines."""

    id: str
    workspace_id: str
    month: str
    status: str
    currency: str
    price_sheet: str
    subtotal: str
    credit: str
    total: str
    total_minor: int
    attempt_count: int
    next_payment_attempt: datetime | None
    provider_invoice_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    lines: list[InvoiceLineOut]
    credit_notes: list[CreditNoteOut]

    @classmethod
    def of(cls, invoice: InvoiceRecord, *, lines: bool = True) -> InvoiceOut:
        """The view of an invoice (``lines=False``: without lines, for lists)."""
        c = invoice.currency
        return cls(
            id=invoice.invoice_id,
            workspace_id=invoice.workspace_id,
            month=str(invoice.month),
            status=invoice.status.value,
            currency=c,
            price_sheet=invoice.price_sheet,
            **_totals(invoice.subtotal_minor, invoice.credit_minor, invoice.total_minor, c),
            attempt_count=invoice.attempt_count,
            next_payment_attempt=invoice.next_payment_attempt,
            provider_invoice_id=invoice.provider_invoice_id,
            created_at=invoice.created_at,
            updated_at=invoice.updated_at,
            lines=[InvoiceLineOut.of(x, c) for x in invoice.lines] if lines else [],
            credit_notes=[CreditNoteOut.of(n, c) for n in invoice.credit_notes],
        )


class InvoiceListOut(BaseModel):
    """A workspace's invoices, newest month first (lines left out: fetch one invoice for them)."""

    invoices: list[InvoiceOut]


class UsageOut(BaseModel):
    """Usage of a month so far, priced as its invoice would be now (an estimate until closed)."""

    workspace_id: str
    month: str
    as_of: datetime
    currency: str
    price_sheet: str
    subtotal: str
    credit: str
    total: str
    total_minor: int
    lines: list[InvoiceLineOut]

    @classmethod
    def of(cls, computed: ComputedInvoice, as_of: datetime) -> UsageOut:
        """The view of an estimate."""
        c = computed.currency
        return cls(
            workspace_id=computed.workspace_id,
            month=str(computed.month),
            as_of=as_of,
            currency=c,
            price_sheet=computed.price_sheet,
            **_totals(computed.subtotal_minor, computed.credit_minor, computed.total_minor, c),
            lines=[InvoiceLineOut.of(x, c) for x in computed.lines],
        )


class PriceSheetOut(BaseModel):
    """A price sheet: its version, first month, currency and each tier's prices (decimal strings)."""

    version: str
    effective_from: str
    currency: str
    tiers: dict[str, dict[str, str]]

    @classmethod
    def of(cls, sheet: PriceSheet) -> PriceSheetOut:
        """The view of a sheet."""
        tiers = {
            tier.value: {name: str(value) for name, value in attrs.asdict(prices).items()}
            for tier, prices in sheet.tiers.items()
        }
        return cls(
            version=sheet.version,
            effective_from=str(sheet.effective_from),
            currency=sheet.currency,
            tiers=tiers,
        )


class WebhookAccepted(BaseModel):
    """A provider event, received."""

    received: bool = True
    outcome: str

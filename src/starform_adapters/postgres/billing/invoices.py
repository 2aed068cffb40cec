"""The invoice store on PostgreSQL: the monthly close, lifecycle, credit notes, provider events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from starform_adapters.postgres.billing.ledger import load_statement
from starform_adapters.postgres.billing.repository import BillingRepository, Cursor
from starform_core.billing import (
    BillingMonth,
    ComputedInvoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    next_status,
)
from starform_core.billing.rating import Resource
from starform_core.errors import StoreNotFoundError
from starform_core.ports.billing import (
    BillingAccount,
    CloseInputs,
    CreditNoteRecord,
    InvoiceRecord,
    StatusChange,
    UsageStatement,
)

__all__ = ["PostgresInvoiceStore"]

_WITH_CHARGES = (
    "SELECT DISTINCT w.workspace_id FROM ("
    " SELECT workspace_id FROM billing_plan_periods WHERE during && tstzrange(%s, %s)"
    " UNION SELECT workspace_id FROM billing_usage WHERE month <= %s AND (pod_us > billed_pod_us"
    " OR cpu_milli_us > billed_cpu_milli_us OR memory_byte_us > billed_memory_byte_us"
    " OR volume_us > billed_volume_us OR storage_byte_us > billed_storage_byte_us)"
    " UNION SELECT workspace_id FROM billing_builds WHERE invoice_id IS NULL AND month <= %s"
    ") w WHERE NOT EXISTS (SELECT 1 FROM billing_invoices i"
    " WHERE i.workspace_id = w.workspace_id AND i.month = %s AND i.status <> 'draft') ORDER BY 1"
)
_MARK_BILLED = (
    "UPDATE billing_usage SET billed_pod_us = billed_pod_us + %s,"
    " billed_cpu_milli_us = billed_cpu_milli_us + %s, billed_memory_byte_us = billed_memory_byte_us + %s,"
    " billed_volume_us = billed_volume_us + %s, billed_storage_byte_us = billed_storage_byte_us + %s"
    " WHERE workspace_id = %s AND month = %s AND project_id = %s AND environment = %s AND service_id = %s"
    " AND tier = %s"
)
_SELECT_INVOICE = (
    "SELECT id, workspace_id, month, status, currency, price_sheet, subtotal_minor, credit_minor,"
    " total_minor, provider_invoice_id, attempt_count, next_payment_attempt, created_at, updated_at"
    " FROM billing_invoices WHERE id = %s"
)
_FIND_INVOICE = {
    "month": "SELECT id FROM billing_invoices WHERE workspace_id = %s AND month = %s",
    "provider": "SELECT id FROM billing_invoices WHERE provider_invoice_id = %s",
}
_INSERT_LINE = (
    "INSERT INTO billing_invoice_lines (invoice_id, line_no, kind, project_id, description,"
    " amount_minor, tier, usage_month, resource, environment, service_id, quantity, unit, unit_price)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _month(value: dt.date) -> BillingMonth:
    return BillingMonth(value.year, value.month)


def _line(record: Sequence[Any]) -> InvoiceLine:
    return InvoiceLine(
        LineKind(record[0]),
        record[1],
        record[2],
        record[3],
        record[4],
        _month(record[5]),
        resource=None if record[6] is None else Resource(record[6]),
        environment=record[7],
        service_id=record[8],
        quantity=record[9],
        unit=record[10],
        unit_price=record[11],
    )


def _credit_note(record: Sequence[Any]) -> CreditNoteRecord:
    return CreditNoteRecord(
        credit_note_id=record[0],
        invoice_id=record[1],
        amount_minor=record[2],
        reason=record[3],
        memo=record[4],
        refund=record[5],
        provider_credit_note_id=record[6],
        created_at=record[7],
    )


class PostgresInvoiceStore(BillingRepository):
    """Invoices per workspace and month, with lines, lifecycle history and credit notes."""

    def workspaces_with_charges(self, month: BillingMonth) -> Sequence[str]:
        """Workspaces with plan periods in ``month`` or unbilled usage up to it whose invoice of the
        month does not exist yet or is still a draft (a close that did not finish)."""
        with self._one() as cur:
            records = cur.execute(
                _WITH_CHARGES, (month.start, month.end, month.first_day, month.first_day, month.first_day)
            ).fetchall()
        return [r[0] for r in records]

    @staticmethod
    def _account(cur: Cursor, workspace_id: str) -> BillingAccount:
        record = cur.execute(
            "SELECT w.name, a.provider_customer_id, (SELECT u.email FROM workspace_members m"
            " JOIN users u ON u.id = m.user_id WHERE m.workspace_id = w.id AND m.role IN ('owner', 'billing')"
            " ORDER BY m.role = 'billing' DESC, u.email LIMIT 1)"
            " FROM workspaces w LEFT JOIN billing_accounts a ON a.workspace_id = w.id WHERE w.id = %s",
            (workspace_id,),
        ).fetchone()
        if record is None:
            raise StoreNotFoundError(f"workspace {workspace_id} not found")
        return BillingAccount(workspace_id, record[0], record[2] or "", record[1])

    def account(self, workspace_id: str) -> BillingAccount:
        """The workspace as a customer: its name, billing contact, provider customer id."""
        with self._one() as cur:
            return self._account(cur, workspace_id)

    def set_customer(self, workspace_id: str, customer_id: str) -> None:
        """Remember the provider customer of a workspace."""
        with self._one() as cur:
            cur.execute(
                "INSERT INTO billing_accounts (workspace_id, provider_customer_id) VALUES (%s, %s)"
                " ON CONFLICT (workspace_id) DO UPDATE"
                " SET provider_customer_id = EXCLUDED.provider_customer_id",
                (workspace_id, customer_id),
            )

    def close_month(
        self, workspace_id: str, month: BillingMonth, compute: Callable[[CloseInputs], ComputedInvoice]
    ) -> InvoiceRecord | None:
        """The stored invoice of the month, else a new draft computed and stored atomically."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO billing_accounts (workspace_id) VALUES (%s) ON CONFLICT DO NOTHING",
                (workspace_id,),
            )
            cur.execute("SELECT 1 FROM billing_accounts WHERE workspace_id = %s FOR UPDATE", (workspace_id,))
            existing = cur.execute(
                "SELECT id FROM billing_invoices WHERE workspace_id = %s AND month = %s",
                (workspace_id, month.first_day),
            ).fetchone()
            if existing is not None:
                return self._load(cur, existing[0])
            statement, build_ids = load_statement(cur, workspace_id, month)
            computed = compute(CloseInputs(self._account(cur, workspace_id), month, statement))
            if not computed.lines:
                return None
            invoice_id = str(uuid.uuid4())
            self._insert(cur, invoice_id, computed)
            self._mark_billed(cur, invoice_id, statement, build_ids)
            return self._load(cur, invoice_id)

    @staticmethod
    def _insert(cur: Cursor, invoice_id: str, computed: ComputedInvoice) -> None:
        cur.execute(
            "INSERT INTO billing_invoices (id, workspace_id, month, status, currency, price_sheet,"
            " subtotal_minor, credit_minor, total_minor) VALUES (%s, %s, %s, 'draft', %s, %s, %s, %s, %s)",
            (
                invoice_id,
                computed.workspace_id,
                computed.month.first_day,
                computed.currency,
                computed.price_sheet,
                computed.subtotal_minor,
                computed.credit_minor,
                computed.total_minor,
            ),
        )
        cur.executemany(
            _INSERT_LINE,
            [
                (
                    invoice_id,
                    number,
                    line.kind.value,
                    line.project_id,
                    line.description[:500],
                    line.amount_minor,
                    line.tier.value,
                    line.usage_month.first_day,
                    None if line.resource is None else line.resource.value,
                    line.environment,
                    line.service_id,
                    line.quantity,
                    line.unit,
                    line.unit_price,
                )
                for number, line in enumerate(computed.lines, start=1)
            ],
        )
        cur.execute(
            "INSERT INTO billing_invoice_events (invoice_id, from_status, to_status, cause)"
            " VALUES (%s, NULL, 'draft', 'monthly close')",
            (invoice_id,),
        )

    @staticmethod
    def _mark_billed(cur: Cursor, invoice_id: str, statement: UsageStatement, build_ids: list[str]) -> None:
        cur.executemany(
            _MARK_BILLED,
            [
                (
                    *attrs.astuple(u.quantities),
                    u.key.tenant.workspace_id,
                    u.key.month.first_day,
                    u.key.tenant.project_id,
                    u.key.tenant.environment,
                    u.key.tenant.service_id,
                    u.key.tier.value,
                )
                for u in statement.usage
            ],
        )
        if build_ids:
            cur.execute(
                "UPDATE billing_builds SET invoice_id = %s WHERE build_id = ANY(%s) AND invoice_id IS NULL",
                (invoice_id, build_ids),
            )

    @staticmethod
    def _load(cur: Cursor, invoice_id: str) -> InvoiceRecord:
        record = cur.execute(_SELECT_INVOICE, (invoice_id,)).fetchone()
        if record is None:
            raise StoreNotFoundError(f"invoice {invoice_id} not found")
        lines = cur.execute(
            "SELECT kind, project_id, description, amount_minor, tier, usage_month, resource, environment,"
            " service_id, quantity, unit, unit_price FROM billing_invoice_lines WHERE invoice_id = %s"
            " ORDER BY line_no",
            (invoice_id,),
        ).fetchall()
        notes = cur.execute(
            "SELECT id, invoice_id, amount_minor, reason, memo, refund, provider_credit_note_id, created_at"
            " FROM billing_credit_notes WHERE invoice_id = %s ORDER BY created_at, id",
            (invoice_id,),
        ).fetchall()
        return InvoiceRecord(
            invoice_id=record[0],
            workspace_id=record[1],
            month=_month(record[2]),
            status=InvoiceStatus(record[3]),
            currency=record[4],
            price_sheet=record[5],
            subtotal_minor=record[6],
            credit_minor=record[7],
            total_minor=record[8],
            lines=tuple(_line(r) for r in lines),
            provider_invoice_id=record[9],
            attempt_count=record[10],
            next_payment_attempt=record[11],
            created_at=record[12],
            updated_at=record[13],
            credit_notes=tuple(_credit_note(r) for r in notes),
        )

    def invoice(self, invoice_id: str) -> InvoiceRecord:
        """One invoice with its lines and credit notes."""
        with self._tx() as cur:
            return self._load(cur, invoice_id)

    def _find(self, by: str, params: tuple[Any, ...]) -> InvoiceRecord | None:
        with self._tx() as cur:
            record = cur.execute(_FIND_INVOICE[by], params).fetchone()
            return None if record is None else self._load(cur, record[0])

    def invoice_for(self, workspace_id: str, month: BillingMonth) -> InvoiceRecord | None:
        """The workspace's invoice of ``month``."""
        return self._find("month", (workspace_id, month.first_day))

    def invoice_by_provider_id(self, provider_invoice_id: str) -> InvoiceRecord | None:
        """The invoice the provider knows by ``provider_invoice_id``."""
        return self._find("provider", (provider_invoice_id,))

    def invoices(self, workspace_id: str) -> Sequence[InvoiceRecord]:
        """The workspace's invoices, newest month first."""
        with self._tx() as cur:
            ids = cur.execute(
                "SELECT id FROM billing_invoices WHERE workspace_id = %s ORDER BY month DESC", (workspace_id,)
            ).fetchall()
            return [self._load(cur, r[0]) for r in ids]

    def set_provider_invoice(self, invoice_id: str, provider_invoice_id: str) -> None:
        """Remember the provider's invoice id (once; a different id later is a bug, refused)."""
        with self._one() as cur:
            cur.execute(
                "UPDATE billing_invoices SET provider_invoice_id = %s, updated_at = now()"
                " WHERE id = %s AND (provider_invoice_id IS NULL OR provider_invoice_id = %s)",
                (provider_invoice_id, invoice_id, provider_invoice_id),
            )
            if cur.rowcount != 1:
                raise StoreNotFoundError(
                    f"invoice {invoice_id} not found or linked to another provider invoice"
                )

    def apply_status(
        self,
        invoice_id: str,
        status: InvoiceStatus,
        *,
        cause: str,
        attempt_count: int | None = None,
        next_payment_attempt: dt.datetime | None = None,
    ) -> StatusChange | None:
        """Move along the lifecycle; ``None`` for a move it forbids or a repeated failed attempt."""
        with self._tx() as cur:
            record = cur.execute(
                "SELECT status, attempt_count FROM billing_invoices WHERE id = %s FOR UPDATE", (invoice_id,)
            ).fetchone()
            if record is None:
                raise StoreNotFoundError(f"invoice {invoice_id} not found")
            previous, attempts = InvoiceStatus(record[0]), record[1]
            target = next_status(previous, status)
            repeated = (
                target is InvoiceStatus.PAYMENT_FAILED
                and previous is InvoiceStatus.PAYMENT_FAILED
                and (attempt_count is None or attempt_count <= attempts)
            )
            if target is None or repeated:
                return None
            cur.execute(
                "UPDATE billing_invoices SET status = %s, attempt_count = greatest(attempt_count, %s),"
                " next_payment_attempt = %s, updated_at = now() WHERE id = %s",
                (target.value, attempt_count or 0, next_payment_attempt, invoice_id),
            )
            cur.execute(
                "INSERT INTO billing_invoice_events (invoice_id, from_status, to_status, cause)"
                " VALUES (%s, %s, %s, %s)",
                (invoice_id, previous.value, target.value, cause[:300]),
            )
            return StatusChange(self._load(cur, invoice_id), previous)

    def record_credit_note(self, note: CreditNoteRecord) -> CreditNoteRecord:
        """Store a credit note; one already stored under the provider id is returned as is."""
        with self._tx() as cur:
            if note.provider_credit_note_id is not None:
                known = cur.execute(
                    "SELECT id, invoice_id, amount_minor, reason, memo, refund, provider_credit_note_id,"
                    " created_at FROM billing_credit_notes WHERE provider_credit_note_id = %s OR id = %s",
                    (note.provider_credit_note_id, note.credit_note_id),
                ).fetchone()
                if known is not None:
                    if known[6] is None:
                        cur.execute(
                            "UPDATE billing_credit_notes SET provider_credit_note_id = %s WHERE id = %s",
                            (note.provider_credit_note_id, known[0]),
                        )
                    return _credit_note((*known[:6], note.provider_credit_note_id, known[7]))
            record = cur.execute(
                "INSERT INTO billing_credit_notes (id, invoice_id, amount_minor, reason, memo, refund,"
                " provider_credit_note_id) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " RETURNING id, invoice_id, amount_minor, reason, memo, refund, provider_credit_note_id,"
                " created_at",
                (
                    note.credit_note_id,
                    note.invoice_id,
                    note.amount_minor,
                    note.reason,
                    note.memo,
                    note.refund,
                    note.provider_credit_note_id,
                ),
            ).fetchone()
            assert record is not None
            return _credit_note(record)

    def delivered(self, event_id: str) -> bool:
        """Whether the provider event was processed already."""
        with self._one() as cur:
            found = cur.execute("SELECT 1 FROM billing_webhook_events WHERE event_id = %s", (event_id,))
            return found.fetchone() is not None

    def record_delivery(self, event_id: str, event_type: str) -> bool:
        """Mark the event processed; ``True`` the first time."""
        with self._one() as cur:
            cur.execute(
                "INSERT INTO billing_webhook_events (event_id, type) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (event_id, event_type[:100]),
            )
            return cur.rowcount == 1

    def invoice_history(self, invoice_id: str) -> list[tuple[str | None, str, str]]:
        """``(from, to, cause)`` of every lifecycle move of an invoice, oldest first."""
        with self._one() as cur:
            return [
                (r[0], r[1], r[2])
                for r in cur.execute(
                    "SELECT from_status, to_status, cause FROM billing_invoice_events WHERE invoice_id = %s"
                    " ORDER BY seq",
                    (invoice_id,),
                )
            ]

"""Billing on PostgreSQL: the usage ledger, the invoice store and the embedded audit trail."""

from starform_adapters.postgres.billing.audit import PostgresUsageAuditTrail
from starform_adapters.postgres.billing.invoices import PostgresInvoiceStore
from starform_adapters.postgres.billing.ledger import PostgresUsageLedger

__all__ = ["PostgresBillingStore", "PostgresInvoiceStore", "PostgresUsageAuditTrail", "PostgresUsageLedger"]


class PostgresBillingStore(PostgresUsageLedger, PostgresInvoiceStore):
    """Both billing roles on one pool (the usage ledger and the invoice store)."""

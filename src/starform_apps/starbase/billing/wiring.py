"""Billing on Starbase's pool: PostgreSQL totals and invoices, the configured audit trail
(PostgreSQL or ClickHouse) and payment provider (Stripe, or none)."""

from __future__ import annotations

import clickhouse_connect
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from starform_adapters.clickhouse import ClickHouseUsageAuditTrail
from starform_adapters.postgres.billing import PostgresBillingStore, PostgresUsageAuditTrail
from starform_adapters.stripe import StripePaymentProvider
from starform_apps.starbase.billing.config import BillingConfig
from starform_apps.starbase.billing.scheduler import JobScheduler
from starform_apps.starbase.billing.service import Billing, BillingRuntime, Clock, assemble_billing, utc_now
from starform_core.errors import BillingError, UsageAuditError
from starform_core.ports.billing import PaymentProvider, UsageAuditTrail

__all__ = ["open_billing"]


def _audit_trail(pool: ConnectionPool, config: BillingConfig) -> UsageAuditTrail:
    if not config.clickhouse_url:
        return PostgresUsageAuditTrail(pool)
    try:
        client = clickhouse_connect.get_client(dsn=config.clickhouse_url)
    except Exception as exc:
        raise UsageAuditError("could not connect to ClickHouse (check CLICKHOUSE_URL)") from exc
    trail = ClickHouseUsageAuditTrail(client, database=config.clickhouse_database)
    trail.ensure_schema()
    return trail


def _provider(config: BillingConfig) -> PaymentProvider | None:
    if not config.stripe_api_key:
        return None
    if not config.stripe_webhook_secret:
        raise BillingError("STRIPE_WEBHOOK_SECRET is required with STRIPE_API_KEY")
    return StripePaymentProvider.connect(
        config.stripe_api_key, webhook_secret=config.stripe_webhook_secret, api_base=config.stripe_api_base
    )


def open_billing(
    pool: ConnectionPool,
    config: BillingConfig,
    *,
    registry: CollectorRegistry | None = None,
    runtime: BillingRuntime | None = None,
    scheduler: JobScheduler | None = None,
    clock: Clock = utc_now,
) -> Billing:
    """Billing on Starbase's pool (pass ``runtime`` to share the HTTP app's, else ``registry``)."""
    audit = _audit_trail(pool, config)
    store = PostgresBillingStore(pool, with_audit_trail=isinstance(audit, PostgresUsageAuditTrail))
    return assemble_billing(
        config=config,
        ledger=store,
        invoices=store,
        audit=audit,
        provider=_provider(config),
        registry=registry,
        runtime=runtime,
        scheduler=scheduler,
        clock=clock,
    )

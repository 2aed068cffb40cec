"""Billing's composition: the ports on Starbase's pool, the use cases that drive them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import attrs
import clickhouse_connect
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from starform_adapters.clickhouse import ClickHouseUsageAuditTrail
from starform_adapters.postgres.billing import PostgresBillingStore, PostgresUsageAuditTrail
from starform_adapters.stripe import StripePaymentProvider
from starform_apps.starbase.billing.closing import MonthlyClose
from starform_apps.starbase.billing.collection import Collection
from starform_apps.starbase.billing.config import BillingConfig
from starform_apps.starbase.billing.ingest import UsageIngestion
from starform_apps.starbase.billing.metrics import BillingMetrics
from starform_apps.starbase.billing.scheduler import JobScheduler
from starform_apps.starbase.billing.webhooks import ProviderWebhooks
from starform_core.billing import DunningPolicy, PriceBook, load_price_book
from starform_core.errors import BillingError, UsageAuditError
from starform_core.ports.billing import InvoiceStore, PaymentProvider, UsageAuditTrail, UsageLedger

__all__ = ["Billing", "Clock", "assemble_billing", "open_billing"]

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The wall clock, in UTC."""
    return dt.datetime.now(dt.UTC)


@attrs.frozen
class Billing:
    """Everything billing: the ports and the use cases the routes, CLI and jobs call."""

    config: BillingConfig
    ledger: UsageLedger
    invoices: InvoiceStore
    audit: UsageAuditTrail
    provider: PaymentProvider | None
    book: PriceBook
    ingestion: UsageIngestion
    close: MonthlyClose
    collection: Collection
    webhooks: ProviderWebhooks
    clock: Clock = utc_now


def assemble_billing(
    *,
    config: BillingConfig,
    ledger: UsageLedger,
    invoices: InvoiceStore,
    audit: UsageAuditTrail,
    provider: PaymentProvider | None,
    registry: CollectorRegistry,
    scheduler: JobScheduler | None = None,
    clock: Clock = utc_now,
    book: PriceBook | None = None,
    dunning: DunningPolicy | None = None,
) -> Billing:
    """Wire the use cases on given ports (tests pass doubles or fault-injecting wrappers)."""
    metrics = BillingMetrics(registry)
    book = book or load_price_book()
    collection = Collection(
        invoices, provider, scheduler, metrics, clock=clock, dunning=dunning or DunningPolicy()
    )
    return Billing(
        config=config,
        ledger=ledger,
        invoices=invoices,
        audit=audit,
        provider=provider,
        book=book,
        ingestion=UsageIngestion(ledger, audit, metrics, clock=clock, accept_window=config.accept_window),
        close=MonthlyClose(
            ledger, invoices, provider, collection, book=book, scheduler=scheduler, clock=clock
        ),
        collection=collection,
        webhooks=ProviderWebhooks(invoices, provider, collection, metrics),
        clock=clock,
    )


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
    registry: CollectorRegistry,
    scheduler: JobScheduler | None = None,
    clock: Clock = utc_now,
) -> Billing:
    """Billing on Starbase's pool: PostgreSQL totals, the configured audit trail and provider."""
    store = PostgresBillingStore(pool)
    return assemble_billing(
        config=config,
        ledger=store,
        invoices=store,
        audit=_audit_trail(pool, config),
        provider=_provider(config),
        registry=registry,
        scheduler=scheduler,
        clock=clock,
    )

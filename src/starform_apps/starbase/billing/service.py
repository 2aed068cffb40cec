"""Billing's use cases on given ports: what the HTTP routes, the CLI and the jobs call.

:class:`BillingRuntime` is what every use case shares besides its ports (the price book, the
clock, the acceptance window, the dunning policy, the metrics); it is made once per process.
The ``*_on`` functions build one use case from its ports and the runtime (the HTTP routes build
theirs per request from the role ports they declare); :func:`assemble_billing` builds all of
them for the CLI, the worker and tests. Nothing here touches an adapter (see
:mod:`~starform_apps.starbase.billing.wiring` for billing on PostgreSQL, ClickHouse and Stripe).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import attrs
from prometheus_client import CollectorRegistry

from starform_apps.starbase.billing.closing import MonthlyClose
from starform_apps.starbase.billing.collection import Collection
from starform_apps.starbase.billing.config import BillingConfig
from starform_apps.starbase.billing.ingest import UsageIngestion
from starform_apps.starbase.billing.metrics import BillingMetrics
from starform_apps.starbase.billing.scheduler import JobScheduler
from starform_apps.starbase.billing.webhooks import ProviderWebhooks
from starform_core.billing import DunningPolicy, PriceBook, load_price_book
from starform_core.ports.billing import InvoiceStore, PaymentProvider, UsageAuditTrail, UsageLedger

__all__ = [
    "Billing",
    "BillingRuntime",
    "Clock",
    "assemble_billing",
    "billing_runtime",
    "collection_on",
    "ingestion_on",
    "utc_now",
    "webhooks_on",
]

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The wall clock, in UTC."""
    return dt.datetime.now(dt.UTC)


@attrs.frozen
class BillingRuntime:
    """What billing's use cases share besides their ports (one per process: the metrics)."""

    metrics: BillingMetrics
    book: PriceBook
    clock: Clock = utc_now
    accept_window: dt.timedelta = dt.timedelta(days=35)
    dunning: DunningPolicy = attrs.field(factory=DunningPolicy)


def billing_runtime(
    registry: CollectorRegistry,
    *,
    config: BillingConfig | None = None,
    clock: Clock = utc_now,
    book: PriceBook | None = None,
    dunning: DunningPolicy | None = None,
) -> BillingRuntime:
    """The runtime with billing's metrics on ``registry`` (the shipped price book by default)."""
    return BillingRuntime(
        metrics=BillingMetrics(registry),
        book=book or load_price_book(),
        clock=clock,
        accept_window=(config or BillingConfig()).accept_window,
        dunning=dunning or DunningPolicy(),
    )


def ingestion_on(ledger: UsageLedger, audit: UsageAuditTrail, runtime: BillingRuntime) -> UsageIngestion:
    """Usage ingestion on its ports."""
    return UsageIngestion(
        ledger, audit, runtime.metrics, clock=runtime.clock, accept_window=runtime.accept_window
    )


def collection_on(
    invoices: InvoiceStore,
    provider: PaymentProvider | None,
    scheduler: JobScheduler | None,
    runtime: BillingRuntime,
) -> Collection:
    """Payment collection and dunning on its ports."""
    return Collection(
        invoices, provider, scheduler, runtime.metrics, clock=runtime.clock, dunning=runtime.dunning
    )


def webhooks_on(
    invoices: InvoiceStore,
    provider: PaymentProvider | None,
    scheduler: JobScheduler | None,
    runtime: BillingRuntime,
) -> ProviderWebhooks:
    """The provider's webhooks on their ports."""
    collection = collection_on(invoices, provider, scheduler, runtime)
    return ProviderWebhooks(invoices, provider, collection, runtime.metrics)


@attrs.frozen
class Billing:
    """Every billing use case on one set of ports (the CLI, the worker, tests)."""

    config: BillingConfig
    runtime: BillingRuntime
    ledger: UsageLedger
    invoices: InvoiceStore
    audit: UsageAuditTrail
    provider: PaymentProvider | None
    scheduler: JobScheduler | None
    ingestion: UsageIngestion
    close: MonthlyClose
    collection: Collection
    webhooks: ProviderWebhooks

    @property
    def book(self) -> PriceBook:
        """The price sheets."""
        return self.runtime.book

    @property
    def clock(self) -> Clock:
        """Billing's clock."""
        return self.runtime.clock


def assemble_billing(
    *,
    config: BillingConfig,
    ledger: UsageLedger,
    invoices: InvoiceStore,
    audit: UsageAuditTrail,
    provider: PaymentProvider | None,
    registry: CollectorRegistry | None = None,
    runtime: BillingRuntime | None = None,
    scheduler: JobScheduler | None = None,
    clock: Clock = utc_now,
    book: PriceBook | None = None,
    dunning: DunningPolicy | None = None,
) -> Billing:
    """Wire the use cases on given ports (tests pass doubles or fault-injecting wrappers).

    Pass ``runtime`` to share one (its metrics) with the HTTP app, else ``registry`` (and the
    clock, price book and dunning policy) to make one.
    """
    if runtime is None:
        if registry is None:
            raise TypeError("assemble_billing needs a runtime or a registry for its metrics")
        runtime = billing_runtime(registry, config=config, clock=clock, book=book, dunning=dunning)
    collection = collection_on(invoices, provider, scheduler, runtime)
    return Billing(
        config=config,
        runtime=runtime,
        ledger=ledger,
        invoices=invoices,
        audit=audit,
        provider=provider,
        scheduler=scheduler,
        ingestion=ingestion_on(ledger, audit, runtime),
        close=MonthlyClose(
            ledger,
            invoices,
            provider,
            collection,
            book=runtime.book,
            scheduler=scheduler,
            clock=runtime.clock,
        ),
        collection=collection,
        webhooks=ProviderWebhooks(invoices, provider, collection, runtime.metrics),
    )

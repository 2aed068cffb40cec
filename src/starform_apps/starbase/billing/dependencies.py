"""FastAPI dependencies of billing's routes: the runtime, and use cases on the role ports.

Each use case is built per request from the role ports its route declares (building one is a
few attribute assignments), so the dependency tree shows exactly which ports a route touches.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from starform_apps.starbase.billing.ingest import UsageIngestion
from starform_apps.starbase.billing.service import BillingRuntime, ingestion_on, webhooks_on
from starform_apps.starbase.billing.webhooks import ProviderWebhooks
from starform_apps.starbase.ports import BillingJobsDep, InvoicesDep, PaymentsDep, UsageAuditDep, UsageDep

__all__ = [
    "BillingRuntimeDep",
    "IngestionDep",
    "WebhooksDep",
    "billing_runtime_of",
    "provider_webhooks",
    "usage_ingestion",
]


def billing_runtime_of(request: Request) -> BillingRuntime:
    """The app's billing runtime (set by ``create_app``)."""
    runtime: BillingRuntime = request.app.state.billing
    return runtime


BillingRuntimeDep = Annotated[BillingRuntime, Depends(billing_runtime_of)]


def usage_ingestion(ledger: UsageDep, audit: UsageAuditDep, runtime: BillingRuntimeDep) -> UsageIngestion:
    """Usage ingestion on the usage and usage-audit roles."""
    return ingestion_on(ledger, audit, runtime)


def provider_webhooks(
    invoices: InvoicesDep, payments: PaymentsDep, jobs: BillingJobsDep, runtime: BillingRuntimeDep
) -> ProviderWebhooks:
    """Webhook handling on the invoices, payments and billing-jobs roles."""
    return webhooks_on(invoices, payments, jobs, runtime)


IngestionDep = Annotated[UsageIngestion, Depends(usage_ingestion)]
WebhooksDep = Annotated[ProviderWebhooks, Depends(provider_webhooks)]

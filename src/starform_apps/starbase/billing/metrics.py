"""Prometheus metrics of billing (on the app's registry)."""

from __future__ import annotations

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["BillingMetrics"]


@attrs.define
class BillingMetrics:
    """Snapshots ingested, samples refused, audit failures, invoices, provider errors, webhooks."""

    registry: CollectorRegistry
    snapshots: Counter = attrs.field(init=False)
    samples_rejected: Counter = attrs.field(init=False)
    ingest_seconds: Histogram = attrs.field(init=False)
    audit_failures: Counter = attrs.field(init=False)
    invoices: Counter = attrs.field(init=False)
    provider_errors: Counter = attrs.field(init=False)
    webhooks: Counter = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        r = self.registry
        self.snapshots = Counter(
            "starbase_billing_snapshots", "Usage snapshots by outcome", ["result"], registry=r
        )
        self.samples_rejected = Counter(
            "starbase_billing_samples_rejected",
            "Samples refused by the tenancy check, by reason",
            ["reason"],
            registry=r,
        )
        self.ingest_seconds = Histogram(
            "starbase_billing_ingest_duration_seconds",
            "Time to apply one snapshot to the running totals",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.audit_failures = Counter(
            "starbase_billing_audit_failures", "Snapshots the audit trail could not record", registry=r
        )
        self.invoices = Counter(
            "starbase_billing_invoice_transitions",
            "Invoice lifecycle moves, by new status",
            ["status"],
            registry=r,
        )
        self.provider_errors = Counter(
            "starbase_billing_provider_errors",
            "Payment provider calls that failed",
            ["action", "retryable"],
            registry=r,
        )
        self.webhooks = Counter(
            "starbase_billing_webhooks", "Provider webhooks by outcome", ["result"], registry=r
        )

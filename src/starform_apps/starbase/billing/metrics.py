"""Prometheus metrics of billing (on the app's registry)."""

from __future__ import annotations

from starform_apps.metric_sets import MetricSet, counter, histogram

__all__ = ["BillingMetrics"]


class BillingMetrics(MetricSet):
    """Snapshots ingested, samples refused, audit failures, invoices, provider errors, webhooks."""

    snapshots = counter("starbase_billing_snapshots", "Usage snapshots by outcome", "result")
    samples_rejected = counter(
        "starbase_billing_samples_rejected", "Samples refused by the tenancy check, by reason", "reason"
    )
    ingest_seconds = histogram(
        "starbase_billing_ingest_duration_seconds",
        "Time to apply one snapshot to the running totals",
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    )
    audit_failures = counter("starbase_billing_audit_failures", "Snapshots the audit trail could not record")
    invoices = counter(
        "starbase_billing_invoice_transitions", "Invoice lifecycle moves, by new status", "status"
    )
    provider_errors = counter(
        "starbase_billing_provider_errors", "Payment provider calls that failed", "action", "retryable"
    )
    webhooks = counter("starbase_billing_webhooks", "Provider webhooks by outcome", "result")

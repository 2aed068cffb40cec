"""The metrics of Shuttle's usage snapshots (billing), part of Shuttle's metrics."""

from __future__ import annotations

from starform_apps.metric_sets import MetricSet, counter, gauge

__all__ = ["UsageMetrics"]


class UsageMetrics(MetricSet):
    """Snapshots queued, sent and failed; pods tracked, claims held; the end of the last window."""

    queued = counter("shuttle_usage_snapshots_queued", "Usage snapshots written to the outbox.")
    sent = counter(
        "shuttle_usage_snapshots_sent",
        "Usage snapshots Starbase took, by result (new, duplicate: it had it already).",
        "result",
    )
    failed = counter(
        "shuttle_usage_snapshots_failed",
        "Usage snapshot sends that failed, by reason (unavailable: kept and sent again; "
        "any other reason: refused for good and dropped).",
        "reason",
    )
    samples_rejected = counter(
        "shuttle_usage_samples_rejected",
        "Pods Starbase did not bill in snapshots it took, by its reason (project_not_on_cluster, ...).",
        "reason",
    )
    pods_tracked = gauge(
        "shuttle_usage_pods_tracked", "Starform pods running now, as the pod watch sees them."
    )
    pods_ignored = counter(
        "shuttle_usage_pod_events_ignored",
        "Pod events of pods without Shuttle's ownership label and a valid tenant key.",
    )
    claims_held = gauge(
        "shuttle_usage_claims_held", "Starform volume claims bound now, as the claim watch sees them."
    )
    claims_ignored = counter(
        "shuttle_usage_claim_events_ignored",
        "Volume claim events of claims without Shuttle's ownership label and a valid tenant key.",
    )
    window_end = gauge(
        "shuttle_usage_window_end_timestamp_seconds",
        "Unix time up to which usage snapshots are written (the end of the last window).",
    )
    unobserved = counter(
        "shuttle_usage_unobserved_seconds",
        "Seconds of cluster time no snapshot covers (Shuttle was away longer than Starbase accepts).",
    )

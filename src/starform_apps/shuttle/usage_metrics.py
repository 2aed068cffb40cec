"""The metrics of Shuttle's usage snapshots (billing), part of Shuttle's metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["UsageMetrics"]


class UsageMetrics:
    """Snapshots queued, sent and failed; pods tracked, claims held; the end of the last window."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.queued = Counter(
            "shuttle_usage_snapshots_queued", "Usage snapshots written to the outbox.", registry=r
        )
        self.sent = Counter(
            "shuttle_usage_snapshots_sent",
            "Usage snapshots Starbase took, by result (new, duplicate: it had it already).",
            ["result"],
            registry=r,
        )
        self.failed = Counter(
            "shuttle_usage_snapshots_failed",
            "Usage snapshot sends that failed, by reason (unavailable: kept and sent again; "
            "any other reason: refused for good and dropped).",
            ["reason"],
            registry=r,
        )
        self.samples_rejected = Counter(
            "shuttle_usage_samples_rejected",
            "Pods Starbase did not bill in snapshots it took, by its reason (project_not_on_cluster, ...).",
            ["reason"],
            registry=r,
        )
        self.pods_tracked = Gauge(
            "shuttle_usage_pods_tracked", "Starform pods running now, as the pod watch sees them.", registry=r
        )
        self.pods_ignored = Counter(
            "shuttle_usage_pod_events_ignored",
            "Pod events of pods without Shuttle's ownership label and a valid tenant key.",
            registry=r,
        )
        self.claims_held = Gauge(
            "shuttle_usage_claims_held",
            "Starform volume claims bound now, as the claim watch sees them.",
            registry=r,
        )
        self.claims_ignored = Counter(
            "shuttle_usage_claim_events_ignored",
            "Volume claim events of claims without Shuttle's ownership label and a valid tenant key.",
            registry=r,
        )
        self.window_end = Gauge(
            "shuttle_usage_window_end_timestamp_seconds",
            "Unix time up to which usage snapshots are written (the end of the last window).",
            registry=r,
        )
        self.unobserved = Counter(
            "shuttle_usage_unobserved_seconds",
            "Seconds of cluster time no snapshot covers (Shuttle was away longer than Starbase accepts).",
            registry=r,
        )

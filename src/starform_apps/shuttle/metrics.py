"""Shuttle's Prometheus metrics, in a registry of their own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ShuttleMetrics"]


class ShuttleMetrics:
    """Every metric Shuttle exposes on ``/metrics``, in its own registry."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.reconcile_seconds = Histogram(
            "shuttle_reconcile_duration_seconds",
            "Time of one reconcile (pull, render, plan, apply, report).",
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.reconciles = Counter("shuttle_reconciles", "Reconciles by result.", ["result"], registry=r)
        self.actions = Counter(
            "shuttle_actions", "Plan actions executed, by kind and result.", ["kind", "result"], registry=r
        )
        self.api_requests = Counter(
            "shuttle_kube_api_requests",
            "Kubernetes API requests by verb and status code.",
            ["verb", "code"],
            registry=r,
        )
        self.api_errors = Counter(
            "shuttle_kube_api_errors", "Kubernetes API requests that failed.", ["verb"], registry=r
        )
        self.watch_restarts = Counter(
            "shuttle_watch_restarts", "Watch streams restarted, by kind.", ["kind"], registry=r
        )
        self.applied_generation = Gauge(
            "shuttle_applied_generation", "Payload generation applied in full.", registry=r
        )
        self.desired_generation = Gauge(
            "shuttle_desired_generation", "Generation of the payload held.", registry=r
        )
        self.drift = Counter(
            "shuttle_drift_detected", "Objects found drifted (reverted or reported).", ["mode"], registry=r
        )
        self.payload_rejected = Counter(
            "shuttle_payload_rejected", "Payloads rejected, by reason.", ["reason"], registry=r
        )
        self.prune_held = Gauge(
            "shuttle_prune_held", "1 while deletions are held by the safety valve.", registry=r
        )
        self.starbase_up = Gauge(
            "shuttle_starbase_reachable", "1 when the last pull reached Starbase.", registry=r
        )
        self.events_pending = Gauge(
            "shuttle_events_pending", "Events not yet delivered to Starbase.", registry=r
        )
        self.last_success = Gauge(
            "shuttle_last_success_timestamp_seconds",
            "Unix time of the last successful reconcile.",
            registry=r,
        )

    def observe_request(self, verb: str, _path: str, status: int) -> None:
        """The Kubernetes adapter's request observer."""
        self.api_requests.labels(verb=verb, code=str(status)).inc()
        if status == 0 or status >= 500 or status == 429:
            self.api_errors.labels(verb=verb).inc()

"""Prometheus metrics of registry calls, in a registry the composition root chooses."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["RegistryMetrics"]


class RegistryMetrics:
    """Calls by operation and outcome, their duration, retries and rate limits."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.calls = Counter(
            "starform_registry_calls",
            "Image registry operations by operation and outcome (ok or the error class).",
            ["operation", "outcome"],
            registry=r,
        )
        self.duration = Histogram(
            "starform_registry_call_duration_seconds",
            "Time of one image registry operation, retries included.",
            ["operation"],
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.retries = Counter(
            "starform_registry_retries",
            "Image registry operations retried after a transient failure, by reason.",
            ["operation", "reason"],
            registry=r,
        )

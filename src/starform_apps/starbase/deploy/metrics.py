"""Prometheus metrics of push to deploy (on the app's or the worker's registry)."""

from __future__ import annotations

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["DeployMetrics"]


@attrs.define
class DeployMetrics:
    """Webhook deliveries by event and outcome, builds by final state, build durations, deploys."""

    registry: CollectorRegistry
    webhooks: Counter = attrs.field(init=False)
    builds: Counter = attrs.field(init=False)
    build_seconds: Histogram = attrs.field(init=False)
    leases_lost: Counter = attrs.field(init=False)
    resolve_failures: Counter = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        r = self.registry
        self.webhooks = Counter(
            "starbase_git_webhooks",
            "GitHub webhook deliveries by event and outcome",
            ["event", "outcome"],
            registry=r,
        )
        self.builds = Counter(
            "starbase_builds_finished", "Builds by the state they ended in", ["state"], registry=r
        )
        self.build_seconds = Histogram(
            "starbase_build_duration_seconds",
            "Builder time of finished builds",
            buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
            registry=r,
        )
        self.leases_lost = Counter(
            "starbase_build_leases_expired", "Builds run again after their worker's lease expired", registry=r
        )
        self.resolve_failures = Counter(
            "starbase_image_resolve_failures",
            "Tags the registry could not resolve, by error",
            ["error"],
            registry=r,
        )

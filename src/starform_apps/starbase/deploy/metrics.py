"""Prometheus metrics of push to deploy (on the app's or the worker's registry)."""

from __future__ import annotations

from starform_apps.metric_sets import MetricSet, counter, histogram

__all__ = ["DeployMetrics"]


class DeployMetrics(MetricSet):
    """Webhook deliveries by event and outcome, builds by final state, build durations, deploys."""

    webhooks = counter(
        "starbase_git_webhooks", "GitHub webhook deliveries by event and outcome", "event", "outcome"
    )
    builds = counter("starbase_builds_finished", "Builds by the state they ended in", "state")
    build_seconds = histogram(
        "starbase_build_duration_seconds",
        "Builder time of finished builds",
        buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
    )
    leases_lost = counter(
        "starbase_build_leases_expired", "Builds run again after their worker's lease expired"
    )
    resolve_failures = counter(
        "starbase_image_resolve_failures", "Tags the registry could not resolve, by error", "error"
    )

"""Shuttle's Prometheus metrics, in a registry of their own (docs/operations/shuttle.md lists them).

Counters expose no ``*_created`` series (disabled process-wide): they only duplicate the start
time and confuse dashboards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, disable_created_metrics

from starform_adapters.kubernetes.api import TRANSPORT_ERROR
from starform_apps.metric_sets import MetricSet, counter, gauge, histogram
from starform_apps.shuttle.usage_metrics import UsageMetrics
from starform_core.errors import AgentStateError

__all__ = ["ShuttleMetrics"]


class ShuttleMetrics(MetricSet):
    """Every metric Shuttle exposes on ``/metrics``."""

    reconcile_seconds = histogram(
        "shuttle_reconcile_duration_seconds",
        "Time of one reconcile (pull, render, plan, apply, report).",
        buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    )
    reconciles = counter(
        "shuttle_reconciles",
        "Reconciles by outcome: applied, held, partial, failed, no-payload, crashed.",
        "outcome",
    )
    actions = counter(
        "shuttle_actions",
        "Executable plan actions by action, Kubernetes kind and result (ok, failed, skipped, cancelled).",
        "action",
        "kind",
        "result",
    )
    held_objects = gauge(
        "shuttle_held_objects", "Objects the last plan held (not applied, not deleted), by reason.", "reason"
    )
    live_objects_invalid = gauge(
        "shuttle_live_objects_invalid",
        "Live objects left out of planning and health because they are malformed, by source "
        "(cluster: the watch cache, health: pods and jobs, target: load-balancer targets).",
        "source",
    )
    api_requests = counter(
        "shuttle_kube_api_requests",
        "Kubernetes API requests by verb, kind and code (HTTP status, or transport-error).",
        "verb",
        "kind",
        "code",
    )
    api_errors = counter(
        "shuttle_kube_api_errors",
        "Kubernetes API requests that got no answer, a 5xx or a 429, by verb and kind.",
        "verb",
        "kind",
    )
    watch_restarts = counter("shuttle_watch_restarts", "Watch streams restarted, by kind.", "kind")

    # generations, drift, the prune valve
    applied_generation = gauge(
        "shuttle_applied_generation", "Generation applied in full (in the applied epoch)."
    )
    applied_epoch = gauge("shuttle_applied_epoch", "Epoch of the generation applied in full.")
    desired_generation = gauge("shuttle_desired_generation", "Generation of the payload held.")
    desired_epoch = gauge("shuttle_desired_epoch", "Epoch of the payload held.")
    drift = counter("shuttle_drift_detected", "Objects found drifted (reverted or reported).", "mode")
    payload_rejected = counter(
        "shuttle_payload_rejected", "Payloads rejected, by reason (invalid, stale, stale-epoch).", "reason"
    )
    prune_held = gauge(
        "shuttle_prune_held", "1 while the prune valve or an unreachable Starbase holds deletions."
    )
    starbase_up = gauge("shuttle_starbase_reachable", "1 when the last pull reached Starbase.")
    last_success = gauge(
        "shuttle_last_success_timestamp_seconds",
        "Unix time of the last reconcile that applied its generation in full.",
    )

    # reports and their outbox
    outbox_depth = gauge("shuttle_outbox_depth", "Reports waiting in the outbox, by kind.", "kind")
    outbox_oldest = gauge(
        "shuttle_outbox_oldest_age_seconds", "Seconds the oldest waiting report has waited."
    )
    outbox_dropped = counter(
        "shuttle_outbox_dropped", "Reports dropped because the outbox was full, by kind.", "kind"
    )
    reports_sent = counter("shuttle_reports_sent", "Reports Starbase took, by kind.", "kind")
    reports_refused = counter(
        "shuttle_reports_refused",
        "Reports Starbase refused for good (409, 422, ...), by kind and reason.",
        "kind",
        "reason",
    )

    # the pull channel
    pull_wakeups = counter(
        "shuttle_pull_wakeups",
        "Answers to the long-poll by what they brought: payload (a new one), rejected (a refused "
        "one), reconcile-request, timeout (nothing changed), unreachable.",
        "reason",
    )
    long_poll = gauge(
        "shuttle_starbase_long_poll",
        "1 while Starbase honours the long-poll (Preference-Applied), 0 while Shuttle polls.",
    )
    reconcile_requests = counter(
        "shuttle_reconcile_requests",
        "Reconcile requests from Starbase by stage: received, served (reported in a status).",
        "stage",
    )

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        super().__init__(registry if registry is not None else CollectorRegistry())
        self.usage = UsageMetrics(self.registry)

    def observe_outbox(self, depth: Callable[[], Mapping[str, int]], oldest: Callable[[], float]) -> None:
        """Read the outbox's depth and oldest age at every scrape."""
        for kind in ("event", "status", "usage"):
            self.outbox_depth.labels(kind=kind).set_function(_readable(_depth_of(depth, kind)))
        self.outbox_oldest.set_function(_readable(oldest))

    def observe_request(self, verb: str, kind: str, code: str) -> None:
        """The Kubernetes adapter's request observer."""
        self.api_requests.labels(verb=verb, kind=kind, code=code).inc()
        if code == TRANSPORT_ERROR or code == "429" or code.startswith("5"):
            self.api_errors.labels(verb=verb, kind=kind).inc()


def _depth_of(depth: Callable[[], Mapping[str, int]], kind: str) -> Callable[[], float]:
    return lambda: float(depth().get(kind, 0))


def _readable(read: Callable[[], float]) -> Callable[[], float]:
    """A scrape-time reading that is NaN, not an error, once the state database is closed."""

    def reading() -> float:
        try:
            return float(read())
        except AgentStateError:
            return math.nan

    return reading

"""Shuttle's Prometheus metrics, in a registry of their own (docs/operations/shuttle.md lists them).

Counters expose no ``*_created`` series (disabled process-wide): they only duplicate the start
time and confuse dashboards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from starform_adapters.kubernetes.api import TRANSPORT_ERROR
from starform_apps.shuttle.usage_metrics import UsageMetrics
from starform_core.errors import AgentStateError

__all__ = ["ShuttleMetrics"]


class ShuttleMetrics:
    """Every metric Shuttle exposes on ``/metrics``."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.reconcile_seconds = Histogram(
            "shuttle_reconcile_duration_seconds",
            "Time of one reconcile (pull, render, plan, apply, report).",
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.reconciles = Counter(
            "shuttle_reconciles",
            "Reconciles by outcome: applied, held, partial, failed, no-payload, crashed.",
            ["outcome"],
            registry=r,
        )
        self.actions = Counter(
            "shuttle_actions",
            "Executable plan actions by action, Kubernetes kind and result (ok, failed, skipped, cancelled).",
            ["action", "kind", "result"],
            registry=r,
        )
        self.held_objects = Gauge(
            "shuttle_held_objects",
            "Objects the last plan held (not applied, not deleted), by reason.",
            ["reason"],
            registry=r,
        )
        self.live_objects_invalid = Gauge(
            "shuttle_live_objects_invalid",
            "Live objects left out of planning and health because they are malformed, by source "
            "(cluster: the watch cache, health: pods and jobs, target: load-balancer targets).",
            ["source"],
            registry=r,
        )
        self.api_requests = Counter(
            "shuttle_kube_api_requests",
            "Kubernetes API requests by verb, kind and code (HTTP status, or transport-error).",
            ["verb", "kind", "code"],
            registry=r,
        )
        self.api_errors = Counter(
            "shuttle_kube_api_errors",
            "Kubernetes API requests that got no answer, a 5xx or a 429, by verb and kind.",
            ["verb", "kind"],
            registry=r,
        )
        self.watch_restarts = Counter(
            "shuttle_watch_restarts", "Watch streams restarted, by kind.", ["kind"], registry=r
        )
        self._generations(r)
        self._reports(r)
        self.usage = UsageMetrics(r)
        self._channel(r)

    def _channel(self, r: CollectorRegistry) -> None:
        self.pull_wakeups = Counter(
            "shuttle_pull_wakeups",
            "Answers to the long-poll by what they brought: payload (a new one), rejected (a refused "
            "one), reconcile-request, timeout (nothing changed), unreachable.",
            ["reason"],
            registry=r,
        )
        self.long_poll = Gauge(
            "shuttle_starbase_long_poll",
            "1 while Starbase honours the long-poll (Preference-Applied), 0 while Shuttle polls.",
            registry=r,
        )
        self.reconcile_requests = Counter(
            "shuttle_reconcile_requests",
            "Reconcile requests from Starbase by stage: received, served (reported in a status).",
            ["stage"],
            registry=r,
        )

    def _generations(self, r: CollectorRegistry) -> None:
        self.applied_generation = Gauge(
            "shuttle_applied_generation", "Generation applied in full (in the applied epoch).", registry=r
        )
        self.applied_epoch = Gauge(
            "shuttle_applied_epoch", "Epoch of the generation applied in full.", registry=r
        )
        self.desired_generation = Gauge(
            "shuttle_desired_generation", "Generation of the payload held.", registry=r
        )
        self.desired_epoch = Gauge("shuttle_desired_epoch", "Epoch of the payload held.", registry=r)
        self.drift = Counter(
            "shuttle_drift_detected", "Objects found drifted (reverted or reported).", ["mode"], registry=r
        )
        self.payload_rejected = Counter(
            "shuttle_payload_rejected",
            "Payloads rejected, by reason (invalid, stale, stale-epoch).",
            ["reason"],
            registry=r,
        )
        self.prune_held = Gauge(
            "shuttle_prune_held",
            "1 while the prune valve or an unreachable Starbase holds deletions.",
            registry=r,
        )
        self.starbase_up = Gauge(
            "shuttle_starbase_reachable", "1 when the last pull reached Starbase.", registry=r
        )
        self.last_success = Gauge(
            "shuttle_last_success_timestamp_seconds",
            "Unix time of the last reconcile that applied its generation in full.",
            registry=r,
        )

    def _reports(self, r: CollectorRegistry) -> None:
        self.outbox_depth = Gauge(
            "shuttle_outbox_depth", "Reports waiting in the outbox, by kind.", ["kind"], registry=r
        )
        self.outbox_oldest = Gauge(
            "shuttle_outbox_oldest_age_seconds", "Seconds the oldest waiting report has waited.", registry=r
        )
        self.outbox_dropped = Counter(
            "shuttle_outbox_dropped",
            "Reports dropped because the outbox was full, by kind.",
            ["kind"],
            registry=r,
        )
        self.reports_sent = Counter(
            "shuttle_reports_sent", "Reports Starbase took, by kind.", ["kind"], registry=r
        )
        self.reports_refused = Counter(
            "shuttle_reports_refused",
            "Reports Starbase refused for good (409, 422, ...), by kind and reason.",
            ["kind", "reason"],
            registry=r,
        )

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

"""Prometheus metrics of one Starbase app (own registry, so several apps can share a process).

Under ``starbase serve --workers N`` every worker writes its metrics into one private directory
(prometheus_client's multiprocess mode) and :func:`render_multiprocess` reports them together:
counters and histograms are summed over every worker that ever ran, and each gauge combines as
it declares (``multiprocess_mode``).
"""

from __future__ import annotations

import pathlib

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from starform_apps.metric_sets import MetricSet, counter, gauge, histogram

__all__ = ["Metrics", "render_multiprocess"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics(MetricSet):
    """Request counts and latency by route template and status, payload builds, 304s, generations."""

    requests = counter("starbase_http_requests", "HTTP requests", "method", "route", "status")
    latency = histogram(
        "starbase_http_request_duration_seconds",
        "HTTP request latency",
        "method",
        "route",
        buckets=_LATENCY_BUCKETS,
    )
    payload_builds = counter("starbase_payload_builds", "Desired-state payloads built from the database")
    payload_build_seconds = histogram(
        "starbase_payload_build_duration_seconds", "Time to query, build and serialise one payload"
    )
    not_modified = counter("starbase_payload_not_modified", "Desired-state requests answered 304")
    generation = gauge(
        "starbase_cluster_generation",
        "Desired-state generation last served per cluster",
        "cluster_id",
        multiprocess_mode="mostrecent",  # the worker that served last; a sum would be wrong
    )
    payload_cache_bytes = gauge(
        "starbase_payload_cache_bytes",
        "Bytes of payload bodies held in the cache",
        multiprocess_mode="livesum",  # every running worker's cache
    )
    payload_cache_evictions = counter(
        "starbase_payload_cache_evictions", "Payload bodies evicted to stay within the cache budget"
    )

    # requests refused or let through
    rate_limited = counter(
        "starbase_rate_limited", "Requests refused with 429 by quota (user, token, agent, deploy)", "quota"
    )
    rate_limit_errors = counter(
        "starbase_rate_limit_backend_errors", "Requests let through because the rate-limit backend failed"
    )
    body_rejected = counter(
        "starbase_request_bodies_rejected",
        "Request bodies refused before reading or parsing, by status (401, 400, 413, 422)",
        "status",
    )
    agent_reports_refused = counter(
        "starbase_agent_reports_refused", "Agent status reports refused (409), by reason", "reason"
    )
    agent_events = counter(
        "starbase_agent_events",
        "Agent events received, by result: stored, or duplicate (re-sent, already stored)",
        "result",
    )
    observed_stale = counter(
        "starbase_observed_stale_objects",
        "Stale objects found when a service's status or objects were read (not reported for"
        " longer than observed_stale_after)",
    )
    adoptions = counter(
        "starbase_adoptions", "Adoption steps, by outcome (recorded, approved, rejected)", "outcome"
    )

    # change notifications and long-polls
    held_polls = gauge(
        "starbase_desired_state_held_polls",
        "Desired-state long-polls being held now",
        multiprocess_mode="livesum",
    )
    poll_wakeups = counter(
        "starbase_desired_state_poll_answers",
        "Held long-polls ended, by why: changed, reconcile, timeout, draining, disconnected",
        "reason",
    )
    listener_connected = gauge(
        "starbase_change_listener_connected",
        "1 while this process LISTENs for cluster changes (caches trusted), 0 otherwise",
        multiprocess_mode="livemin",  # with workers: 1 only while every running worker listens
    )
    listener_disconnects = counter(
        "starbase_change_listener_disconnects", "Times the change listener lost its PostgreSQL connection"
    )
    notifications = counter("starbase_change_notifications", "Cluster change notifications received")
    reconcile_requests = counter(
        "starbase_reconcile_requests", "Reconcile requests, by event: requested, served", "event"
    )

    # the dashboard
    event_streams_open = gauge(
        "starbase_event_streams_open",
        "Live event streams (Server-Sent Events) open now",
        multiprocess_mode="livesum",
    )
    event_streams_refused = counter(
        "starbase_event_streams_refused",
        "Event streams refused, by reason (per_user, total, shutdown)",
        "reason",
    )
    dashboard_refused = counter(
        "starbase_dashboard_calls_refused",
        "Dashboard API calls refused by the bridge, by reason (not_allowed, no_session, origin, csrf)",
        "reason",
    )

    def __init__(
        self, registry: CollectorRegistry | None = None, *, multiprocess_dir: pathlib.Path | None = None
    ) -> None:
        """``multiprocess_dir``: this process is one of several writing their metrics there (a
        worker of ``serve --workers``), and :meth:`render` reports them all."""
        super().__init__(CollectorRegistry(auto_describe=True) if registry is None else registry)
        self.multiprocess_dir = multiprocess_dir

    def render(self) -> bytes:
        """The text exposition format (of every worker, with ``multiprocess_dir``)."""
        if self.multiprocess_dir is not None:
            return render_multiprocess(self.multiprocess_dir)
        return generate_latest(self.registry)


def render_multiprocess(directory: pathlib.Path) -> bytes:
    """The text exposition format of every process that wrote its metrics into ``directory``."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry)

"""Prometheus metrics of one Starbase app (own registry, so several apps can share a process)."""

from __future__ import annotations

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


@attrs.define
class Metrics:
    """Request counts and latency by route template and status, payload builds, 304s, generations."""

    registry: CollectorRegistry = attrs.field(factory=lambda: CollectorRegistry(auto_describe=True))
    requests: Counter = attrs.field(init=False)
    latency: Histogram = attrs.field(init=False)
    payload_builds: Counter = attrs.field(init=False)
    payload_build_seconds: Histogram = attrs.field(init=False)
    not_modified: Counter = attrs.field(init=False)
    generation: Gauge = attrs.field(init=False)
    payload_cache_bytes: Gauge = attrs.field(init=False)
    payload_cache_evictions: Counter = attrs.field(init=False)
    rate_limited: Counter = attrs.field(init=False)
    rate_limit_errors: Counter = attrs.field(init=False)
    body_rejected: Counter = attrs.field(init=False)
    agent_reports_refused: Counter = attrs.field(init=False)
    agent_events: Counter = attrs.field(init=False)
    held_polls: Gauge = attrs.field(init=False)
    poll_wakeups: Counter = attrs.field(init=False)
    listener_connected: Gauge = attrs.field(init=False)
    listener_disconnects: Counter = attrs.field(init=False)
    notifications: Counter = attrs.field(init=False)
    reconcile_requests: Counter = attrs.field(init=False)
    observed_stale: Counter = attrs.field(init=False)
    adoptions: Counter = attrs.field(init=False)
    event_streams_open: Gauge = attrs.field(init=False)
    event_streams_refused: Counter = attrs.field(init=False)
    dashboard_refused: Counter = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "starbase_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "starbase_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.payload_builds = Counter(
            "starbase_payload_builds", "Desired-state payloads built from the database", registry=r
        )
        self.payload_build_seconds = Histogram(
            "starbase_payload_build_duration_seconds",
            "Time to query, build and serialise one payload",
            registry=r,
        )
        self.not_modified = Counter(
            "starbase_payload_not_modified", "Desired-state requests answered 304", registry=r
        )
        self.generation = Gauge(
            "starbase_cluster_generation",
            "Desired-state generation last served per cluster",
            ["cluster_id"],
            registry=r,
        )
        self.payload_cache_bytes = Gauge(
            "starbase_payload_cache_bytes", "Bytes of payload bodies held in the cache", registry=r
        )
        self.payload_cache_evictions = Counter(
            "starbase_payload_cache_evictions",
            "Payload bodies evicted to stay within the cache budget",
            registry=r,
        )

        self.rate_limited = Counter(
            "starbase_rate_limited",
            "Requests refused with 429 by quota (user, token, agent, deploy)",
            ["quota"],
            registry=r,
        )
        self.rate_limit_errors = Counter(
            "starbase_rate_limit_backend_errors",
            "Requests let through because the rate-limit backend failed",
            registry=r,
        )
        self.body_rejected = Counter(
            "starbase_request_bodies_rejected",
            "Request bodies refused before reading or parsing, by status (401, 400, 413, 422)",
            ["status"],
            registry=r,
        )
        self.agent_reports_refused = Counter(
            "starbase_agent_reports_refused",
            "Agent status reports refused (409), by reason",
            ["reason"],
            registry=r,
        )
        self.agent_events = Counter(
            "starbase_agent_events",
            "Agent events received, by result: stored, or duplicate (re-sent, already stored)",
            ["result"],
            registry=r,
        )
        self.observed_stale = Counter(
            "starbase_observed_stale_objects",
            "Stale objects found when a service's status or objects were read (not reported for"
            " longer than observed_stale_after)",
            registry=r,
        )
        self.adoptions = Counter(
            "starbase_adoptions",
            "Adoption steps, by outcome (recorded, approved, rejected)",
            ["outcome"],
            registry=r,
        )

        self._notification_metrics()

    def _notification_metrics(self) -> None:
        r = self.registry
        self.held_polls = Gauge(
            "starbase_desired_state_held_polls", "Desired-state long-polls being held now", registry=r
        )
        self.poll_wakeups = Counter(
            "starbase_desired_state_poll_answers",
            "Held long-polls ended, by why: changed, reconcile, timeout, draining, disconnected",
            ["reason"],
            registry=r,
        )
        self.listener_connected = Gauge(
            "starbase_change_listener_connected",
            "1 while this process LISTENs for cluster changes (caches trusted), 0 otherwise",
            registry=r,
        )
        self.listener_disconnects = Counter(
            "starbase_change_listener_disconnects",
            "Times the change listener lost its PostgreSQL connection",
            registry=r,
        )
        self.notifications = Counter(
            "starbase_change_notifications", "Cluster change notifications received", registry=r
        )
        self.reconcile_requests = Counter(
            "starbase_reconcile_requests",
            "Reconcile requests, by event: requested, served",
            ["event"],
            registry=r,
        )

        self.event_streams_open = Gauge(
            "starbase_event_streams_open", "Live event streams (Server-Sent Events) open now", registry=r
        )
        self.event_streams_refused = Counter(
            "starbase_event_streams_refused",
            "Event streams refused, by reason (per_user, total, shutdown)",
            ["reason"],
            registry=r,
        )

        self.dashboard_refused = Counter(
            "starbase_dashboard_calls_refused",
            "Dashboard API calls refused by the bridge, by reason (not_allowed, no_session, origin, csrf)",
            ["reason"],
            registry=r,
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)

"""Shuttle's composition root.

:func:`bootstrap` builds a :class:`Shuttle` from its ports: the cluster (anything that
implements :class:`WatchedCluster`, such as the Kubernetes adapter or the shipped
:class:`~starform_adapters.testing.FakeCluster`) and Starbase's agent API (the HTTP client, or
:class:`~starform_adapters.starbase.InMemorySource`). :func:`connect` builds the real adapters
from the configuration. Nothing connects at import time; :meth:`Shuttle.start` connects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import attrs
from kubernetes.client import Configuration

from starform_adapters.kubernetes import KubernetesCluster, load_configuration
from starform_adapters.starbase import StarbaseClient
from starform_apps.shuttle.applied import AppliedState
from starform_apps.shuttle.config import ShuttleConfig
from starform_apps.shuttle.held import HeldPayload, PayloadStore
from starform_apps.shuttle.live import LiveScreens
from starform_apps.shuttle.logs import log_reconcile
from starform_apps.shuttle.loop import ShuttleLoop
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.notify import PullChannel
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.plan_reports import PlanReporter
from starform_apps.shuttle.planning import PlanStep
from starform_apps.shuttle.pull import Puller
from starform_apps.shuttle.reconciler import ReconcileParts, Reconciler, ReconcileResult
from starform_apps.shuttle.sender import ReportSender, Sent
from starform_apps.shuttle.server import OpsServer
from starform_apps.shuttle.statedb import StateDB
from starform_apps.shuttle.status import ServiceHealthFn, StatusReporter, service_health
from starform_apps.shuttle.usage import UsageReporter
from starform_core.ports.claims import ClaimWatch
from starform_core.ports.cluster import ClusterPort
from starform_core.ports.pods import PodWatch
from starform_core.ports.source import AgentApi
from starform_core.ports.usage import UsageSink
from starform_core.reporting import Version

__all__ = ["Heartbeat", "Shuttle", "WatchedCluster", "bootstrap", "build_shuttle", "connect"]


class WatchedCluster(ClusterPort, Protocol):
    """The cluster port plus the lifecycle of its watch cache."""

    def start(self, *, sync_timeout: float = 60.0) -> bool:
        """Start watching; True once every kind has been listed within ``sync_timeout``."""
        ...

    def stop(self) -> None:
        """Stop watching and release connections."""
        ...

    @property
    def synced(self) -> bool:
        """True once the cache holds a full listing."""
        ...


class Heartbeat:
    """When the loop last finished a reconcile (liveness)."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._last = monotonic()

    def beat(self, _result: ReconcileResult | None = None) -> None:
        """A reconcile finished (successfully or not: it returned)."""
        self._last = self._monotonic()

    def alive(self, max_age: float) -> bool:
        """True when the last reconcile finished less than ``max_age`` seconds ago."""
        return self._monotonic() - self._last < max_age


@attrs.define
class Shuttle:
    """A running agent: the cluster's watches, the loop, the outbox and the ops server."""

    config: ShuttleConfig
    cluster: WatchedCluster
    reconciler: Reconciler
    loop: ShuttleLoop
    heartbeat: Heartbeat
    db: StateDB
    ops: OpsServer | None = None
    usage: UsageReporter | None = None
    """Usage snapshots for billing (started by :meth:`start` once the watches have listed)."""
    closers: list[Callable[[], None]] = attrs.field(factory=list)
    """Called last by :meth:`stop` (adapters this Shuttle's builder opened)."""
    _thread: threading.Thread | None = None
    _stopped: bool = False

    @property
    def metrics(self) -> ShuttleMetrics:
        """Shuttle's metrics."""
        return self.reconciler.parts.metrics

    @property
    def outbox(self) -> Outbox:
        """The outbox of reports."""
        return self.reconciler.parts.outbox

    @property
    def held(self) -> HeldPayload | None:
        """The payload in force (the last good one)."""
        return self.reconciler.parts.puller.held

    @property
    def applied(self) -> Version | None:
        """The ``(epoch, generation)`` applied in full."""
        return self.reconciler.parts.applied.version

    def healthy(self) -> bool:
        """Liveness: the loop finished a reconcile within three intervals (plus a minute)."""
        return self.heartbeat.alive(3 * self.config.interval + 60)

    def ready(self) -> bool:
        """Readiness: the caches hold a full listing."""
        return self.cluster.synced

    def start(self, *, sync_timeout: float = 60.0) -> None:
        """Connect: start the ops server and the watches."""
        if self.ops is not None:
            self.ops.start()
        if self.cluster.start(sync_timeout=sync_timeout) and self.usage is not None:
            self.usage.start()

    def run_in_thread(self) -> None:
        """Run the loop in a background thread (tests and the demo)."""
        self._thread = threading.Thread(target=self.loop.run, name="shuttle-loop", daemon=True)
        self._thread.start()

    def drain(self, *, budget_seconds: float) -> Sent:
        """Send what the outbox holds, for at most ``budget_seconds`` (what is left stays on disk)."""
        return self.reconciler.parts.sender.drain(budget_seconds=budget_seconds)

    def stop(self, *, grace_seconds: float | None = None) -> Sent:
        """Stop the loop (the reconcile under way starts no further action), flush the outbox
        within the grace period, then stop the watches and the ops server (once; later calls
        do nothing)."""
        if self._stopped:
            return Sent()
        self._stopped = True
        deadline = time.monotonic() + (
            self.config.shutdown_timeout if grace_seconds is None else grace_seconds
        )
        self.loop.stop()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, deadline - time.monotonic()))
        if self.usage is not None:
            self.usage.stop()  # the window under way, up to now, joins the outbox before the drain
        sent = self.drain(budget_seconds=max(0.0, deadline - time.monotonic()))
        self.cluster.stop()
        if self.ops is not None:
            self.ops.stop()
        for close in self.closers:
            close()  # closes the Starbase client too: a long-poll under way ends at once
        if self.loop.channel is not None:
            # a long-poll on a source that cannot be closed ends by itself within its wait; the
            # thread is a daemon and leaves quietly once it sees the stop
            self.loop.channel.join(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        self.db.close()
        return sent


def connect(
    config: ShuttleConfig,
    metrics: ShuttleMetrics,
    *,
    wake: threading.Event,
    kube_configuration: Configuration | None = None,
) -> tuple[KubernetesCluster, StarbaseClient]:
    """The real adapters: the Kubernetes watch cache (waking ``wake`` on changes) and Starbase's client."""
    cluster = KubernetesCluster(
        kube_configuration or load_configuration(kubeconfig=config.kubeconfig),
        qps=config.qps,
        burst=config.burst,
        resync_seconds=config.resync_seconds,
        on_change=lambda _event, _key: wake.set(),
        on_watch_restart=lambda kind: metrics.watch_restarts.labels(kind=kind).inc(),
        observer=metrics.observe_request,
    )
    source = StarbaseClient(config.starbase_url, cluster_id=config.cluster_id, token=config.token)
    return cluster, source


def _parts(
    config: ShuttleConfig,
    db: StateDB,
    cluster: WatchedCluster,
    source: AgentApi,
    metrics: ShuttleMetrics,
    *,
    health: ServiceHealthFn,
    now: Callable[[], datetime],
    monotonic: Callable[[], float],
    usage: UsageSink | None,
) -> ReconcileParts:
    """The parts of a reconcile, one per verb, over one state database."""
    outbox = Outbox(db, capacity=config.outbox_capacity, dropped=metrics.outbox_dropped, now=now)
    metrics.observe_outbox(outbox.depth, outbox.oldest_age)
    store = PayloadStore(db)
    screens = LiveScreens.counted_by(metrics.live_objects_invalid)
    return ReconcileParts(
        cluster=cluster,
        outbox=outbox,
        puller=Puller(source, store, outbox, metrics, now=now),
        planner=PlanStep(cluster, screens=screens, monotonic=monotonic),
        plan_reports=PlanReporter(outbox, metrics, now=now),
        applied=AppliedState(store, outbox, metrics, now=now),
        status=StatusReporter(
            cluster,
            outbox,
            health,
            screens=screens,
            monotonic=monotonic,
            now=now,
        ),
        sender=ReportSender(outbox, source, metrics, usage=usage, monotonic=monotonic),
        metrics=metrics,
    )


def bootstrap(
    config: ShuttleConfig,
    *,
    cluster: WatchedCluster,
    source: AgentApi,
    metrics: ShuttleMetrics | None = None,
    wake: threading.Event | None = None,
    stop: threading.Event | None = None,
    health: ServiceHealthFn = service_health,
    serve_ops: bool = True,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    pods: PodWatch | None = None,
    usage_sink: UsageSink | None = None,
    claims: ClaimWatch | None = None,
) -> Shuttle:
    """Wire a Shuttle from its ports (nothing connects until :meth:`Shuttle.start`).

    ``wake`` is set by the cluster's watches on a change (a reconcile follows at once), and by
    the pull channel (the long-poll, unless ``config.long_poll_wait`` is 0) when Starbase's answer
    brings news; ``stop`` by a signal handler (the reconcile under way starts no further action,
    the loop returns).
    With ``pods`` and ``usage_sink`` (and ``config.usage_interval`` set), Shuttle also sends
    usage snapshots for billing; with ``claims`` too, they carry the bound volume claims.
    """
    metrics = metrics or ShuttleMetrics()
    db = StateDB(config.state_dir)
    parts = _parts(
        config, db, cluster, source, metrics, health=health, now=now, monotonic=monotonic, usage=usage_sink
    )
    stop = stop or threading.Event()
    reconciler = Reconciler(
        parts, workers=config.workers, cancelled=stop.is_set, monotonic=monotonic, now=now
    )
    heartbeat = Heartbeat(monotonic=monotonic)
    wake = wake or threading.Event()
    channel = _pull_channel(config, parts, metrics, wake=wake, stop=stop)
    loop = _loop(config, reconciler, heartbeat, metrics, channel=channel, wake=wake, stop=stop)
    shuttle = Shuttle(
        config=config, cluster=cluster, reconciler=reconciler, loop=loop, heartbeat=heartbeat, db=db
    )
    if pods is not None and usage_sink is not None and config.usage_interval is not None:
        usage_interval = config.usage_interval
        shuttle.usage = _usage_reporter(config, parts, db, metrics, pods, claims, usage_interval, now)
    if serve_ops:
        shuttle.ops = _ops_server(config, metrics, shuttle)
    return shuttle


def _loop(
    config: ShuttleConfig,
    reconciler: Reconciler,
    heartbeat: Heartbeat,
    metrics: ShuttleMetrics,
    *,
    channel: PullChannel | None,
    wake: threading.Event,
    stop: threading.Event,
) -> ShuttleLoop:
    """The reconcile loop: every result beats the heartbeat and is logged, a crash is counted."""

    def on_result(result: ReconcileResult) -> None:
        heartbeat.beat(result)
        log_reconcile(result)

    return ShuttleLoop(
        reconciler,
        interval=config.interval,
        on_result=on_result,
        on_crash=lambda: metrics.reconciles.labels(outcome="crashed").inc(),
        wake=wake,
        stop=stop,
        channel=channel,
    )


def _pull_channel(
    config: ShuttleConfig,
    parts: ReconcileParts,
    metrics: ShuttleMetrics,
    *,
    wake: threading.Event,
    stop: threading.Event,
) -> PullChannel | None:
    """The long-poll channel (``None`` when ``config.long_poll_wait`` is 0: Shuttle polls)."""
    if not config.long_poll_wait:
        return None
    return PullChannel(
        parts.puller, metrics, wait=config.long_poll_wait, interval=config.interval, wake=wake, stop=stop
    )


def _usage_reporter(
    config: ShuttleConfig,
    parts: ReconcileParts,
    db: StateDB,
    metrics: ShuttleMetrics,
    pods: PodWatch,
    claims: ClaimWatch | None,
    interval: float,
    now: Callable[[], datetime],
) -> UsageReporter:
    """The usage snapshots' reporter, writing to the reconcile's outbox every ``interval``."""
    return UsageReporter(
        cluster_id=config.cluster_id,
        pods=pods,
        outbox=parts.outbox,
        db=db,
        metrics=metrics.usage,
        interval=interval,
        now=now,
        claims=claims,
    )


def _ops_server(config: ShuttleConfig, metrics: ShuttleMetrics, shuttle: Shuttle) -> OpsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` of ``shuttle``."""
    return OpsServer(
        registry=metrics.registry,
        healthy=shuttle.healthy,
        ready=shuttle.ready,
        host=config.metrics_host,
        port=config.metrics_port,
    )


def build_shuttle(
    config: ShuttleConfig,
    *,
    kube_configuration: Configuration | None = None,
    source: AgentApi | None = None,
    serve_ops: bool = True,
    stop: threading.Event | None = None,
    wake: threading.Event | None = None,
    usage: bool = True,
) -> Shuttle:
    """:func:`connect` then :func:`bootstrap`: a Shuttle on the real adapters (``source`` replaces
    the Starbase client, e.g. with :class:`~starform_adapters.starbase.InMemorySource`; it then
    takes the usage snapshots too). ``usage=False``: no usage snapshots (``shuttle once``)."""
    metrics = ShuttleMetrics()
    wake = wake or threading.Event()
    cluster, client = connect(config, metrics, wake=wake, kube_configuration=kube_configuration)
    shuttle = bootstrap(
        config,
        cluster=cluster,
        source=source or client,
        metrics=metrics,
        wake=wake,
        stop=stop,
        serve_ops=serve_ops,
        pods=cluster if usage else None,
        claims=cluster if usage else None,
        usage_sink=_usage_sink(source or client),
    )
    shuttle.closers.append(client.close)
    return shuttle


def _usage_sink(source: object) -> UsageSink | None:
    """The source as a usage sink, when it takes usage snapshots (Starbase's client does)."""
    return source if isinstance(source, UsageSink) else None

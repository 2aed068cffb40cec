"""Shuttle's composition root: wires the Kubernetes adapter, the Starbase client and the loop.

Nothing connects at import time; :func:`build_shuttle` builds, :meth:`Shuttle.start` connects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

from kubernetes.client import Configuration

from starform_adapters.kubernetes import KubernetesCluster, load_configuration
from starform_adapters.starbase import StarbaseClient
from starform_apps.shuttle.config import ShuttleConfig
from starform_apps.shuttle.events import EventBuffer
from starform_apps.shuttle.loop import ShuttleLoop
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.reconciler import Reconciler, ReconcileResult
from starform_apps.shuttle.server import OpsServer
from starform_apps.shuttle.state import StateDir
from starform_core.health import assess_services
from starform_core.kube.objects import KubeObject
from starform_core.ports.source import DesiredStateSource

__all__ = ["Shuttle", "build_shuttle", "service_health"]

_log = logging.getLogger("starform.shuttle")


def service_health(objects: Sequence[KubeObject]) -> Mapping[str, tuple[str, str]]:
    """Per-service (health, reason) from live objects, as Starbase stores it (lower case)."""
    return {
        service_id: (str(health.status.value).lower(), health.reason)
        for service_id, health in assess_services(objects).items()
    }


class Shuttle:
    """A running agent: cluster cache, reconciler, loop and ops server."""

    def __init__(
        self,
        *,
        config: ShuttleConfig,
        cluster: KubernetesCluster,
        source: DesiredStateSource,
        metrics: ShuttleMetrics,
        reconciler: Reconciler,
        loop: ShuttleLoop,
        ops: OpsServer | None,
    ) -> None:
        self.config = config
        self.cluster = cluster
        self.source = source
        self.metrics = metrics
        self.reconciler = reconciler
        self.loop = loop
        self.ops = ops
        self._thread: threading.Thread | None = None
        self._last_tick = time.monotonic()

    def _on_result(self, result: ReconcileResult) -> None:
        self._last_tick = time.monotonic()
        summary = result.plan.summary() if result.plan else {}
        _log.info(
            "reconciled generation=%s converged=%s source_ok=%s seconds=%.3f actions=%s",
            result.generation,
            result.converged,
            result.source_ok,
            result.seconds,
            {k: v for k, v in summary.items() if v},
        )

    def healthy(self) -> bool:
        """Liveness: the loop ticked within three intervals."""
        return time.monotonic() - self._last_tick < 3 * self.config.interval + 60

    def ready(self) -> bool:
        """Readiness: the caches hold a full listing."""
        return self.cluster.synced

    def start(self, *, sync_timeout: float = 60.0) -> None:
        """Connect: start the watches and the ops server."""
        if self.ops is not None:
            self.ops.start()
        self.cluster.start(sync_timeout=sync_timeout)

    def run_in_thread(self) -> None:
        """Run the loop in a background thread (tests and the demo)."""
        self._thread = threading.Thread(target=self.loop.run, name="shuttle-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop (finishing the reconcile under way), the watches and the ops server."""
        self.loop.stop()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.cluster.stop()
        if self.ops is not None:
            self.ops.stop()
        close = getattr(self.source, "close", None)
        if callable(close):
            close()


def build_shuttle(
    config: ShuttleConfig,
    *,
    kube_configuration: Configuration | None = None,
    source: DesiredStateSource | None = None,
    serve_ops: bool = True,
) -> Shuttle:
    """Wire a Shuttle from its configuration (nothing connects until :meth:`Shuttle.start`)."""
    metrics = ShuttleMetrics()
    loop_ref: list[ShuttleLoop] = []

    def on_change(_event: str, _key: object) -> None:
        if loop_ref:
            loop_ref[0].trigger()

    cluster = KubernetesCluster(
        kube_configuration or load_configuration(kubeconfig=config.kubeconfig),
        qps=config.qps,
        burst=config.burst,
        resync_seconds=config.resync_seconds,
        on_change=on_change,
        on_watch_restart=lambda kind: metrics.watch_restarts.labels(kind=kind).inc(),
        observer=metrics.observe_request,
    )
    source = source or StarbaseClient(config.starbase_url, cluster_id=config.cluster_id, token=config.token)
    reconciler = Reconciler(
        source=source,
        cluster=cluster,
        state=StateDir(config.state_dir),
        events=EventBuffer(),
        metrics=metrics,
        health=service_health,
        workers=config.workers,
    )
    shuttle_ref: list[Shuttle] = []
    loop = ShuttleLoop(
        reconciler,
        interval=config.interval,
        on_result=lambda result: shuttle_ref[0]._on_result(result) if shuttle_ref else None,
    )
    loop_ref.append(loop)
    ops = None
    if serve_ops:
        ops = OpsServer(
            registry=metrics.registry,
            healthy=lambda: shuttle_ref[0].healthy(),
            ready=lambda: shuttle_ref[0].ready(),
            host=config.metrics_host,
            port=config.metrics_port,
        )
    shuttle = Shuttle(
        config=config,
        cluster=cluster,
        source=source,
        metrics=metrics,
        reconciler=reconciler,
        loop=loop,
        ops=ops,
    )
    shuttle_ref.append(shuttle)
    return shuttle

"""A Shuttle wired by its composition root on the shipped doubles: a FakeCluster and an
InMemorySource (the real state database in a temporary directory)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starform_adapters.starbase import InMemorySource
from starform_adapters.testing import FakeCluster
from starform_apps.shuttle import Shuttle, ShuttleConfig, bootstrap
from starform_apps.shuttle.status import ServiceHealthFn
from starform_core.payload import example_payload

LB_NAMESPACE = "envoy-gateway-system"
LB = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "envoy-starform-gateway", "namespace": LB_NAMESPACE},
    "spec": {"type": "LoadBalancer"},
}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gateway_cluster(**options: Any) -> FakeCluster:
    """A fake cluster holding the gateway's namespace and its load-balancer Service."""
    return FakeCluster(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LB_NAMESPACE}}, LB], **options
    )


def fake_agent(
    state_dir: Path,
    *,
    cluster: FakeCluster | None = None,
    source: InMemorySource | None = None,
    monotonic: Callable[[], float] | None = None,
    health: ServiceHealthFn | None = None,
    **config: Any,
) -> Shuttle:
    """A Shuttle on the doubles (no ops server); call ``loop.run_once()`` to reconcile."""
    settings: dict[str, Any] = {
        "starbase_url": "http://starbase.invalid",
        "cluster_id": example_payload().cluster.cluster_id,
        "token": "not-used-by-the-in-memory-source",
        "state_dir": state_dir,
        "workers": 4,
        **config,
    }
    extra: dict[str, Any] = {} if monotonic is None else {"monotonic": monotonic}
    if health is not None:
        extra["health"] = health
    return bootstrap(
        ShuttleConfig(**settings),
        cluster=cluster if cluster is not None else gateway_cluster(),
        source=source if source is not None else InMemorySource(example_payload()),
        serve_ops=False,
        **extra,
    )

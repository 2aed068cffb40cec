"""Helpers shared by the planner's tests against the in-memory API server."""

from __future__ import annotations

from starform_core.render import Rendering
from starform_testkit.kube_testserver import KubeTestServer


def load_balancer(kube: KubeTestServer, rendering: Rendering) -> None:
    """Create the load balancer Service the size-unit partial annotates (someone else owns it)."""
    (partial,) = rendering.partials
    namespace = partial["metadata"]["namespace"]
    kube.apply_as("platform", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kube.apply_as(
        "platform",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": partial["metadata"]["name"], "namespace": namespace},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 443}]},
        },
    )

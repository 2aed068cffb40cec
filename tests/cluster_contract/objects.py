"""Manifests and small helpers shared by the cluster-port contract."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import attrs

from starform_adapters.kubernetes import KubernetesCluster
from starform_core.kube.labels import LABEL_MANAGED_BY, MANAGED_BY_VALUE
from starform_core.kube.objects import KubeObject

__all__ = ["Recorder", "configmap", "deployment", "managers", "started"]

OWNED = {LABEL_MANAGED_BY: MANAGED_BY_VALUE}


def deployment(
    name: str,
    namespace: str,
    *,
    replicas: int | None = 2,
    env: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Deployment as Shuttle renders one (owned: it carries Shuttle's label)."""
    container: dict[str, Any] = {"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}
    if env is not None:
        container["env"] = env
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app": name, **OWNED}}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def configmap(name: str, namespace: str, *, owned: bool = True, **data: str) -> dict[str, Any]:
    """A ConfigMap (owned by Shuttle unless ``owned=False``)."""
    labels = OWNED if owned else {"team": "someone-else"}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "data": dict(data) or {"value": "1"},
    }


def managers(obj: KubeObject) -> dict[str, tuple[str, str]]:
    """manager -> (operation, subresource) of each managedFields entry."""
    return {
        entry["manager"]: (entry["operation"], entry.get("subresource", ""))
        for entry in obj["metadata"].get("managedFields") or []
    }


@attrs.define
class Recorder:
    """Every request attempt the adapter made, as its observer sees it: (verb, kind, code)."""

    calls: list[tuple[str, str, str]] = attrs.field(factory=list)

    def __call__(self, verb: str, kind: str, code: str) -> None:
        self.calls.append((verb, kind, code))

    def count(self, verb: str, kind: str) -> int:
        """How many ``verb`` requests (``list``, ``watch``, ``get``, ...) were made for ``kind``."""
        return sum(1 for v, k, _ in self.calls if v == verb and k == kind)


@contextlib.contextmanager
def started(cluster: KubernetesCluster) -> Iterator[KubernetesCluster]:
    """Start the cluster's watches (synced), stop them afterwards."""
    assert cluster.start(sync_timeout=30), "the watch caches never synced"
    try:
        yield cluster
    finally:
        cluster.stop()

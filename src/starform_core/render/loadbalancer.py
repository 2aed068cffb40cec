"""The load balancer's size unit: a field-scoped partial on an object Shuttle does not own."""

from __future__ import annotations

from typing import Any

from starform_core.model.cluster import LoadBalancerSettings

__all__ = ["size_unit_partial"]


def size_unit_partial(settings: LoadBalancerSettings) -> dict[str, Any]:
    """Only apiVersion, kind, name, namespace and the one annotation: no ownership labels."""
    target = settings.target
    meta: dict[str, Any] = {"name": target.name}
    if target.namespace is not None:
        meta["namespace"] = target.namespace
    meta["annotations"] = {settings.annotation: str(settings.size_unit)}
    return {"apiVersion": target.api_version, "kind": target.kind, "metadata": meta}

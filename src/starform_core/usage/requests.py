"""A pod's effective resource requests, as the scheduler reserves them (and billing prices them).

Per resource: the larger of what the app containers need together (plus every sidecar) and what
the largest init step needs (an init container plus the sidecars started before it), plus the
pod's ``overhead`` (RuntimeClass). A container without a request for a resource counts its limit
(the API server defaults a missing request to the limit), else nothing. Sidecars are init
containers with ``restartPolicy: Always`` (Kubernetes 1.29+): they keep running beside the app.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from starform_core.quantity import parse_quantity

__all__ = ["PodRequests", "effective_requests"]


@attrs.frozen
class PodRequests:
    """Effective requests: CPU in whole millicores, memory in whole bytes (both rounded up)."""

    cpu_millis: int
    memory_bytes: int

    @property
    def cpu(self) -> str:
        """The CPU request as a Kubernetes quantity (``1250m``)."""
        return f"{self.cpu_millis}m"

    @property
    def memory(self) -> str:
        """The memory request as a Kubernetes quantity in bytes (``536870912``)."""
        return str(self.memory_bytes)


def _amount(container: Mapping[str, Any], resource: str) -> Decimal:
    """A container's request for ``resource`` (its limit when it has no request; 0 when neither)."""
    resources = container.get("resources") or {}
    for section in ("requests", "limits"):
        values = resources.get(section) or {}
        if isinstance(values, Mapping) and values.get(resource) is not None:
            try:
                return max(Decimal(0), parse_quantity(values[resource]))
            except ValueError:
                return Decimal(0)  # the API server never stores such a pod; count nothing
    return Decimal(0)


def _containers(spec: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    items = spec.get(field) or []
    return [c for c in items if isinstance(c, Mapping)] if isinstance(items, list) else []


def _effective(spec: Mapping[str, Any], resource: str) -> Decimal:
    sidecars = Decimal(0)
    init_peak = Decimal(0)
    for init in _containers(spec, "initContainers"):
        if init.get("restartPolicy") == "Always":
            sidecars += _amount(init, resource)
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, sidecars + _amount(init, resource))
    app = sum((_amount(c, resource) for c in _containers(spec, "containers")), Decimal(0)) + sidecars
    overhead = _amount({"resources": {"requests": spec.get("overhead") or {}}}, resource)
    return max(app, init_peak) + overhead


def effective_requests(pod: Mapping[str, Any]) -> PodRequests:
    """The effective CPU and memory requests of a pod object (see the module rule)."""
    spec = pod.get("spec") or {}
    if not isinstance(spec, Mapping):
        return PodRequests(0, 0)
    return PodRequests(
        cpu_millis=math.ceil(_effective(spec, "cpu") * 1000),
        memory_bytes=math.ceil(_effective(spec, "memory")),
    )

"""The HorizontalPodAutoscaler (autoscaling/v2) of an autoscaled, running Deployment."""

from __future__ import annotations

from typing import Any

from starform_core.model.workload import Autoscaling
from starform_core.render.metadata import service_metadata
from starform_core.render.scopes import ServiceScope

__all__ = ["horizontal_pod_autoscaler"]


def _utilization(resource: str, percent: int) -> dict[str, Any]:
    return {
        "resource": {
            "name": resource,
            "target": {"averageUtilization": percent, "type": "Utilization"},
        },
        "type": "Resource",
    }


def _behavior(autoscaling: Autoscaling) -> dict[str, Any]:
    """Scale-down waits out the cooldown; the rest equals the API server's defaults, spelled out."""
    return {
        "scaleDown": {
            "policies": [{"periodSeconds": 15, "type": "Percent", "value": 100}],
            "selectPolicy": "Max",
            "stabilizationWindowSeconds": autoscaling.scale_down_cooldown_seconds,
        },
        "scaleUp": {
            "policies": [
                {"periodSeconds": 15, "type": "Pods", "value": 4},
                {"periodSeconds": 15, "type": "Percent", "value": 100},
            ],
            "selectPolicy": "Max",
            "stabilizationWindowSeconds": 0,
        },
    }


def horizontal_pod_autoscaler(scope: ServiceScope, autoscaling: Autoscaling) -> dict[str, Any]:
    """Scale the service's Deployment on CPU and/or memory utilisation (metrics-server)."""
    metrics = []
    if autoscaling.target_cpu_percent is not None:
        metrics.append(_utilization("cpu", autoscaling.target_cpu_percent))
    if autoscaling.target_memory_percent is not None:
        metrics.append(_utilization("memory", autoscaling.target_memory_percent))
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": service_metadata(scope, scope.names.base),
        "spec": {
            "behavior": _behavior(autoscaling),
            "maxReplicas": autoscaling.max_replicas,
            "metrics": metrics,
            "minReplicas": autoscaling.min_replicas,
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": scope.names.base,
            },
        },
    }

"""How a service is reached: its ClusterIP Service and, for public web services, its HTTPRoute."""

from __future__ import annotations

from typing import Any, Final

from starform_core.model.enums import ServiceType
from starform_core.render.metadata import (
    selector_labels,
    service_metadata,
)
from starform_core.render.naming import route_name
from starform_core.render.pod import container_port_name
from starform_core.render.scopes import ServiceScope

__all__ = ["MAX_ROUTE_HOSTNAMES", "http_route", "is_routed", "kube_service", "needs_service"]

MAX_ROUTE_HOSTNAMES: Final = 16
"""The Gateway API caps an HTTPRoute at 16 hostnames; the first 16 (sorted) are routed."""


def needs_service(scope: ServiceScope) -> bool:
    """Web services always get a Service; workers only when private with a port; cron never."""
    service = scope.service
    if service.type is ServiceType.WEB:
        return True
    return service.type is ServiceType.WORKER and not service.public and service.port is not None


def is_routed(scope: ServiceScope) -> bool:
    """Public web services with at least one hostname get an HTTPRoute.

    A route without hostnames would match every host on the gateway's listener, so a public
    web service without hostnames is not routed.
    """
    service = scope.service
    return service.type is ServiceType.WEB and service.public and bool(service.hostnames)


def kube_service(scope: ServiceScope) -> dict[str, Any]:
    """The ClusterIP Service in front of the service's pods (same port as the container)."""
    service = scope.service
    assert service.port is not None  # only services with a port get one
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": service_metadata(scope, scope.names.base),
        "spec": {
            "ports": [
                {
                    "name": container_port_name(service.type),
                    "port": service.port,
                    "protocol": "TCP",
                    "targetPort": service.port,
                }
            ],
            "selector": selector_labels(service),
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
    }


def http_route(scope: ServiceScope) -> dict[str, Any]:
    """The HTTPRoute (gateway.networking.k8s.io/v1) from the cluster's gateway to the Service."""
    service = scope.service
    gateway = scope.cluster.gateway
    assert service.port is not None  # routed services are web services, which have a port
    parent: dict[str, Any] = {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": gateway.name,
        "namespace": gateway.namespace,
    }
    if gateway.section_name is not None:
        parent["sectionName"] = gateway.section_name
    tenant = service.tenant
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": service_metadata(
            scope, route_name(tenant.project_id, tenant.service_id, tenant.environment)
        ),
        "spec": {
            "hostnames": list(service.hostnames[:MAX_ROUTE_HOSTNAMES]),
            "parentRefs": [parent],
            "rules": [
                {
                    "backendRefs": [
                        {
                            "group": "",
                            "kind": "Service",
                            "name": scope.names.base,
                            "port": service.port,
                            "weight": 1,
                        }
                    ],
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                }
            ],
        },
    }

"""Payloads for a shared real cluster: each test's projects get fresh ids, so its namespaces are
its own, and the load balancer points at the one the session created."""

from __future__ import annotations

import uuid

import attrs
from tests.envtest.actors import Actor
from tests.envtest.raw import RawClient

from starform_core.model.cluster import ObjectRef
from starform_core.payload import DesiredState

__all__ = ["LB_NAME", "LB_NAMESPACE", "install_load_balancer", "relocated"]

LB_NAMESPACE = "envoy-gateway-system"
LB_NAME = "envoy-starform-gateway"


def relocated(document: DesiredState, salt: str) -> DesiredState:
    """``document`` with every project id (hence namespace) derived from ``salt``, and its load
    balancer (if any) aimed at the session's ``LB_NAMESPACE/LB_NAME`` Service."""
    projects = []
    for project in document.projects:
        project_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{salt}/{project.project_id}"))
        services = tuple(
            attrs.evolve(s, tenant=attrs.evolve(s.tenant, project_id=project_id)) for s in project.services
        )
        projects.append(attrs.evolve(project, project_id=project_id, services=services))
    cluster = document.cluster
    if cluster.load_balancer is not None:
        target = ObjectRef(api_version="v1", kind="Service", name=LB_NAME, namespace=LB_NAMESPACE)
        cluster = attrs.evolve(cluster, load_balancer=attrs.evolve(cluster.load_balancer, target=target))
    return attrs.evolve(document, projects=tuple(projects), cluster=cluster)


def install_load_balancer(raw: RawClient) -> None:
    """The gateway's LoadBalancer Service, applied by the gateway as on a real cluster
    (idempotent): the target of the payload's load-balancer partial."""
    gateway = Actor(raw, "envoy-gateway")
    gateway.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LB_NAMESPACE}})
    gateway.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": LB_NAME, "namespace": LB_NAMESPACE},
            "spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443, "targetPort": 10443}]},
        }
    )

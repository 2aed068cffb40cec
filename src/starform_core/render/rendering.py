"""Render a desired-state payload into the Kubernetes objects Shuttle applies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from starform_core.kube.objects import KubeObject
from starform_core.kube.ordering import sort_for_apply
from starform_core.model.cluster import ClusterSettings
from starform_core.model.enums import RunState, ServiceType
from starform_core.model.project import Project
from starform_core.model.workload import DriftPolicy
from starform_core.payload.document import DesiredState
from starform_core.render.autoscaling import horizontal_pod_autoscaler
from starform_core.render.expose import http_route, is_routed, kube_service, needs_service
from starform_core.render.loadbalancer import size_unit_partial
from starform_core.render.metadata import ServiceScope
from starform_core.render.namespace import limit_range, namespace, resource_quota
from starform_core.render.naming import allocate_service_names
from starform_core.render.network import default_deny, environment_policy, gateway_ingress_policy
from starform_core.render.storage import persistent_volume_claim
from starform_core.render.vars import VarConflict, var_conflicts, var_group_secret
from starform_core.render.workloads import cronjob, deployment, service_account

__all__ = ["Rendering", "render"]


@attrs.frozen
class Rendering:
    """What one payload renders to.

    ``objects`` are the owned objects (full desired state) in apply order; ``partials`` are
    field-scoped applies on objects Shuttle does not own (the load balancer's size unit);
    ``warnings`` the var group key conflicts; ``drift_policies`` maps service id to its policy.
    """

    objects: tuple[KubeObject, ...]
    partials: tuple[KubeObject, ...]
    warnings: tuple[VarConflict, ...]
    drift_policies: Mapping[str, DriftPolicy]


def _plain(value: Any) -> Any:
    """A fresh JSON-like copy: dicts and lists only, nothing shared between objects."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _project_objects(cluster: ClusterSettings, project: Project) -> Iterator[dict[str, Any]]:
    yield namespace(cluster, project)
    yield resource_quota(cluster, project)
    yield limit_range(cluster, project)
    yield default_deny(cluster, project)
    for env in project.environments:
        yield environment_policy(cluster, project, env.name)
    for group in project.var_groups:
        yield var_group_secret(cluster, project, group)


def _service_objects(scope: ServiceScope) -> Iterator[dict[str, Any]]:
    service = scope.service
    yield service_account(scope)
    for volume in service.volumes:
        yield persistent_volume_claim(scope, volume)
    release = service.release
    if release is None:
        return
    if service.type is ServiceType.CRON:
        yield cronjob(scope, release)
        return
    yield deployment(scope, release)
    if service.autoscaling is not None and service.state is RunState.ACTIVE:
        yield horizontal_pod_autoscaler(scope, service.autoscaling)
    if needs_service(scope):
        yield kube_service(scope)
    if is_routed(scope):
        yield http_route(scope)
        yield gateway_ingress_policy(scope)


def _objects(payload: DesiredState) -> Iterator[dict[str, Any]]:
    cluster = payload.cluster
    for project in payload.projects:
        yield from _project_objects(cluster, project)
        names = allocate_service_names(
            [
                (s.service_id, s.name, s.environment, tuple(v.name for v in s.volumes))
                for s in project.services
            ]
        )
        for service in project.services:
            scope = ServiceScope(
                cluster=cluster, project=project, service=service, names=names[service.service_id]
            )
            yield from _service_objects(scope)


def render(payload: DesiredState) -> Rendering:
    """Render ``payload``: deterministic, pure, the same objects for the same payload."""
    objects = tuple(_plain(obj) for obj in sort_for_apply(_objects(payload)))
    load_balancer = payload.cluster.load_balancer
    partials = () if load_balancer is None else (_plain(size_unit_partial(load_balancer)),)
    warnings = tuple(
        conflict for project, service in payload.services() for conflict in var_conflicts(project, service)
    )
    drift = {service.service_id: service.drift for _, service in payload.services()}
    return Rendering(
        objects=objects,
        partials=partials,
        warnings=warnings,
        drift_policies=dict(sorted(drift.items())),
    )

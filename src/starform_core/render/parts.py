"""The parts of a rendering: the scopes a payload is made of and the objects each one renders.

:func:`payload_parts` walks a payload in canonical order and yields one :class:`PartSpec` per
scope (a project's namespace-level objects, each var group's Secret, each service's objects);
:func:`render_part` renders one. The full renderer renders every part; the incremental renderer
renders only the parts whose scope changed (``docs/architecture.md``, "Rendering").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeAlias, TypeVar

import attrs

from starform_core.model.enums import RunState, ServiceType
from starform_core.model.project import Project
from starform_core.payload.document import DesiredState
from starform_core.render.apply_order import KeyedObject, rendered_order_key
from starform_core.render.autoscaling import horizontal_pod_autoscaler
from starform_core.render.expose import http_route, is_routed, kube_service, needs_service
from starform_core.render.namespace import limit_range, namespace, resource_quota
from starform_core.render.naming import ServiceNames, allocate_service_names
from starform_core.render.network import default_deny, environment_policy, gateway_ingress_policy
from starform_core.render.scopes import (
    AttachedGroup,
    NamespaceScope,
    ProjectIdentity,
    SecretScope,
    ServiceCluster,
    ServiceScope,
    attachable,
    namespace_scope,
    secret_scope,
    service_cluster,
    service_scope,
)
from starform_core.render.storage import persistent_volume_claim
from starform_core.render.vars import VarConflict, conflicts_among, var_group_secret
from starform_core.render.workloads import cronjob, deployment, service_account

__all__ = [
    "NameInputs",
    "Part",
    "PartId",
    "PartSpec",
    "Scope",
    "Sources",
    "allocate_names",
    "name_inputs",
    "payload_parts",
    "project_parts",
    "render_part",
]

Scope: TypeAlias = NamespaceScope | SecretScope | ServiceScope
"""Anything a part is rendered from."""

PartId: TypeAlias = tuple[str, str]
"""A part's identity in a payload: ``("namespace", project_id)``,
``("secret", "<project_id>/<var_group_id>")`` or ``("service", service_id)``."""

NameInputs: TypeAlias = tuple[tuple[tuple[str, str, str, tuple[str, ...]], ...], tuple[str, ...]]
"""What a project's object names are allocated from: ``(service_id, name, environment, volumes)``
per service, and the project's environments."""

PartSpec: TypeAlias = tuple[PartId, Scope]
"""One part of a payload: its identity and the scope it renders from."""

_T = TypeVar("_T", ProjectIdentity, ServiceCluster, AttachedGroup)


class Sources:
    """Where the walk over a payload gets object names and the pieces scopes share.

    This one allocates names and builds every piece afresh (the full renderer). The incremental
    renderer's reuses the previous render's names when a project's inputs did not change, and
    hands back the previous piece when an equal one comes up, so that comparing a scope with the
    previous one finds its shared pieces identical at once.
    """

    def names(self, project_id: str, inputs: NameInputs) -> dict[str, ServiceNames]:
        """The object names of the services of ``project_id``, allocated from ``inputs``."""
        return allocate_names(inputs)

    def same(self, piece: _T) -> _T:
        """``piece``, or an equal one to use instead."""
        return piece


@attrs.frozen
class Part:
    """What one scope rendered: its objects (keyed by apply order) and its var group warnings."""

    objects: tuple[KeyedObject, ...]
    warnings: tuple[VarConflict, ...] = ()


def _keyed(objects: Iterator[dict[str, Any]]) -> tuple[KeyedObject, ...]:
    return tuple((rendered_order_key(obj), obj) for obj in objects)


def _namespace_objects(scope: NamespaceScope) -> Iterator[dict[str, Any]]:
    yield namespace(scope)
    yield resource_quota(scope)
    yield limit_range(scope)
    yield default_deny(scope)
    for environment in scope.environments:
        yield environment_policy(scope, environment)


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


def render_part(scope: Scope) -> Part:
    """Render one part: a pure function of ``scope`` (fresh objects, shared with nothing)."""
    if isinstance(scope, ServiceScope):
        return Part(
            objects=_keyed(_service_objects(scope)),
            warnings=conflicts_among(scope.service.service_id, scope.groups),
        )
    if isinstance(scope, SecretScope):
        return Part(objects=_keyed(iter((var_group_secret(scope),))))
    return Part(objects=_keyed(_namespace_objects(scope)))


def name_inputs(project: Project) -> NameInputs:
    """What ``project``'s object names are allocated from, in the project's service order."""
    services = tuple(
        (s.service_id, s.name, s.environment, tuple(v.name for v in s.volumes)) for s in project.services
    )
    return services, tuple(env.name for env in project.environments)


def allocate_names(inputs: NameInputs) -> dict[str, ServiceNames]:
    """Allocate the names ``inputs`` describe (:func:`name_inputs`)."""
    services, environments = inputs
    return allocate_service_names(list(services), environments=environments)


def project_parts(
    payload: DesiredState, project: Project, cluster: ServiceCluster, sources: Sources
) -> Iterator[PartSpec]:
    """The parts of one of ``payload``'s projects in canonical order (the namespace part, the
    Secrets by var group id, then the services in the project's order); ``cluster`` is what its
    services read of ``payload.cluster``. They read nothing but ``payload.cluster`` and
    ``project``: equal inputs give equal parts."""
    identity = sources.same(ProjectIdentity.of(project))
    yield ("namespace", project.project_id), namespace_scope(payload.cluster, project, identity)
    for group in project.var_groups:
        yield (
            ("secret", f"{project.project_id}/{group.var_group_id}"),
            secret_scope(payload.cluster, identity, group),
        )
    names = sources.names(project.project_id, name_inputs(project))
    groups = {group_id: sources.same(group) for group_id, group in attachable(project).items()}
    ephemeral = {env.name: env.is_ephemeral for env in project.environments}
    for service in project.services:
        scope = service_scope(
            cluster,
            identity,
            service,
            ephemeral=ephemeral[service.environment],
            names=names[service.service_id],
            groups=groups,
        )
        yield ("service", service.service_id), scope


def payload_parts(payload: DesiredState, sources: Sources) -> Iterator[PartSpec]:
    """Every part of ``payload`` in canonical order (projects by id; in each, the namespace part,
    the Secrets by var group id, then the services in the project's order)."""
    cluster = sources.same(service_cluster(payload.cluster))
    for project in payload.projects:
        yield from project_parts(payload, project, cluster, sources)

"""What each rendered object is a function of: the scopes the object renderers receive.

A rendering is made of *parts*; each part is rendered from one scope and from nothing else:

* :class:`NamespaceScope` (one per project): the Namespace, ResourceQuota, LimitRange and the
  project's NetworkPolicies (default deny, one per environment);
* :class:`SecretScope` (one per var group): the group's Secret;
* :class:`ServiceScope` (one per service): everything the service renders.

A scope holds only what its objects read (the cluster settings, project fields and var group
facts they use, not the whole cluster or project), so two equal scopes render equal objects. That
is the rule the incremental renderer relies on: a part is rendered again exactly when its scope
changed. Renderers must not read anything outside their scope; adding a field to what they read
means adding it to the scope (mypy enforces it: the scopes have no other attributes).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Final

import attrs

from starform_core.kube import labels as kl
from starform_core.model.cluster import ClusterSettings, GatewayRef
from starform_core.model.enums import Tier
from starform_core.model.project import Project
from starform_core.model.service import Service
from starform_core.model.vargroup import VarGroup
from starform_core.render.naming import ServiceNames, namespace_name, var_group_secret_name

__all__ = [
    "OBSERVABILITY_VALUE",
    "AttachedGroup",
    "NamespaceScope",
    "ProjectIdentity",
    "SecretScope",
    "ServiceCluster",
    "ServiceScope",
    "attachable",
    "attached",
    "namespace_scope",
    "secret_scope",
    "service_cluster",
    "service_scope",
]


OBSERVABILITY_VALUE: Final = "true"
"""Value of ``starform.io/observability-enabled`` on every service-scoped object."""


@attrs.frozen
class ProjectIdentity:
    """What project-labelled objects read of their project: its ids and tier."""

    project_id: str
    workspace_id: str
    tier: Tier

    @classmethod
    def of(cls, project: Project) -> ProjectIdentity:
        """The identity of ``project``."""
        return cls(project_id=project.project_id, workspace_id=project.workspace_id, tier=project.tier)

    @functools.cached_property
    def namespace(self) -> str:
        """The project's namespace."""
        return namespace_name(self.project_id)


@attrs.frozen
class NamespaceScope:
    """The input of a project's namespace-level objects (Namespace, quota, limits, policies)."""

    cluster_id: str
    gateway_namespace: str
    metrics_namespace: str | None
    egress_allow: tuple[str, ...]
    project: ProjectIdentity
    environments: tuple[str, ...]


@attrs.frozen
class SecretScope:
    """The input of one var group's Secret."""

    cluster_id: str
    project: ProjectIdentity
    group: VarGroup


@attrs.frozen
class ServiceCluster:
    """What a service's objects read of the cluster: its id, the gateway, the storage class."""

    cluster_id: str
    gateway: GatewayRef
    storage_class: str


@attrs.frozen
class AttachedGroup:
    """What a service's objects read of an attached var group: never its values.

    The checksum changes with any value, so a value change still rolls the service's pods.
    """

    var_group_id: str
    checksum: str
    keys: tuple[str, ...]

    @functools.cached_property
    def secret_name(self) -> str:
        """The name of the group's Secret (computed once: a project's services share the piece)."""
        return var_group_secret_name(self.var_group_id)


@attrs.frozen
class ServiceScope:
    """The input of one service's objects.

    ``ephemeral`` is the service environment's flag; ``groups`` the attached var groups in attach
    order (earliest first); ``names`` the object names allocated in the project's namespace.
    """

    cluster: ServiceCluster
    project: ProjectIdentity
    ephemeral: bool
    service: Service
    names: ServiceNames
    groups: tuple[AttachedGroup, ...]

    @property
    def namespace(self) -> str:
        """The project namespace the service's objects live in."""
        return self.project.namespace

    @functools.cached_property
    def pod_labels(self) -> Mapping[str, str]:
        """Pod template labels, sorted (computed once; the renderers copy them)."""
        service = self.service
        tenant = service.tenant
        kind = service.type.value
        labels = {
            kl.LABEL_WORKSPACE_ID: tenant.workspace_id,
            kl.LABEL_PROJECT_ID: tenant.project_id,
            kl.LABEL_ENVIRONMENT: tenant.environment,
            kl.LABEL_SERVICE_ID: tenant.service_id,
            kl.LABEL_SERVICE_NAME: service.name,
            kl.LABEL_SERVICE_TYPE: kind,
            kl.LABEL_OBSERVABILITY: OBSERVABILITY_VALUE,
            kl.LABEL_MANAGED_BY: kl.MANAGED_BY_VALUE,
            kl.LABEL_NAME: service.name,
            kl.LABEL_INSTANCE: self.names.base,
            kl.LABEL_COMPONENT: kind,
            kl.LABEL_PART_OF: self.namespace,
        }
        return dict(sorted(labels.items()))

    @functools.cached_property
    def labels(self) -> Mapping[str, str]:
        """Labels of the service's objects, sorted: the pod labels plus the tier and, in an
        ephemeral environment, the ephemeral flag."""
        labels = dict(self.pod_labels)
        labels[kl.LABEL_TIER] = self.project.tier.value
        if self.ephemeral:
            labels[kl.LABEL_EPHEMERAL] = "true"
        return dict(sorted(labels.items()))


def namespace_scope(cluster: ClusterSettings, project: Project, identity: ProjectIdentity) -> NamespaceScope:
    """The scope of ``project``'s namespace-level objects (``identity`` is the project's)."""
    return NamespaceScope(
        cluster_id=cluster.cluster_id,
        gateway_namespace=cluster.gateway.namespace,
        metrics_namespace=cluster.metrics_namespace,
        egress_allow=cluster.egress_allow,
        project=identity,
        environments=tuple(env.name for env in project.environments),
    )


def secret_scope(cluster: ClusterSettings, identity: ProjectIdentity, group: VarGroup) -> SecretScope:
    """The scope of ``group``'s Secret in the project ``identity`` names."""
    return SecretScope(cluster_id=cluster.cluster_id, project=identity, group=group)


def service_cluster(cluster: ClusterSettings) -> ServiceCluster:
    """What the services of ``cluster`` read of it."""
    return ServiceCluster(
        cluster_id=cluster.cluster_id, gateway=cluster.gateway, storage_class=cluster.storage_class
    )


def attachable(project: Project) -> dict[str, AttachedGroup]:
    """What services read of each of ``project``'s var groups, by var group id."""
    return {
        group.var_group_id: AttachedGroup(
            var_group_id=group.var_group_id, checksum=group.checksum, keys=group.keys()
        )
        for group in project.var_groups
    }


def attached(groups: Mapping[str, AttachedGroup], service: Service) -> tuple[AttachedGroup, ...]:
    """The groups ``service`` attaches, in attach order, from its project's ``groups`` by id.

    An attachment naming no group of the project is skipped (a valid project has none).
    ``Service.var_groups`` is sorted by attach order (then id) already.
    """
    return tuple(groups[a.var_group_id] for a in service.var_groups if a.var_group_id in groups)


def service_scope(
    cluster: ServiceCluster,
    project: ProjectIdentity,
    service: Service,
    *,
    ephemeral: bool,
    names: ServiceNames,
    groups: Mapping[str, AttachedGroup],
) -> ServiceScope:
    """The scope of ``service`` (``ephemeral``: its environment's flag; ``groups``: its project's
    var groups as :func:`attachable` gives them)."""
    return ServiceScope(
        cluster=cluster,
        project=project,
        ephemeral=ephemeral,
        service=service,
        names=names,
        groups=attached(groups, service),
    )

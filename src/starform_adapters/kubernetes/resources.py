"""The Kubernetes resource types Shuttle reads and writes, and their REST paths."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote, unquote

import attrs

from starform_core.kube.objects import ObjectKey

__all__ = [
    "GATEWAY_API_GROUP_VERSION",
    "HEALTH_TYPES",
    "MANAGED_TYPES",
    "ResourceType",
    "kind_for_path",
    "resource_for",
]


@attrs.frozen
class ResourceType:
    """One REST resource: group, version, kind, plural and whether it lives in a namespace."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    optional: bool = False
    """An optional type belongs to a CRD that may be missing (Gateway API)."""

    @property
    def api_version(self) -> str:
        """``group/version`` (or ``v1`` for the core group)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version_path(self) -> str:
        """``/api/v1`` or ``/apis/<group>/<version>``."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def collection_path(self, namespace: str | None = None) -> str:
        """The collection URL (cluster-wide when ``namespace`` is ``None``)."""
        if self.namespaced and namespace:
            return f"{self.group_version_path}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{self.group_version_path}/{self.plural}"

    def object_path(self, *, name: str, namespace: str | None) -> str:
        """The URL of one object."""
        return f"{self.collection_path(namespace if self.namespaced else None)}/{quote(name, safe='')}"


_CORE = "v1"
MANAGED_TYPES: Final[tuple[ResourceType, ...]] = (
    ResourceType("", _CORE, "Namespace", "namespaces", namespaced=False),
    ResourceType("", _CORE, "ResourceQuota", "resourcequotas"),
    ResourceType("", _CORE, "LimitRange", "limitranges"),
    ResourceType("", _CORE, "ServiceAccount", "serviceaccounts"),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
    ResourceType("", _CORE, "Secret", "secrets"),
    ResourceType("", _CORE, "ConfigMap", "configmaps"),
    ResourceType("", _CORE, "PersistentVolumeClaim", "persistentvolumeclaims"),
    ResourceType("apps", "v1", "Deployment", "deployments"),
    ResourceType("batch", "v1", "CronJob", "cronjobs"),
    ResourceType("", _CORE, "Service", "services"),
    ResourceType("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    ResourceType("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", optional=True),
)
"""Every kind Shuttle renders, applies and may prune (watched with Shuttle's ownership selector)."""

HEALTH_TYPES: Final[tuple[ResourceType, ...]] = (
    ResourceType("", _CORE, "Pod", "pods"),
    ResourceType("batch", "v1", "Job", "jobs"),
)
"""Kinds Shuttle only reads, to assess health (never applied, never pruned)."""

GATEWAY_API_GROUP_VERSION: Final = "/apis/gateway.networking.k8s.io/v1"

_EXTRA: Final[tuple[ResourceType, ...]] = (
    ResourceType("apps", "v1", "ReplicaSet", "replicasets"),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
)
_BY_GROUP_KIND: Final = {(t.group, t.kind): t for t in (*MANAGED_TYPES, *HEALTH_TYPES, *_EXTRA)}


def resource_for(key: ObjectKey) -> ResourceType:
    """The resource type of an object key; raises ``KeyError`` for a kind Shuttle does not know."""
    found = _BY_GROUP_KIND.get((key.group, key.kind))
    if found is None:
        raise KeyError(f"{key.kind}.{key.group or 'core'} is not a kind Shuttle manages")
    if key.version and key.version != found.version:
        return attrs.evolve(found, version=key.version)
    return found


_BY_GROUP_PLURAL: Final = {(t.group, t.plural): t.kind for t in (*MANAGED_TYPES, *HEALTH_TYPES, *_EXTRA)}


def kind_for_path(path: str) -> tuple[str, bool]:
    """The kind a REST path names (its plural when the kind is not one Shuttle knows;
    ``discovery`` for a group-version document) and whether it names one object."""
    segments = [unquote(s) for s in path.strip("/").split("/") if s]
    if segments[:1] == ["api"]:
        group, rest = "", segments[2:]
    elif segments[:1] == ["apis"] and len(segments) >= 3:
        group, rest = segments[1], segments[3:]
    else:
        return "discovery", False
    if not rest:
        return "discovery", False
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    plural, named = rest[0], len(rest) > 1
    return _BY_GROUP_PLURAL.get((group, plural), plural), named

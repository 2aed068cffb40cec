"""Apply order: what must exist before what (deletions run in reverse).

1. Namespaces.
2. Namespace guard rails and identities: ResourceQuota, LimitRange, ServiceAccount, Role,
   RoleBinding, NetworkPolicy (isolation is in place before any pod starts).
3. What workloads read: Secret, ConfigMap, PersistentVolumeClaim.
4. Workloads: Deployment, StatefulSet, CronJob, Job.
5. What points at workloads: Service, HTTPRoute, HorizontalPodAutoscaler, PodDisruptionBudget.
Kinds not listed come last. Within a rank, objects are ordered by identity (API group, kind,
namespace, name, as :class:`~starform_core.kube.objects.ObjectKey` orders them), so the order is
total and deterministic. :func:`apply_order_key` is that order as a plain tuple, computed straight
from an object (no ``ObjectKey`` to build, no attrs comparison to call).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeAlias

from starform_core.kube.objects import KubeObject, ObjectKey

__all__ = [
    "APPLY_RANK",
    "UNKNOWN_RANK",
    "ApplyOrderKey",
    "apply_order_key",
    "apply_rank",
    "delete_order",
    "sort_for_apply",
]

APPLY_RANK: Final[dict[str, int]] = {
    "Namespace": 0,
    "ResourceQuota": 1,
    "LimitRange": 1,
    "ServiceAccount": 1,
    "Role": 1,
    "RoleBinding": 1,
    "NetworkPolicy": 1,
    "Secret": 2,
    "ConfigMap": 2,
    "PersistentVolumeClaim": 2,
    "Deployment": 3,
    "StatefulSet": 3,
    "CronJob": 3,
    "Job": 3,
    "Service": 4,
    "HTTPRoute": 4,
    "HorizontalPodAutoscaler": 4,
    "PodDisruptionBudget": 4,
}
"""Rank of each kind in the apply order (lower first)."""

UNKNOWN_RANK: Final = 5
"""Rank of any kind not in :data:`APPLY_RANK`."""


def apply_rank(key: ObjectKey) -> int:
    """The rank of an object's kind in the apply order."""
    return APPLY_RANK.get(key.kind, UNKNOWN_RANK)


ApplyOrderKey: TypeAlias = tuple[int, str, str, str, str]
"""``(rank, group, kind, namespace, name)``: sorting by it is the apply order."""


def apply_order_key(obj: KubeObject) -> ApplyOrderKey:
    """Where ``obj`` goes in the apply order (the same identity :func:`~starform_core.kube.key_of`
    reads: ``apiVersion``'s group, ``kind``, ``metadata.namespace`` or ``""``, ``metadata.name``)."""
    kind = str(obj.get("kind", ""))
    metadata = obj.get("metadata") or {}
    return (
        APPLY_RANK.get(kind, UNKNOWN_RANK),
        str(obj.get("apiVersion", "")).rpartition("/")[0],
        kind,
        str(metadata.get("namespace") or ""),
        str(metadata.get("name", "")),
    )


def _key_order(key: ObjectKey) -> ApplyOrderKey:
    return (APPLY_RANK.get(key.kind, UNKNOWN_RANK), key.group, key.kind, key.namespace, key.name)


def sort_for_apply(objects: Iterable[KubeObject]) -> list[KubeObject]:
    """Objects in apply order: dependencies first, then by identity (stable for equal keys)."""
    return sorted(objects, key=apply_order_key)


def delete_order(keys: Iterable[ObjectKey]) -> list[ObjectKey]:
    """Keys in deletion order: the reverse of the apply order."""
    return sorted(keys, key=_key_order, reverse=True)

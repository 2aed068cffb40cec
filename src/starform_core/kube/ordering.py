"""Apply order: what must exist before what (deletions run in reverse).

1. Namespaces.
2. Namespace guard rails and identities: ResourceQuota, LimitRange, ServiceAccount, Role,
   RoleBinding, NetworkPolicy (isolation is in place before any pod starts).
3. What workloads read: Secret, ConfigMap, PersistentVolumeClaim.
4. Workloads: Deployment, StatefulSet, CronJob, Job.
5. What points at workloads: Service, HTTPRoute, HorizontalPodAutoscaler, PodDisruptionBudget.
Kinds not listed come last. Within a rank, objects are ordered by identity, so the order is total
and deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from starform_core.kube.objects import KubeObject, ObjectKey, key_of

__all__ = ["APPLY_RANK", "UNKNOWN_RANK", "apply_rank", "delete_order", "sort_for_apply"]

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


def _sort_key(key: ObjectKey) -> tuple[int, ObjectKey]:
    return (apply_rank(key), key)


def sort_for_apply(objects: Iterable[KubeObject]) -> list[KubeObject]:
    """Objects in apply order: dependencies first, then by identity."""
    return sorted(objects, key=lambda obj: _sort_key(key_of(obj)))


def delete_order(keys: Iterable[ObjectKey]) -> list[ObjectKey]:
    """Keys in deletion order: the reverse of the apply order."""
    return sorted(keys, key=_sort_key, reverse=True)

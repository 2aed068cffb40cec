"""Kubernetes vocabulary of the core: object identity, apply order, the label catalog."""

from starform_core.kube.json_patch import removal_patch
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.kube.ordering import apply_rank, delete_order, sort_for_apply

__all__ = [
    "KubeObject",
    "ObjectKey",
    "apply_rank",
    "delete_order",
    "key_of",
    "removal_patch",
    "sort_for_apply",
]

"""Who owns what: Shuttle's ownership label and the field managers of the API server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starform_core.kube.labels import LABEL_MANAGED_BY, MANAGED_BY_VALUE

__all__ = ["CONTROLLER_MANAGERS", "is_owned", "managed_by"]

CONTROLLER_MANAGERS: Final = frozenset(
    {
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-apiserver",
        "cloud-controller-manager",
    }
)
"""Field managers of the cluster's own controllers: what they own is never drift."""


def managed_by(obj: Mapping[str, Any]) -> str | None:
    """The ``app.kubernetes.io/managed-by`` label of an object, if any."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(LABEL_MANAGED_BY)
    return value if isinstance(value, str) else None


def is_owned(obj: Mapping[str, Any]) -> bool:
    """True when Shuttle owns ``obj``: it carries ``app.kubernetes.io/managed-by: shuttle`` and
    no controller owner reference.

    Pods, ReplicaSets and Jobs inherit the label from the templates Shuttle writes, but they
    belong to their controller (Deployment, CronJob): Shuttle never updates or prunes them.
    """
    if managed_by(obj) != MANAGED_BY_VALUE:
        return False
    references = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return not any(reference.get("controller") for reference in references)

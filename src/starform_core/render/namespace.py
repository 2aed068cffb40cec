"""The project namespace and its guard rails: Namespace, ResourceQuota, LimitRange."""

from __future__ import annotations

from typing import Any, Final

from starform_core.kube import labels as kl
from starform_core.render.metadata import metadata, project_labels, source_annotations
from starform_core.render.scopes import NamespaceScope
from starform_core.render.tiers import limits_for

__all__ = ["TIER_OBJECT_NAME", "limit_range", "namespace", "resource_quota"]

TIER_OBJECT_NAME: Final = "starform-tier"
"""Name of the namespace's ResourceQuota and LimitRange."""


def namespace(scope: NamespaceScope) -> dict[str, Any]:
    """The project's Namespace, labelled per §24.4 and enforcing the baseline Pod Security level."""
    name = scope.project.namespace
    labels = project_labels(scope.project)
    labels[kl.LABEL_METADATA_NAME] = name
    labels[kl.LABEL_POD_SECURITY_ENFORCE] = kl.POD_SECURITY_LEVEL
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(
            name=name, namespace=None, labels=labels, annotations=source_annotations(scope.cluster_id)
        ),
    }


def resource_quota(scope: NamespaceScope) -> dict[str, Any]:
    """The tier's ResourceQuota: total requests, pods, claims, storage; no LB or NodePort."""
    tier = limits_for(scope.project.tier)
    hard = {
        "persistentvolumeclaims": str(tier.persistent_volume_claims),
        "pods": str(tier.pods),
        "requests.cpu": tier.requests_cpu,
        "requests.memory": tier.requests_memory,
        "requests.storage": tier.requests_storage,
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": metadata(
            name=TIER_OBJECT_NAME,
            namespace=scope.project.namespace,
            labels=project_labels(scope.project),
            annotations=source_annotations(scope.cluster_id),
        ),
        "spec": {"hard": hard},
    }


def limit_range(scope: NamespaceScope) -> dict[str, Any]:
    """The tier's LimitRange: per-container cap (also the default limit) and per-claim cap.

    ``default`` is spelled out (equal to ``max``) because the API server would fill it in.
    """
    tier = limits_for(scope.project.tier)
    cap = {"cpu": tier.container_max_cpu, "memory": tier.container_max_memory}
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": metadata(
            name=TIER_OBJECT_NAME,
            namespace=scope.project.namespace,
            labels=project_labels(scope.project),
            annotations=source_annotations(scope.cluster_id),
        ),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "max": dict(cap),
                    "default": dict(cap),
                    "defaultRequest": {
                        "cpu": tier.container_default_request_cpu,
                        "memory": tier.container_default_request_memory,
                    },
                },
                {"type": "PersistentVolumeClaim", "max": {"storage": tier.claim_max_storage}},
            ]
        },
    }
